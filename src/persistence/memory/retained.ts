/**
 * Retained messages in memory: a Map by topic, matched against a filter by a scan. The scan is
 * linear in the number of retained topics; the retained index (a trie over stored topics, so a
 * wildcard subscribe visits only matching branches) comes with the protocol and storage issues.
 */

import { filterMatches } from '../../routing/match.js';
import type { RetainedStore } from '../retained.js';

export class MemoryRetainedStore<M> implements RetainedStore<M> {
  private readonly messages = new Map<string, M>();

  get size(): number {
    return this.messages.size;
  }

  get(topic: string): M | undefined {
    return this.messages.get(topic);
  }

  set(topic: string, message: M): void {
    this.messages.set(topic, message);
  }

  delete(topic: string): boolean {
    return this.messages.delete(topic);
  }

  *match(filter: string): Iterable<M> {
    for (const [topic, message] of this.messages) if (filterMatches(filter, topic)) yield message;
  }
}

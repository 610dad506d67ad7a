/**
 * Retained messages in memory, kept in the retained index (retained-index.ts): a trie over the
 * stored topics' levels plus a Map by topic, so `get` and `set` are one lookup and a subscribe
 * visits only the branches its filter can match, instead of scanning every retained topic.
 */

import type { RetainedStore } from '../retained.js';
import { RetainedIndex } from './retained-index.js';

export class MemoryRetainedStore<M> implements RetainedStore<M> {
  private readonly index = new RetainedIndex<M>();

  get size(): number {
    return this.index.size;
  }

  get(topic: string): M | undefined {
    return this.index.get(topic);
  }

  set(topic: string, message: M): void {
    this.index.set(topic, message);
  }

  delete(topic: string): boolean {
    return this.index.delete(topic);
  }

  /** Yielded by a walk of the index; the caller may change the store while it iterates. */
  match(filter: string): Iterable<M> {
    return this.index.match(filter);
  }
}

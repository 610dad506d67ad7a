/**
 * The durable store as the core uses it: group commit, the persistent-session journal, the
 * retained and delayed stores written through to their tables, and the waiting wills; `restore`
 * brings everything back at start. main.ts opens the Storage (it chooses the backend) and hands
 * it here with the in-memory stores to build on.
 */

import type { DelayedStore } from '../persistence/delayed.js';
import {
  JournaledDelayedStore,
  JournaledRetainedStore,
  type MessageCodec,
} from '../persistence/journaled.js';
import type { RetainedStore } from '../persistence/retained.js';
import type { Storage } from '../persistence/storage.js';
import type { Broker } from './broker.js';
import { DurableSessions, loadedMessage, storedMessage } from './durable.js';
import { restoreWills } from './durable-wills.js';
import { GroupCommit, type OutputGate } from './group-commit.js';
import type { Message } from './message.js';

const MESSAGE_CODEC: MessageCodec<Message> = { toStored: storedMessage, fromStored: loadedMessage };

/** What came back from the store at start. */
export interface RestoreSummary {
  sessions: number;
  deliveries: number;
  retained: number;
  delayed: number;
  wills: number;
}

export class Durability {
  readonly groupCommit: GroupCommit;
  readonly sessions: DurableSessions;
  readonly retained: JournaledRetainedStore<Message>;
  readonly delayed: JournaledDelayedStore<Message>;
  private readonly loaded: { retained: number; delayed: number };

  constructor(
    readonly storage: Storage,
    memory: { retained: RetainedStore<Message>; delayed: DelayedStore<Message> },
    gate: OutputGate,
    onError: (error: unknown) => void,
  ) {
    this.groupCommit = new GroupCommit(storage, gate, onError);
    this.sessions = new DurableSessions(storage.sessions);
    this.retained = new JournaledRetainedStore(
      memory.retained,
      storage.table('retained'),
      MESSAGE_CODEC,
      (t) => t.startsWith('$SYS/'),
    );
    this.delayed = new JournaledDelayedStore(memory.delayed, storage.table('delayed'), MESSAGE_CODEC);
    // Loaded now, before the broker counts its retained messages and delayed publish arms its timer.
    this.loaded = { retained: this.retained.load(), delayed: this.delayed.load() };
  }

  /** Brings back the persistent sessions and waiting wills into `broker`, and commits. */
  restore(broker: Broker): RestoreSummary {
    const { sessions, deliveries } = this.sessions.restore(broker, Date.now());
    const wills = restoreWills(broker.wills, this.storage.table('wills'));
    this.storage.commit();
    return { sessions, deliveries, wills, ...this.loaded };
  }

  /** Commits what is open and closes the store (at shutdown, after the connections closed). */
  close(): void {
    this.groupCommit.run();
    this.storage.close();
  }
}

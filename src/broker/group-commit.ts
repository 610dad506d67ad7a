/**
 * Group commit: one durable-store transaction per event-loop turn, and the acknowledgements
 * that wait for it (DESIGN.md, "Durability promise").
 *
 * The store opens a batch on the first write after a commit and tells us (Storage.onBatch); we
 * hold every connection's output (`gate.hold`, src/transport/flush.ts) and commit in a
 * setImmediate, which runs once the event loop has handled every socket that was ready: all the
 * messages, queue entries and session changes of that turn are one transaction, never one per
 * message. Then the gate opens and what the turn wrote to clients leaves.
 *
 * PUBACK, PUBREC and PUBCOMP written while a batch is open do not go to the socket at once: the
 * connection hands them here (`defer`), and they are written after the commit, in order. If
 * the commit failed, what they acknowledged was not kept: a 5.0 client gets PUBACK / PUBREC
 * 0x80 (unspecified error) instead, and a 3.x client (whose acknowledgements carry no reason)
 * is disconnected so it sends the message again (`CommitWaiter.afterCommit`).
 */

import type { Storage } from '../persistence/storage.js';
import type { Packet } from '../protocol/index.js';

/** A connection with acknowledgements waiting for a commit. */
export interface CommitWaiter {
  /** Writes `packet` now that the batch it depends on is settled (`kept`: it was committed). */
  afterCommit(packet: Packet, kept: boolean): void;
}

/** Holds and releases all connection output (src/transport/flush.ts, wired by main.ts). */
export interface OutputGate {
  hold(): void;
  release(): void;
}

export class GroupCommit {
  private waiters: CommitWaiter[] = [];
  private packets: Packet[] = [];
  private scheduled = false;
  /** Batches committed and failed, for statistics. */
  commits = 0;
  failures = 0;

  constructor(
    private readonly storage: Storage,
    private readonly gate: OutputGate,
    private readonly onError: (error: unknown) => void,
  ) {
    storage.onBatch = () => this.opened();
  }

  /** True while a batch is open: acknowledgements must wait (defer). */
  get open(): boolean {
    return this.storage.batchOpen;
  }

  /** Writes `packet` through `waiter` once the open batch is committed. */
  defer(waiter: CommitWaiter, packet: Packet): void {
    this.waiters.push(waiter);
    this.packets.push(packet);
  }

  private opened(): void {
    this.gate.hold();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** Commits now (also used at shutdown). */
  readonly run = (): void => {
    this.scheduled = false;
    let kept = true;
    try {
      this.storage.commit();
      this.commits++;
    } catch (error) {
      kept = false;
      this.failures++;
      this.onError(error);
    }
    const waiters = this.waiters;
    const packets = this.packets;
    this.waiters = [];
    this.packets = [];
    for (let i = 0; i < waiters.length; i++) {
      try {
        waiters[i]!.afterCommit(packets[i]!, kept);
      } catch (error) {
        this.onError(error);
      }
    }
    // An acknowledgement written above may have opened a new batch (it cannot today: sending
    // writes nothing durable); then the gate stays held for that one.
    if (!this.storage.batchOpen) this.gate.release();
  };
}

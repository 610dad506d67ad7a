/**
 * Write coalescing for every transport connection, and the durability gate.
 *
 * A connection's first write in an event-loop turn corks it and puts it on one shared flush
 * list; one process.nextTick per turn flushes every connection on the list, so all the packets a
 * connection got during the turn leave in one system call (writev). A connection that writes
 * nothing costs nothing: no per-connection timer or closure.
 *
 * The gate. While the durable store has a batch open (written, not yet committed), nothing may
 * leave the process: an acknowledgement or a delivery sent before its commit could promise what
 * a crash would then lose. `holdFlushes()` keeps the list corked; `releaseFlushes()`, called
 * right after the commit (src/broker/group-commit.ts, wired in main.ts), flushes it. With no
 * durable store the gate is never held and costs one boolean test per turn.
 */

/** A connection that can push out what it queued while corked. */
export interface Flushable {
  /** Uncorks: hands what was written this turn to the socket. */
  flush(): void;
}

const flushList: Flushable[] = [];
let flushScheduled = false;
let held = false;

function flushAll(): void {
  flushScheduled = false;
  if (held) return; // releaseFlushes() flushes the list
  // Connections added while flushing are handled in this loop too.
  for (let i = 0; i < flushList.length; i++) flushList[i]!.flush();
  flushList.length = 0;
}

/** Puts a connection that just corked on this turn's flush list. */
export function scheduleFlush(connection: Flushable): void {
  flushList.push(connection);
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(flushAll);
  }
}

/** Keeps every connection's output corked until releaseFlushes(). */
export function holdFlushes(): void {
  held = true;
}

/** Flushes what was held. */
export function releaseFlushes(): void {
  held = false;
  flushAll();
}

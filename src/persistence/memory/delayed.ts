/**
 * Delayed messages in memory: a binary min-heap ordered by (dueAt, key), plus a Map from key to
 * entry for `get` and `remove`.
 *
 * The heap is an array in which the entry at index i is no later than its children at 2i+1 and
 * 2i+2, so the earliest entry is always at index 0. Adding sifts the new entry up from the end;
 * taking the earliest moves the last entry to the root and sifts it down; removing an entry in
 * the middle does the same at that entry's index (it may then need to go up or down). Each is
 * O(log n), so 100,000 pending messages cost ~17 comparisons per operation, and the earliest due
 * time (which the core's one timer is set for) is read in O(1). Each entry remembers its index in
 * the array (`pos`), which is what makes removal by key O(log n) instead of a linear search.
 *
 * Keys come from an increasing counter; comparing keys when due times are equal makes the heap
 * stable: messages due in the same millisecond come out in the order they were added.
 *
 * Nothing here survives a restart; the SQLite backend (storage issue) does.
 */

import type { DelayedEntry, DelayedStore } from '../delayed.js';

class HeapEntry<M> implements DelayedEntry<M> {
  constructor(
    readonly key: number,
    readonly dueAt: number,
    readonly message: M,
    /** Index in the heap array; -1 once removed. */
    public pos: number,
  ) {}
}

/** True when a must come out before b. */
function before<M>(a: HeapEntry<M>, b: HeapEntry<M>): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.key < b.key);
}

export class MemoryDelayedStore<M> implements DelayedStore<M> {
  private readonly heap: HeapEntry<M>[] = [];
  private readonly byKey = new Map<number, HeapEntry<M>>();
  private nextKey = 1;

  get size(): number {
    return this.heap.length;
  }

  add(dueAt: number, message: M): DelayedEntry<M> {
    const entry = new HeapEntry(this.nextKey++, dueAt, message, this.heap.length);
    this.heap.push(entry);
    this.byKey.set(entry.key, entry);
    this.siftUp(entry.pos);
    return entry;
  }

  get(key: number): DelayedEntry<M> | undefined {
    return this.byKey.get(key);
  }

  remove(key: number): boolean {
    const entry = this.byKey.get(key);
    if (entry === undefined) return false;
    this.removeAt(entry.pos);
    return true;
  }

  first(): DelayedEntry<M> | undefined {
    return this.heap[0];
  }

  takeDue(now: number): DelayedEntry<M> | undefined {
    const top = this.heap[0];
    if (top === undefined || top.dueAt > now) return undefined;
    this.removeAt(0);
    return top;
  }

  entries(): Iterable<DelayedEntry<M>> {
    return this.byKey.values();
  }

  clear(): void {
    for (const entry of this.heap) entry.pos = -1;
    this.heap.length = 0;
    this.byKey.clear();
  }

  /** Removes the entry at index i, filling the hole with the last entry. */
  private removeAt(i: number): void {
    const heap = this.heap;
    const entry = heap[i]!;
    const last = heap.pop()!;
    this.byKey.delete(entry.key);
    entry.pos = -1;
    if (last === entry) return; // it was the last one
    heap[i] = last;
    last.pos = i;
    // The moved entry may be earlier than the removed one's parent, or later than its children.
    if (i > 0 && before(last, heap[(i - 1) >> 1]!)) this.siftUp(i);
    else this.siftDown(i);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const entry = heap[i]!;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (!before(entry, parent)) break;
      heap[i] = parent;
      parent.pos = i;
      i = parentIndex;
    }
    heap[i] = entry;
    entry.pos = i;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right]!, heap[left]!)) child = right;
      const c = heap[child]!;
      if (!before(c, entry)) break;
      heap[i] = c;
      c.pos = i;
      i = child;
    }
    heap[i] = entry;
    entry.pos = i;
  }
}

/**
 * EMQX's pagination: query `page` (from 1) and `limit` (default 100, at most 10000); the answer
 * is `{ data: [...], meta: { page, limit, count, hasnext } }` (emqx_mgmt_api:paginate).
 *
 * Listing without stalling the broker. A listing walks a live collection (the broker's
 * sessions, a client registry of 100k entries) with its iterator: no copy, no sort. The walk
 * runs in slices of SLICE entries and yields to the event loop between slices (setImmediate),
 * so message routing waits at most one slice (well under a millisecond) however large the
 * collection. Map and Set iterators stay valid while the collection changes between slices:
 * entries deleted meanwhile are skipped, entries added are visited. The order is the
 * collection's insertion order, stable between requests as long as nothing is removed.
 *
 * Answering a large page without stalling it. A page of 10,000 clients is about 7 MB of JSON;
 * formatted and serialized in one step it would hold the event loop for tens of milliseconds.
 * `pageStream` formats and serializes SERIALIZE_SLICE items at a time, yields to the event loop
 * between slices, and streams the text out as it goes (chunked), so neither the formatting nor
 * one big string's copy stalls message routing.
 */

import { Readable } from 'node:stream';
import { badRequest } from './errors.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;
/** Entries examined between two yields to the event loop. */
export const SLICE = 2_000;
/** Items formatted and serialized between two yields (a client object takes a few µs). */
export const SERIALIZE_SLICE = 250;

export interface Page {
  page: number;
  limit: number;
}

export interface Paged<T> {
  data: T[];
  meta: { page: number; limit: number; count: number; hasnext: boolean };
}

/** Reads `page` and `limit` from a query (strings or numbers), 400 on nonsense. */
export function pageOf(query: { page?: unknown; limit?: unknown }): Page {
  const page = intParam(query.page, 'page', 1, 1);
  const limit = intParam(query.limit, 'limit', DEFAULT_LIMIT, 1);
  if (limit > MAX_LIMIT) throw badRequest(`limit must be at most ${MAX_LIMIT}`);
  return { page, limit };
}

function intParam(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw badRequest(`${name} must be an integer >= ${min}`);
  return n;
}

/** Lets the event loop run (I/O, timers) before going on. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Pages through `source`, keeping the items `matches` accepts. Counts every match (so
 * `meta.count` is exact) but keeps only the requested page; the caller formats those.
 */
export async function paginate<S>(
  source: Iterable<S>,
  matches: ((item: S) => boolean) | null,
  { page, limit }: Page,
): Promise<Paged<S>> {
  const skip = (page - 1) * limit;
  const data: S[] = [];
  let count = 0;
  let examined = 0;
  for (const item of source) {
    if (++examined % SLICE === 0) await yieldToLoop();
    if (matches !== null && !matches(item)) continue;
    if (count >= skip && data.length < limit) data.push(item);
    count++;
  }
  return { data, meta: { page, limit, count, hasnext: skip + data.length < count } };
}

/** The same page with its items formatted. */
export function mapPage<S, T>(paged: Paged<S>, format: (item: S) => T): Paged<T> {
  return { data: paged.data.map(format), meta: paged.meta };
}

/** Pages an array already in memory (small collections). */
export function pageArray<T>(items: readonly T[], { page, limit }: Page): Paged<T> {
  const skip = (page - 1) * limit;
  const data = items.slice(skip, skip + limit);
  return { data, meta: { page, limit, count: items.length, hasnext: skip + data.length < items.length } };
}

/**
 * A page as streamed JSON text, `{"data": [...], "meta": {...}}`, each item formatted when its
 * slice is written (send it with `reply.type('application/json').send(stream)`).
 */
export function pageStream<S>(paged: Paged<S>, format: (item: S) => unknown): Readable {
  return Readable.from(pageChunks(paged, format), { objectMode: false });
}

async function* pageChunks<S>(paged: Paged<S>, format: (item: S) => unknown): AsyncGenerator<string> {
  const data = paged.data;
  let chunk = '{"data":[';
  for (let i = 0; i < data.length; i++) {
    if (i > 0) {
      if (i % SERIALIZE_SLICE === 0) {
        yield chunk;
        chunk = '';
        await yieldToLoop();
      }
      chunk += ',';
    }
    chunk += JSON.stringify(format(data[i]!));
  }
  yield `${chunk}],"meta":${JSON.stringify(paged.meta)}}`;
}

/** Small helpers shared by the benchmark's coordinator and workers. */

const MAX_ERRORS_KEPT = 20;

/** Keeps the first errors (and counts all of them) so that a broken run says why, briefly. */
export class ErrorLog {
  private readonly first: string[] = [];
  private count = 0;

  add(message: string): void {
    this.count++;
    if (this.first.length < MAX_ERRORS_KEPT) this.first.push(message);
  }

  list(): string[] {
    const more = this.count - this.first.length;
    return more > 0 ? [...this.first, `... and ${more} more`] : [...this.first];
  }
}

/** A growable Float64Array. */
export class SampleBuffer {
  private data = new Float64Array(1024);
  private length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  toArray(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/** Runs fn over items with at most `limit` running at once; rejects with the first failure. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const runners: Promise<void>[] = [];
  for (let r = 0; r < Math.min(limit, items.length); r++) {
    runners.push(
      (async () => {
        while (next < items.length) await fn(items[next++]!);
      })(),
    );
  }
  await Promise.all(runners);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

/** Percentiles of samples, each multiplied by `scale`. */
export function percentiles(samples: Float64Array, scale = 1): Percentiles {
  const sorted = samples.slice().sort();
  const at = (q: number) => quantile(sorted, q) * scale;
  return {
    count: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    p999: at(0.999),
    max: sorted.length > 0 ? sorted[sorted.length - 1]! * scale : Number.NaN,
  };
}

export function median(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "10s", "500ms", "2m" or a bare number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (m === null) throw new Error(`not a duration: ${text} (examples: 10s, 500ms, 2m)`);
  return Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
}

/** 123456 -> "123.5k", 1234567 -> "1.23M". */
export function si(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(2)}k`;
  return value.toFixed(abs >= 100 ? 0 : 1);
}

export function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-';
}

/** A plain-text table with right-aligned numeric columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * One mailbox per generator worker (thread or process): answers wait here until the coordinator
 * asks for the next one, and a request waits here until its answer arrives.
 */
export class Mailboxes<E> {
  private readonly inbox: E[][];
  private readonly waiting: ((e: E) => void)[][];

  constructor(count: number) {
    this.inbox = Array.from({ length: count }, () => []);
    this.waiting = Array.from({ length: count }, () => []);
  }

  /** Worker i answered `e`. */
  deliver(i: number, e: E): void {
    const w = this.waiting[i]!.shift();
    if (w !== undefined) w(e);
    else this.inbox[i]!.push(e);
  }

  /** Worker i's next answer. */
  next(i: number): Promise<E> {
    const e = this.inbox[i]!.shift();
    if (e !== undefined) return Promise.resolve(e);
    return new Promise((resolve) => this.waiting[i]!.push(resolve));
  }
}

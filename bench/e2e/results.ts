/**
 * The run log: every end-to-end run appends JSON lines to bench/results/e2e.jsonl (tracked in
 * git; the lines of the runs docs/benchmarks.md cites are committed with it). One line per
 * (scenario, broker, round) measurement, then one summary line per scenario, each complete on
 * its own so that `grep`/`jq` need no context:
 *
 *   { "type": "measurement", "run": "<run id>", "time": "<ISO time of the line>",
 *     "scenario": "fanin-qos2", "title": "...", "broker": "aviary", "round": 1,
 *     "measurement": { ...coordinator.ts's Measurement } | null, "error"?: "...",
 *     "loadAverage": 1.2, "machine": {...}, "options": {...}, "command": "npm run bench -- ..." }
 *   { "type": "summary", ..., "brokers": [...], "medians": { "aviary": { "rate": ... }, ... },
 *     "ratios": { "aviary/mosquitto": { "rate": 1.7, ... }, "aviary/aedes": {...} } }
 *
 * `machine` is report.ts's Machine: CPU model, cores, RAM, kernel, Node version, commit and
 * whether the tree (or src/) had uncommitted changes. The run id is the start time plus the
 * process id, the same on every line of one run. NaN and Infinity become null (JSON).
 */

import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrokerName } from './brokers.js';
import type { Machine, Run, Summary } from './report.js';
import type { Scenario } from './scenarios.js';

export interface RunContext {
  run: string;
  machine: Machine;
  options: Record<string, unknown>;
  command: string;
}

/** Aviary's median divided by each other broker's, per figure. */
export function ratios(summary: Summary): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const aviary = summary.aviary;
  if (aviary === undefined) return out;
  for (const [other, figures] of Object.entries(summary) as [BrokerName, Record<string, number>][]) {
    if (other === 'aviary') continue;
    const r: Record<string, number> = {};
    for (const [key, value] of Object.entries(aviary)) {
      const o = figures[key];
      if (o !== undefined && Number.isFinite(value) && Number.isFinite(o) && o !== 0) r[key] = value / o;
    }
    out[`aviary/${other}`] = r;
  }
  return out;
}

export class ResultLog {
  constructor(
    readonly file: string,
    private readonly context: RunContext,
  ) {
    mkdirSync(path.dirname(file), { recursive: true });
  }

  private append(line: Record<string, unknown>): void {
    const { run, machine, options, command } = this.context;
    const record = { ...line, run, time: new Date().toISOString(), machine, options, command };
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }

  measurement(s: Scenario, r: Run): void {
    this.append({
      type: 'measurement',
      scenario: s.name,
      title: s.title,
      // Generator threads actually used (a scenario may fix its own: LoadScenario.workers).
      ...(r.workers === undefined ? {} : { workers: r.workers }),
      broker: r.broker,
      round: r.round,
      measurement: r.measurement,
      ...(r.error === undefined ? {} : { error: r.error }),
      loadAverage: r.loadAverage,
    });
  }

  summary(s: Scenario, brokers: BrokerName[], summary: Summary): void {
    this.append({
      type: 'summary',
      scenario: s.name,
      title: s.title,
      brokers,
      medians: summary,
      ratios: ratios(summary),
    });
  }
}

/**
 * Helpers for the interop tests: MQTT clients written by others, run as child processes against a
 * broker started in-process with startBroker.
 *
 *   - Eclipse Paho for Python (Debian's python3-paho-mqtt), through paho/client.py: one JSON
 *     argument says what to do, and it reports what happened as JSON lines (see that file).
 *   - mosquitto_sub / mosquitto_pub (Debian's mosquitto-clients, libmosquitto). mosquitto_sub runs
 *     with `-d -F %j`: its debug lines tell when the SUBACK arrived ("Subscribed (mid: 1): 1"), and
 *     each message is one JSON line with its topic, QoS and retain flag.
 *
 *   const sub = paho(b.port, { protocol: '5.0', subscribe: [{ filter: 't/#', qos: 2 }], until: 't/end' });
 *   await sub.ready();
 *   ... publish, ending with a message on t/end ...
 *   const got = await sub.exit();   // the messages, once the client has exited normally
 *
 * A tool that is not installed fails the test in before() with "run bash scripts/services.sh";
 * nothing here skips. Every wait is for an event (a line of output, an exit) with a generous
 * timeout that only turns a hang into a clear failure, and every child still running is killed by
 * killChildren() in after().
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { type StartedBroker, type Version, WAIT_MS, within } from '../helpers/broker.js';
import { requireCommand, requirePython } from '../helpers/services.js';
import { brokerForSuite } from '../helpers/suite.js';

/** How long one child process may run: a safety net far above what any test needs. */
export const CHILD_TIMEOUT_S = 20;

const PAHO_HINT = "it installs Debian's python3-paho-mqtt";
const MOSQUITTO_HINT = "it installs Debian's mosquitto-clients";
const PAHO_SCRIPT = fileURLToPath(new URL('./paho/client.py', import.meta.url));

/** The programs the interop tests run; call in before(): throws with the fix if one is missing. */
export interface Tools {
  python: string;
  /** coreutils' stdbuf: mosquitto_sub's stdout is a pipe here, block-buffered unless told. */
  stdbuf: string;
  mosquittoSub: string;
  mosquittoPub: string;
}

let tools: Tools | null = null;

export function requireTools(): Tools {
  tools ??= {
    python: requirePython('paho.mqtt.client', PAHO_HINT),
    stdbuf: requireCommand('stdbuf', "it is in Debian's coreutils"),
    mosquittoSub: requireCommand('mosquitto_sub', MOSQUITTO_HINT),
    mosquittoPub: requireCommand('mosquitto_pub', MOSQUITTO_HINT),
  };
  return tools;
}

function getTools(): Tools {
  if (tools === null) throw new Error('call requireTools() in before() first');
  return tools;
}

// ---- protocol versions ------------------------------------------------------------------------

export type PahoProtocol = '3.1' | '3.1.1' | '5.0';
export type MosquittoProtocol = 'mqttv31' | 'mqttv311' | 'mqttv5';

/** One MQTT version as each client names it. */
export interface Flavour {
  name: '3.1' | '3.1.1' | '5.0';
  mqttjs: Version;
  mosquitto: MosquittoProtocol;
  paho: PahoProtocol;
}

export const V31: Flavour = { name: '3.1', mqttjs: 3, mosquitto: 'mqttv31', paho: '3.1' };
export const V311: Flavour = { name: '3.1.1', mqttjs: 4, mosquitto: 'mqttv311', paho: '3.1.1' };
export const V5: Flavour = { name: '5.0', mqttjs: 5, mosquitto: 'mqttv5', paho: '5.0' };

/** The versions the issue asks paho to be tested with. */
export const PAHO_FLAVOURS: readonly Flavour[] = [V311, V5];
/** Every version mosquitto_pub / mosquitto_sub speak. */
export const MOSQUITTO_FLAVOURS: readonly Flavour[] = [V31, V311, V5];

/** The statement id for this version: the two specifications number some rules differently. */
export function spec(f: Flavour, v3: string, v5: string): string {
  return f.mqttjs === 5 ? v5 : v3;
}

// ---- child processes --------------------------------------------------------------------------

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children = new Set<Child>();

/** Kills (SIGKILL) every child process still running; for after(). */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/**
 * The broker an interop `describe` block shares (over `config`): the tools are required before it
 * starts, and every child is killed, then every client closed, before it closes.
 */
export function interopBroker(config: AviaryConfigInput = {}): StartedBroker {
  before(requireTools);
  after(killChildren);
  return brokerForSuite(config, { closeClientsAfterEach: false });
}

/** A child process whose stdout is read line by line; its waits wake on each line and on exit. */
export class Child {
  readonly lines: string[] = [];
  readonly done: Promise<Finished>;
  private readonly process: ChildProcess;
  private stderr = '';
  private partial = '';
  private finished: Finished | null = null;
  private waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    stdin: string | 'keep-open' = '',
  ) {
    this.process = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(this);
    this.process.stdout!.on('data', (d: Buffer) => {
      const text = this.partial + d.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    });
    this.process.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString('utf8');
    });
    this.process.stdin!.on('error', () => {}); // the child may exit before reading it all
    if (stdin !== 'keep-open') this.process.stdin!.end(stdin);
    this.done = new Promise<Finished>((resolve, reject) => {
      this.process.once('error', reject);
      this.process.once('close', (code, signal) => {
        if (this.partial !== '') this.lines.push(this.partial);
        this.partial = '';
        this.finished = { code, signal };
        children.delete(this);
        this.wake();
        resolve(this.finished);
      });
    });
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /** What it printed so far, for failure messages. */
  describe(): string {
    const status = this.finished ? `exited with ${this.finished.code ?? this.finished.signal}` : 'running';
    return `${this.name} (${status}); stdout: ${JSON.stringify(this.lines.join('\n') + this.partial)}; stderr: ${JSON.stringify(this.stderr)}`;
  }

  /**
   * Waits until `find` returns something other than undefined (it is asked again after each line
   * and at exit); rejects if the process exits first, or after `ms`.
   */
  async waitFor<T>(find: () => T | undefined, what: string, ms = WAIT_MS): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (this.finished) throw new Error(`${what}: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}: ${this.describe()}`);
      let wake: () => void = () => {};
      await within(
        new Promise<void>((resolve) => {
          wake = resolve;
          this.waiters.add(resolve);
        }),
        left,
        what,
      ).catch(() => this.waiters.delete(wake));
    }
  }

  /** Waits for the process to exit with code 0 (rejects on another code, a signal or a timeout). */
  async succeeded(ms = WAIT_MS * 2): Promise<void> {
    const r = await within(this.done, ms, `${this.name} to exit: ${this.describe()}`);
    if (r.code !== 0) throw new Error(`expected exit code 0: ${this.describe()}`);
  }

  write(text: string): void {
    this.process.stdin!.write(text);
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.finished) this.process.kill(signal);
  }
}

// ---- paho ---------------------------------------------------------------------------------------

export interface PahoMessage {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
}

export interface PahoPublication {
  topic: string;
  payload?: string;
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

/** What paho/client.py is asked to do (host and port are added by paho()). */
export interface PahoOptions {
  protocol: PahoProtocol;
  id?: string;
  /** 3.1/3.1.1: Clean Session; 5.0: Clean Start. Default true. */
  clean?: boolean;
  /** 5.0 Session Expiry Interval, seconds. */
  sessionExpiry?: number;
  will?: PahoPublication;
  subscribe?: Array<{ filter: string; qos: 0 | 1 | 2 }>;
  publish?: PahoPublication[];
  count?: number;
  until?: string;
  stay?: boolean;
}

interface PahoEvent {
  event: string;
  [field: string]: unknown;
}

/** A running paho client (test/interop/paho/client.py). */
export class Paho extends Child {
  /** Its JSON lines, parsed. */
  get events(): PahoEvent[] {
    return this.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as PahoEvent);
  }

  get messages(): PahoMessage[] {
    return this.events.filter((e) => e.event === 'message') as unknown as PahoMessage[];
  }

  /** The first event named `name`; rejects if the client reports an error or exits first. */
  event(name: string, ms = WAIT_MS): Promise<PahoEvent> {
    return this.waitFor(
      () => {
        const events = this.events;
        const error = events.find((e) => e.event === 'error');
        if (error) throw new Error(`paho reported an error waiting for '${name}': ${this.describe()}`);
        return events.find((e) => e.event === name);
      },
      `paho's '${name}'`,
      ms,
    );
  }

  /** The CONNACK's Session Present flag. */
  async sessionPresent(): Promise<boolean> {
    return (await this.event('connack'))['sessionPresent'] === true;
  }

  /** The reason codes (granted QoS) of each SUBACK, in order; waits for 'ready'. */
  async granted(): Promise<number[][]> {
    await this.ready();
    return this.events.filter((e) => e.event === 'suback').map((e) => e['codes'] as number[]);
  }

  /** Resolves once the client has subscribed and published what it was asked to. */
  async ready(): Promise<void> {
    await this.event('ready');
  }

  /** Asks a `stay` client for a normal DISCONNECT. */
  disconnect(): void {
    this.write('disconnect\n');
  }

  /** Waits for a normal exit; returns the messages received. */
  async exit(ms = WAIT_MS * 2): Promise<PahoMessage[]> {
    await this.succeeded(ms);
    return this.messages;
  }
}

/** Starts paho/client.py against 127.0.0.1:`port`. */
export function paho(port: number, options: PahoOptions): Paho {
  const t = getTools();
  const args = JSON.stringify({ host: '127.0.0.1', port, timeout: CHILD_TIMEOUT_S, ...options });
  return new Paho(`paho ${options.protocol} ${options.id ?? ''}`, t.python, [PAHO_SCRIPT, args], 'keep-open');
}

// ---- mosquitto ----------------------------------------------------------------------------------

export interface MosquittoMessage {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

/** A running mosquitto_sub, started with `-d -F %j`. */
export class MosquittoSub extends Child {
  get messages(): MosquittoMessage[] {
    return this.lines
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        const j = JSON.parse(l) as { topic: string; payload: string; qos: number; retain: number };
        return { topic: j.topic, payload: j.payload, qos: j.qos, retain: j.retain === 1 };
      });
  }

  /** The reason codes of its SUBACK ("Subscribed (mid: 1): 1, 2" with -d). */
  subscribed(ms = WAIT_MS): Promise<number[]> {
    return this.waitFor(
      () => {
        for (const line of this.lines) {
          const m = /^Subscribed \(mid: \d+\): ([\d, ]+)$/.exec(line);
          if (m) return m[1]!.split(',').map((c) => Number(c.trim()));
        }
        return undefined;
      },
      `${this.name}'s SUBACK`,
      ms,
    );
  }

  /** Waits until it has received a message on `topic`; returns every message up to it. */
  until(topic: string, ms = WAIT_MS): Promise<MosquittoMessage[]> {
    return this.waitFor(
      () => {
        const messages = this.messages;
        const i = messages.findIndex((m) => m.topic === topic);
        return i < 0 ? undefined : messages.slice(0, i + 1);
      },
      `${this.name} to receive a message on ${topic}`,
      ms,
    );
  }

  /** Waits until it has received `n` messages. */
  count(n: number, ms = WAIT_MS): Promise<MosquittoMessage[]> {
    return this.waitFor(
      () => (this.messages.length >= n ? this.messages : undefined),
      `${this.name} to receive ${n} messages`,
      ms,
    );
  }
}

/**
 * Starts `mosquitto_sub -d -F %j -V <version> -W 20 ... <args>` against 127.0.0.1:`port`, its
 * stdout line-buffered (stdbuf -oL).
 */
export function mosquittoSub(
  port: number,
  version: MosquittoProtocol,
  args: readonly string[],
): MosquittoSub {
  const t = getTools();
  return new MosquittoSub(`mosquitto_sub -V ${version}`, t.stdbuf, [
    '-oL', // line-buffered stdout: each line reaches us when printed
    t.mosquittoSub,
    ...['-h', '127.0.0.1', '-p', String(port), '-V', version, '-d', '-F', '%j'],
    ...['-W', String(CHILD_TIMEOUT_S)],
    ...args,
  ]);
}

/**
 * Runs `mosquitto_pub -V <version> ... <args>` to the end (each message's QoS flow complete);
 * `lines` is its stdin, for `-l` (one message a line).
 */
export async function mosquittoPub(
  port: number,
  version: MosquittoProtocol,
  args: readonly string[],
  lines = '',
): Promise<void> {
  const t = getTools();
  const pub = new Child(
    `mosquitto_pub -V ${version}`,
    t.mosquittoPub,
    ['-h', '127.0.0.1', '-p', String(port), '-V', version, ...args],
    lines,
  );
  await pub.succeeded();
}

/**
 * One generator process of the idle scenario (forked by idle.ts with an IPC channel; a process
 * rather than a thread because the open-file limit, 20,000 here, is per process).
 *
 * setup   open this process's share of the N connections (CONNECT with Keep Alive
 *         `keepaliveSeconds`, CONNACK, nothing else), from several 127.0.0.x source addresses
 *         (a source address has ~28k ephemeral ports), at most `concurrency` handshakes at a
 *         time; then keep every connection alive: connection k of `count` sends a PINGREQ at
 *         offset k/count of each keep-alive period, counted from the first connect attempt, so
 *         the process's PINGREQs are spread evenly over the period (a connection not yet
 *         connected at its first slot is fresh anyway). The broker closes a connection that is
 *         silent for 1.5 keep-alive periods [MQTT-3.1.2-24]: that shows up as an error.
 * stop    stop sending PINGREQs and wait for the PINGRESPs still due; a missing one is an error.
 * report  connections, connect times, PINGREQs sent and PINGRESPs received.
 * close   DISCONNECT every connection, then exit.
 */

import { Client, type ClientHandler, nowMicros } from './client.js';
import type { IdlePlan, IdleReport } from './shared.js';
import { ErrorLog, mapLimit, sleep } from './util.js';

/** Coordinator -> process. */
export type IdleCommand =
  | { cmd: 'setup'; plan: IdlePlan }
  | { cmd: 'stop' }
  | { cmd: 'report' }
  | { cmd: 'close' };
/** Process -> coordinator. */
export type IdleEvent =
  | { ev: 'ready' }
  | { ev: 'done' }
  | { ev: 'report'; report: IdleReport }
  | { ev: 'error'; message: string };

const TICK_MS = 20;
const MS_PER_S = 1000;
/** How long `stop` waits for outstanding PINGRESPs. */
const PONG_GRACE_MS = 5000;
const POLL_MS = 20;
const CLOSE_CONCURRENCY = 400;

class IdleProcess {
  private clients: (Client | undefined)[] = [];
  private readonly errors = new ErrorLog();
  private firstStart = 0;
  private lastConnack = 0;
  private connected = 0;
  private pings = 0;
  private pongs = 0;
  private maxRtt = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Keep-alive schedule: the next connection to ping, and in which period. */
  private nextK = 0;
  private round = 0;
  private startMs = 0;

  constructor(private readonly plan: IdlePlan) {}

  async setup(): Promise<void> {
    const { plan } = this;
    const handler: ClientHandler = {
      onPublish: (client) => this.errors.add(`${client.clientId}: unexpected PUBLISH`),
      onAck: (client, packet) => this.errors.add(`${client.clientId}: unexpected ack type ${packet.type}`),
      onChunkEnd: () => {},
      onError: (_client, error) => this.errors.add(error.message),
    };
    this.clients = new Array<Client | undefined>(plan.count);
    const locals = Array.from({ length: plan.count }, (_, k) => k);
    this.firstStart = nowMicros();
    this.startMs = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    await mapLimit(locals, plan.concurrency, async (k) => {
      const i = plan.first + k;
      try {
        const client = await Client.connect({
          host: plan.host,
          port: plan.port,
          version: plan.version,
          localAddress: plan.sourceAddresses[k % plan.sourceAddresses.length]!,
          clientId: `i${i}`,
          handler,
          keepaliveSeconds: plan.keepaliveSeconds,
        });
        this.lastConnack = Math.max(this.lastConnack, nowMicros());
        this.clients[k] = client;
        this.connected++;
      } catch (error) {
        this.errors.add(`i${i}: ${(error as Error).message}`);
      }
    });
  }

  /** Sends the PINGREQs that are due (see the header). */
  private tick(): void {
    const { count, keepaliveSeconds } = this.plan;
    if (count === 0) return;
    const period = keepaliveSeconds * MS_PER_S;
    const now = performance.now();
    for (;;) {
      const due = this.startMs + this.round * period + (this.nextK / count) * period;
      if (due > now) return;
      const client = this.clients[this.nextK];
      if (client !== undefined && !client.closed) this.ping(client);
      if (++this.nextK === count) {
        this.nextK = 0;
        this.round++;
      }
    }
  }

  private ping(client: Client): void {
    this.pings++;
    client.ping().then(
      (rtt) => {
        this.pongs++;
        if (rtt > this.maxRtt) this.maxRtt = rtt;
      },
      () => {
        // The connection failed; its error is already reported (Client.fail -> onError).
      },
    );
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const deadline = performance.now() + PONG_GRACE_MS;
    while (this.pongs < this.pings && performance.now() < deadline) await sleep(POLL_MS);
    const missing = this.pings - this.pongs;
    if (missing > 0) this.errors.add(`${missing} PINGREQs of ${this.pings} got no PINGRESP`);
  }

  report(): IdleReport {
    return {
      connected: this.connected,
      firstStart: this.firstStart,
      lastConnack: this.lastConnack,
      keepalivePings: this.pings,
      keepalivePongs: this.pongs,
      keepaliveMaxMicros: this.maxRtt,
      errors: this.errors.list(),
    };
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    const all = this.clients.filter((c): c is Client => c !== undefined);
    await mapLimit(all, CLOSE_CONCURRENCY, (c) => c.close());
  }
}

let worker: IdleProcess | null = null;
const send = (event: IdleEvent): void => {
  process.send?.(event);
};

async function handle(command: IdleCommand): Promise<void> {
  switch (command.cmd) {
    case 'setup':
      worker = new IdleProcess(command.plan);
      await worker.setup();
      return send({ ev: 'ready' });
    case 'stop':
      await worker?.stop();
      return send({ ev: 'ready' });
    case 'report':
      if (worker === null) return send({ ev: 'error', message: 'report before setup' });
      return send({ ev: 'report', report: worker.report() });
    case 'close':
      await worker?.close();
      send({ ev: 'done' });
      process.disconnect?.();
      return;
  }
}

let queue = Promise.resolve();
process.on('message', (command: IdleCommand) => {
  queue = queue
    .then(() => handle(command))
    .catch((error: unknown) => send({ ev: 'error', message: (error as Error).stack ?? String(error) }));
});
// The coordinator going away (Ctrl-C, a crash) ends this process too.
process.on('disconnect', () => process.exit(0));

/**
 * A load generator worker thread: receives its plan in workerData, runs the coordinator's
 * commands (shared.ts, Command) in order and answers each with an Event. All timing of the
 * measurement is the coordinator's; a worker only connects, sends, receives and counts.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { LoadWorker } from './load-worker.js';
import { runRetained } from './other-workers.js';
import { type Command, Counters, type Event, type WorkerData } from './shared.js';

const data = workerData as WorkerData;
const port = parentPort!;
const counters = new Counters(data.counters, data.workers, data.publishersTotal);
const plan = data.plan;
const load = plan.kind === 'load' ? new LoadWorker(data.worker, plan, counters) : null;

const send = (event: Event): void => port.postMessage(event);

async function handle(command: Command): Promise<void> {
  switch (command.cmd) {
    case 'setup':
      await load?.setup();
      return send({ ev: 'ready' });
    case 'connect-publishers':
      await load?.connectPublishers();
      return send({ ev: 'ready' });
    case 'start':
      load?.start();
      if (plan.kind === 'retained') return send({ ev: 'report', report: await runRetained(plan) });
      return send({ ev: 'ready' });
    case 'stop':
      load?.stop();
      return send({ ev: 'ready' });
    case 'report': {
      const report = load?.report();
      if (report === undefined) return send({ ev: 'error', message: `no report for ${plan.kind}` });
      return send({ ev: 'report', report });
    }
    case 'close':
      await load?.close();
      send({ ev: 'done' });
      port.close();
      return;
  }
}

// Commands run one at a time, in order.
let queue = Promise.resolve();
port.on('message', (command: Command) => {
  queue = queue
    .then(() => handle(command))
    .catch((error: unknown) => send({ ev: 'error', message: (error as Error).stack ?? String(error) }));
});

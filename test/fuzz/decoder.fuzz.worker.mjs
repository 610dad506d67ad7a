/**
 * Runs one fuzz campaign of decoder.fuzz.ts in a worker thread (see decoder.fuzz.test.ts).
 * A worker's entry point is not passed through the parent's --import hooks, so it registers tsx
 * itself before loading the TypeScript campaign module.
 */

import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { runCampaign } = await import('./decoder.fuzz.ts');
try {
  parentPort.postMessage({ ok: true, stats: runCampaign(workerData.name, workerData.options) });
} catch (err) {
  parentPort.postMessage({
    ok: false,
    message: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
}

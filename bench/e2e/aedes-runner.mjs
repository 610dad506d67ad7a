// Aedes 1.2 as a standalone broker for the end-to-end benchmark: its own Node process, its
// default in-memory persistence and emitter, a plain net server on 127.0.0.1.
//   node bench/e2e/aedes-runner.mjs <port> [host] [lag-file]
// With a lag file: the process measures its own event-loop delay (perf_hooks, 10 ms resolution,
// as prom-client does in Aviary) and on SIGUSR2 writes the histogram since the previous SIGUSR2
// to that file as JSON (nanoseconds, with an increasing `seq`), then resets it.
import { renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
const lagFile = process.argv[4];
const LAG_RESOLUTION_MS = 10;
const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
aedes.on('clientError', (client, error) => {
  // A client closing its socket at the end of a run is not worth reporting.
  if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE')
    console.error(`client error ${client.id}: ${error.message}`);
});
server.listen(port, host, () => console.log(`aedes ${host}:${port} pid ${process.pid}`));
if (lagFile !== undefined) {
  const histogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  histogram.enable();
  let seq = 0;
  process.on('SIGUSR2', () => {
    const lag = {
      seq: ++seq,
      count: histogram.count,
      p50: histogram.percentile(50),
      p99: histogram.percentile(99),
      max: histogram.max,
      mean: histogram.mean,
    };
    histogram.reset();
    writeFileSync(`${lagFile}.tmp`, JSON.stringify(lag));
    renameSync(`${lagFile}.tmp`, lagFile);
  });
}
const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

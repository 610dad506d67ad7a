// Aedes 1.2 as a standalone broker for the end-to-end benchmark: its own Node process, its
// default in-memory persistence and emitter, a plain net server on 127.0.0.1.
//   node bench/e2e/aedes-runner.mjs <port> [host]
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const host = process.argv[3] ?? '127.0.0.1';
const aedes = await Aedes.createBroker();
const server = createServer(aedes.handle);
aedes.on('clientError', (client, error) => {
  // A client closing its socket at the end of a run is not worth reporting.
  if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE')
    console.error(`client error ${client.id}: ${error.message}`);
});
server.listen(port, host, () => console.log(`aedes ${host}:${port} pid ${process.pid}`));
const stop = () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/**
 * A broker in a process of its own, for tests that kill it (81-crash.test.ts): run with
 * `node --import tsx test/helpers/broker-process.ts '<config JSON>'`. It prints
 * `ready <port>` once listening, and stops cleanly on SIGTERM.
 */

import { createBroker } from '../../src/main.js';

const config = JSON.parse(process.argv[2] ?? '{}');
const aviary = createBroker(config);
await aviary.listen();
process.stdout.write(`ready ${aviary.addresses()[0]!.port}\n`);
process.once('SIGTERM', () => {
  void aviary.close().then(() => process.exit(0));
});

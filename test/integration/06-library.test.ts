/**
 * Aviary as an embedded library, imported by its package name as an application would
 * (`import { createBroker } from 'aviary'`, resolved through package.json "exports" to dist/):
 * the same config object as the CLI, listen()/close(), and hooks that see and rewrite traffic.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { closeClients, connectClient, Inbox, publish, subscribe } from '../helpers/broker.js';

after(closeClients);

test('createBroker from the package name: listen, hooks, round trip, close', async () => {
  const { createBroker, Message } = await import('aviary');
  const aviary = createBroker({
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { bind: '127.0.0.1:0' } } },
    log: { console: { enable: false } },
    mqtt: { max_inflight: 8 },
    durable_storage: { backend: 'memory' }, // no data directory in the working tree
    dashboard: { listeners: { http: { bind: '127.0.0.1:0' } } }, // the API on an ephemeral port
  });
  assert.equal(aviary.config.mqtt.max_inflight, 8, 'the config object is parsed with the CLI schema');

  const connected: string[] = [];
  aviary.hooks.add('client.connected', (client) => {
    connected.push(client.clientId);
  });
  aviary.hooks.add('client.authenticate', (_acc, client, password) =>
    client.username === 'app' && password?.toString() === 'secret'
      ? { stop: { result: 'allow' as const } }
      : { stop: { result: 'deny' as const } },
  );
  aviary.hooks.add('message.publish', (message) =>
    message === null || message.topic !== 'in'
      ? undefined
      : {
          ok: new Message(
            'out',
            Buffer.from(message.payload.toString().toUpperCase()),
            message.qos,
            false,
            null,
            message.from,
          ),
        },
  );
  const [address] = await aviary.listen();
  assert.ok(address !== undefined && address.port > 0);
  try {
    const auth = { username: 'app', password: 'secret' };
    const sub = await connectClient(address.port, 5, { clientId: 'lib-sub', ...auth });
    const inbox = new Inbox(sub);
    await subscribe(sub, 'out', { qos: 1 });
    const pub = await connectClient(address.port, 4, { clientId: 'lib-pub', ...auth });
    await publish(pub, 'in', 'hello', { qos: 1 });
    const [received] = await inbox.count(1);
    assert.equal(received?.topic, 'out');
    assert.equal(received?.payload.toString(), 'HELLO');
    assert.deepEqual(connected.sort(), ['lib-pub', 'lib-sub']);
    await assert.rejects(
      connectClient(address.port, 5, { clientId: 'intruder', username: 'app', password: 'wrong' }),
    );
  } finally {
    await aviary.close();
  }
});

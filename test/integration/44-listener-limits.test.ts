/**
 * 44 listener limits: `max_connections` (extra connections are closed before any byte and
 * counted) and `max_conn_rate` (a token bucket: connections beyond the rate are closed and
 * counted), each while the connections already in keep working; and the default listeners.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { listenersOf, loadConfig } from '../../src/config/index.js';
import {
  closeClients,
  connectClient,
  rawClient,
  rawConnected,
  type StartedBroker,
  startBroker,
  waitUntil,
} from '../helpers/broker.js';

describe('44 listener limits', () => {
  let b: StartedBroker;
  const status = (id: string) => b.aviary.listeners().find((l) => l.id === id)!;
  const portOf = (id: string) => b.aviary.addresses().find((a) => a.id === id)!.port;

  before(async () => {
    b = await startBroker({
      listeners: {
        tcp: {
          capped: { bind: '127.0.0.1:0', max_connections: 2 },
          // One connection per ten minutes: the bucket holds one token, so the second connection
          // in this test always finds it empty.
          rated: { bind: '127.0.0.1:0', max_conn_rate: '1/10m' },
        },
      },
    });
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  test('max_connections: the third connection is closed at once and counted; the two open ones work', async () => {
    const port = portOf('tcp:capped');
    const first = await rawConnected(port, { version: 4, clientId: 'cap-1' });
    await rawConnected(port, { version: 4, clientId: 'cap-2' });
    const third = await rawClient(port);
    await third.expectClose();
    assert.equal(status('tcp:capped').counters.refusedMaxConnections, 1);
    assert.equal(status('tcp:capped').currentConnections, 2);
    first.send('c000'); // PINGREQ
    assert.equal(await first.readHex(2), 'd000'); // PINGRESP
    await first.destroy();
    await waitUntil(
      () => status('tcp:capped').currentConnections === 1,
      'the closed connection to be released',
    );
    await rawConnected(port, { version: 4, clientId: 'cap-3' });
  });

  test('max_conn_rate: a connection over the rate is closed and counted; the admitted one works', async () => {
    const port = portOf('tcp:rated');
    const c = await connectClient(port, 5);
    const refused = await rawClient(port);
    await refused.expectClose();
    assert.equal(status('tcp:rated').counters.refusedRate, 1);
    assert.equal(status('tcp:rated').counters.accepted, 1);
    assert.ok(c.connected);
  });

  test('the default configuration has the tcp listener on 1883', () => {
    const { config } = loadConfig({ env: {} });
    const tcp = listenersOf(config).find((l) => l.id === 'tcp:default');
    assert.ok(tcp);
    assert.deepEqual(tcp.config.bind, { host: '0.0.0.0', port: 1883 });
    assert.equal(tcp.config.max_conn_rate, Number.POSITIVE_INFINITY);
    assert.equal(tcp.config.tcp_options.nodelay, true);
    assert.ok(
      !listenersOf(config).some((l) => l.type === 'ssl' || l.type === 'wss'),
      'no TLS listener without certificates',
    );
  });
});

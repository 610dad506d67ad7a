/**
 * 45 listener registry: listeners are started, stopped and restarted at runtime by id, and report
 * their status (`AviaryBroker.listeners()`, the calls the HTTP API makes). Stopping a listener
 * disconnects its clients (MQTT 5.0: DISCONNECT 0x8B Server shutting down) and leaves the other
 * listeners alone.
 */

import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ReasonCode } from '../../src/protocol/index.js';
import { ListenerNotFoundError } from '../../src/transport/registry.js';
import {
  closeClients,
  connectClient,
  type StartedBroker,
  startBroker,
  WAIT_MS,
  within,
} from '../helpers/broker.js';

/** Resolves with the error code of a TCP connection attempt ('' if it connected). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('45 listener registry', () => {
  let b: StartedBroker;
  const status = (id: string) => b.aviary.listeners().find((l) => l.id === id)!;
  const portOf = (id: string) => b.aviary.addresses().find((a) => a.id === id)?.port;

  before(async () => {
    b = await startBroker({
      listeners: {
        tcp: {
          extra: { bind: '127.0.0.1:0', max_connections: 10 },
          spare: { bind: '127.0.0.1:0', enable: false },
        },
      },
    });
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  test('listeners() reports every configured listener: running, bind, connections, limits', async () => {
    await connectClient(portOf('tcp:extra')!, 5);
    const extra = status('tcp:extra');
    assert.equal(extra.type, 'tcp');
    assert.equal(extra.name, 'extra');
    assert.equal(extra.enable, true);
    assert.equal(extra.running, true);
    assert.equal(extra.bind, `127.0.0.1:${portOf('tcp:extra')}`);
    assert.equal(extra.currentConnections, 1);
    assert.equal(extra.maxConnections, 10);
    assert.equal(extra.counters.accepted, 1);
    const spare = status('tcp:spare');
    assert.equal(spare.enable, false);
    assert.equal(spare.running, false);
    assert.equal(spare.currentConnections, 0);
  });

  test('stopListener: its 5.0 clients get DISCONNECT 0x8B, new connections are refused, others keep going', async () => {
    const port = portOf('tcp:extra')!;
    const onExtra = await connectClient(port, 5);
    const onDefault = await connectClient(b.port, 5);
    const disconnect = within(
      new Promise<[{ reasonCode?: number }]>((resolve) => onExtra.once('disconnect', (p) => resolve([p]))),
      WAIT_MS,
      'DISCONNECT',
    );
    await b.aviary.stopListener('tcp:extra');
    const [packet] = await disconnect;
    assert.equal(packet.reasonCode, ReasonCode.ServerShuttingDown);
    assert.equal(status('tcp:extra').running, false);
    assert.equal(portOf('tcp:extra'), undefined);
    assert.equal(await tryConnect(port), 'ECONNREFUSED');
    assert.ok(onDefault.connected);
    await b.aviary.stopListener('tcp:extra'); // stopping a stopped listener does nothing
  });

  test('startListener starts a stopped or disabled listener; restartListener keeps it serving', async () => {
    await b.aviary.startListener('tcp:extra');
    assert.equal(status('tcp:extra').running, true);
    assert.ok((await connectClient(portOf('tcp:extra')!, 4)).connected);
    await b.aviary.startListener('tcp:spare');
    assert.ok((await connectClient(portOf('tcp:spare')!, 5)).connected);
    await b.aviary.restartListener('tcp:spare');
    assert.equal(status('tcp:spare').running, true);
    assert.equal(status('tcp:spare').currentConnections, 0);
    assert.ok((await connectClient(portOf('tcp:spare')!, 5)).connected);
  });

  test('an unknown listener id is a ListenerNotFoundError', async () => {
    await assert.rejects(b.aviary.stopListener('tcp:nope'), ListenerNotFoundError);
    await assert.rejects(b.aviary.startListener('quic:default'), ListenerNotFoundError);
  });
});

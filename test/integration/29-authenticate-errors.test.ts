/**
 * An authentication provider that fails (throws, or its Promise rejects: a database that is
 * down) refuses the client instead of letting it in or dropping it without an answer:
 * CONNACK 0x88 Server unavailable in 5.0, return code 0x03 in 3.1.1.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConnectReturnCode, PacketType, ReasonCode } from '../../src/protocol/index.js';
import { closeClients, rawClient, type StartedBroker, startBroker } from '../helpers/broker.js';

describe('29 a failing client.authenticate callback refuses the connection', () => {
  let b: StartedBroker;
  before(async () => {
    b = await startBroker();
    b.aviary.hooks.add('client.authenticate', (_acc, client) => {
      if (client.clientId === 'sync-throw') throw new Error('provider exploded');
      return Promise.reject(new Error('database down'));
    });
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  const cases = [
    { version: 4 as const, clientId: 'sync-throw', code: ConnectReturnCode.ServerUnavailable },
    { version: 4 as const, clientId: 'async-reject', code: ConnectReturnCode.ServerUnavailable },
    { version: 5 as const, clientId: 'sync-throw', code: ReasonCode.ServerUnavailable },
    { version: 5 as const, clientId: 'async-reject', code: ReasonCode.ServerUnavailable },
  ];
  for (const c of cases) {
    test(`${c.version === 5 ? '5.0' : '3.1.1'}, ${c.clientId}: CONNACK 0x${c.code.toString(16)} then close`, async () => {
      const raw = await rawClient(b.port, c.version);
      raw.sendConnect({ version: c.version, clientId: c.clientId });
      const connack = await raw.readPacket();
      assert.equal(connack.type, PacketType.Connack);
      assert.equal(connack.type === PacketType.Connack ? connack.reasonCode : -1, c.code);
      await raw.expectClose();
      assert.equal(b.aviary.broker.connectionCount, 0);
    });
  }
});

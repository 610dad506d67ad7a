/**
 * A store that cannot write while the broker runs (issue 5: "a store write error while running
 * makes the broker refuse the affected QoS 1/2 publishes"): the database is made full with
 * SQLite's max_page_count, so a batch fails with SQLITE_FULL as on a full disk. A 5.0 publisher
 * gets PUBACK / PUBREC 0x80 instead of a success; a 3.1.1 publisher, whose acknowledgements
 * carry no reason code, is disconnected so that it sends again. Once space is back, the next
 * batch is kept.
 */

import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import type { SqliteStorage } from '../../src/persistence/sqlite/index.js';
import { PacketType, ProtocolVersion, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';
import {
  clientId,
  closeClients,
  connectClient,
  rawConnected,
  type StartedBroker,
  startBroker,
  subscribe,
} from '../helpers/broker.js';

let b: StartedBroker | null = null;
afterEach(async () => {
  await closeClients();
  await b?.close();
  b = null;
});
after(closeClients);

/** A broker whose persistent session `sub` takes everything on `full/#`, and a full database. */
async function fullBroker(): Promise<{ b: StartedBroker; db: SqliteStorage['db'] }> {
  const started = await startBroker();
  const sub = await connectClient(started.port, 5, {
    clientId: clientId('keeper'),
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
  });
  await subscribe(sub, 'full/#', { qos: 1 });
  await sub.endAsync(); // offline: what is published for it must be stored
  const db = (started.aviary.storage as SqliteStorage).db;
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pages}`);
  return { b: started, db };
}

function publishPacket(qos: 1 | 2, packetId: number): PublishPacket {
  return {
    type: PacketType.Publish,
    topic: 'full/x',
    payload: Buffer.alloc(64 * 1024, 1), // bigger than what a full database can take
    qos,
    retain: false,
    dup: false,
    packetId,
    properties: null,
  };
}

describe('82 durable storage: write errors while running', () => {
  for (const qos of [1, 2] as const) {
    test(`5.0 QoS ${qos}: a publish the store could not keep is answered 0x80, not success`, async () => {
      const full = await fullBroker();
      b = full.b;
      const raw = await rawConnected(b.port, { version: 5, clientId: clientId('pub5') });
      raw.sendPacket(publishPacket(qos, 1));
      const ack = await raw.readPacket();
      assert.equal(ack.type, qos === 1 ? PacketType.Puback : PacketType.Pubrec);
      assert.equal((ack as { reasonCode: number }).reasonCode, ReasonCode.UnspecifiedError);

      // Space comes back: the next publish is kept and acknowledged.
      full.db.pragma('max_page_count = 1073741823');
      raw.sendPacket(publishPacket(qos, 2));
      const ok = await raw.readPacket();
      assert.equal((ok as { reasonCode: number }).reasonCode, ReasonCode.Success);
    });
  }

  test('3.1.1 QoS 1: the publisher is disconnected instead of acknowledged', async () => {
    const full = await fullBroker();
    b = full.b;
    const raw = await rawConnected(b.port, { version: 4, clientId: clientId('pub4') });
    raw.version = ProtocolVersion.V4;
    raw.sendPacket(publishPacket(1, 1));
    await raw.expectClose();
  });
});

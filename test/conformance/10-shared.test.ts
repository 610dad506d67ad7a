/**
 * Conformance 10: shared subscriptions (MQTT 5.0 section 4.8.2), over raw sockets: the syntax of
 * a share filter, and what becomes of a message a member refuses. The rest of 4.8.2 (each
 * message to one member at its granted QoS, a QoS 2 message staying with its member) is in
 * test/integration/10-shared-subscriptions.test.ts and test/unit/routing/shared.test.ts.
 *
 * One broker for the file, default settings (round_robin).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, ReasonCode } from '../../src/protocol/index.js';
import { nextDisconnect } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  ackWithCode,
  connect,
  expectPacket,
  expectPublish,
  quiet,
  subscribeMany,
  v5,
} from '../helpers/conformance.js';
import { publishFrame } from '../helpers/mqtt5.js';

describe('conformance 10: shared subscriptions', () => {
  const b = brokerForSuite();

  test('[MQTT-4.8.2-1] [MQTT-4.8.2-2] a share filter is $share/ then a ShareName of at least one character without "/", "+" or "#", then "/" and a filter; others are refused in the SUBACK', async () => {
    const invalid = [
      '$share//sh/t',
      '$share/g',
      '$share/g/',
      '$share/g+/sh/t',
      '$share/g#/sh/t',
      '$share/g/sh/#/x',
    ];
    for (const version of [4, 5] as const) {
      const c = await connect(b.port, { version, clientId: `sh-syntax-${version}` });
      c.send(subscribeMany(1, [['$share/g/sh/t', 1], ...invalid.map((f) => [f, 1] as const)], version === 5));
      const suback = await expectPacket(c.raw, PacketType.Suback);
      const no = version === 5 ? ReasonCode.TopicFilterInvalid : 0x80;
      assert.deepEqual(suback.reasonCodes, [1, ...invalid.map(() => no)]);
    }
  });

  test('[MQTT-4.8.2-6] a message a member answers with PUBACK 0x80 is discarded: it does not go to another member, even when that member leaves', async () => {
    const first = await v5(b.port, 'sh-refuser');
    assert.deepEqual(await first.subscribe('$share/r/sh/refused', 1), [1]);
    const pub = await v5(b.port, 'sh-refused-pub');
    pub.send(publishFrame({ topic: 'sh/refused', qos: 1, packetId: 1, props: [], payload: 'refused' }));
    await expectPacket(pub.raw, PacketType.Puback);
    const p = await expectPublish(first.raw);
    assert.equal(p.payload.toString(), 'refused');

    const other = await v5(b.port, 'sh-other');
    assert.deepEqual(await other.subscribe('$share/r/sh/refused', 1), [1]);
    first.send(ackWithCode(0x40, p.packetId, ReasonCode.UnspecifiedError));
    await quiet(first.raw); // the PUBACK was read
    const gone = nextDisconnect(b.aviary, 'sh-refuser');
    await first.raw.destroy(); // a member that leaves with a message unacknowledged would hand it on
    await gone;
    await quiet(other.raw);

    // The group goes on: the next message reaches the member left.
    pub.send(publishFrame({ topic: 'sh/refused', qos: 1, packetId: 2, props: [], payload: 'next' }));
    await expectPacket(pub.raw, PacketType.Puback);
    assert.equal((await expectPublish(other.raw)).payload.toString(), 'next');
  });
});

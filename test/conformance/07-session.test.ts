/**
 * Conformance 07: session state, Clean Start / Clean Session and Session Present (MQTT 5.0
 * sections 3.1.2.4, 3.1.2.11.2, 3.2.2.1.1, 4.1, 4.5; MQTT 3.1.1 sections 3.1.2.4, 3.2.2.2, 4.1),
 * over raw sockets; the CONNACK flags are read from the wire.
 *
 * A 5.0 session outlives its connection when the CONNECT has a Session Expiry Interval above 0; a
 * 3.1.1 one when Clean Session is 0 (kept for mqtt.session_expiry_interval, 2 h by default).
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings; each test has its own client ids.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType } from '../../src/protocol/index.js';
import { type RawClient, rawClient } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { connect, expectPacket, expectPublish, quiet, v5 } from '../helpers/conformance.js';
import {
  ackFrame,
  type ConnectSpec,
  connectFrame,
  disconnectFrame,
  prop,
  publishFrame,
} from '../helpers/mqtt5.js';

const NAME = { 4: '3.1.1', 5: '5.0' } as const;
const VERSIONS = [4, 5] as const;

/** A CONNECT that resumes (or starts) a session kept after the connection closes. */
function keeps(version: 4 | 5, clientId: string): ConnectSpec {
  return version === 5
    ? { version, clientId, clean: false, props: [prop.sessionExpiryInterval(300)] }
    : { version, clientId, clean: false };
}

describe('conformance 07: sessions', () => {
  const b = brokerForSuite();
  let seq = 0;

  /** Publishes QoS 1 from a fresh 5.0 client and waits for the PUBACK. */
  async function publish(topic: string, payload: string): Promise<void> {
    const pub = await v5(b.port, `ss-pub-${++seq}`);
    pub.send(publishFrame({ topic, qos: 1, packetId: 1, props: [], payload }));
    await expectPacket(pub.raw, PacketType.Puback);
    pub.raw.destroy();
  }

  /** Sends the CONNECT and returns the raw client and the CONNACK's bytes. */
  async function connackBytes(c: ConnectSpec) {
    const raw = await rawClient(b.port, c.version ?? 5);
    raw.send(connectFrame(c));
    const bytes = await raw.readFrame();
    assert.equal(bytes[0], 0x20, 'CONNACK');
    assert.equal(bytes[3], 0x00, 'accepted');
    return { raw, sessionPresent: bytes[2] === 0x01, flags: bytes[2] };
  }

  /** Ends a connection with a normal DISCONNECT. */
  async function leave(raw: RawClient): Promise<void> {
    raw.send(raw.version === 5 ? disconnectFrame(0) : 'e0 00');
    await raw.expectClose();
  }

  for (const version of VERSIONS) {
    test(`[MQTT-3.1.2-6] [MQTT-3.2.2-3] (3.1.1 [MQTT-3.1.2-4] [MQTT-3.2.2-3]) ${NAME[version]}: Clean Start 0 without a session creates one: Session Present 0`, async () => {
      const { flags } = await connackBytes(keeps(version, `ss-new-${version}`));
      assert.equal(flags, 0x00);
    });

    test(`[MQTT-3.1.2-5] [MQTT-3.2.2-3] [MQTT-3.1.2-23] [MQTT-3.1.4-4] [MQTT-4.5.0-1] (3.1.1 [MQTT-3.1.4-3] [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.2.2-2] [MQTT-4.1.0-1] [MQTT-4.5.0-1]) ${NAME[version]}: Clean Start 0 resumes the session: Session Present 1, the subscriptions go on, messages that came meanwhile are delivered`, async () => {
      const id = `ss-resume-${version}`;
      const topic = `ss/resume/${version}`;
      const first = await connect(b.port, keeps(version, id));
      await first.subscribe(topic, 1);
      await leave(first.raw);
      await publish(topic, 'while away');

      const { raw, flags } = await connackBytes(keeps(version, id));
      assert.equal(flags, 0x01, 'Session Present 1, the reserved bits 0');
      const queued = await expectPublish(raw);
      assert.equal(queued.payload.toString(), 'while away');
      raw.send(ackFrame(0x40, queued.packetId));
      await publish(topic, 'after'); // no new SUBSCRIBE: the subscription is part of the session
      assert.equal((await expectPublish(raw)).payload.toString(), 'after');
    });

    test(`[MQTT-3.1.3-2] (3.1.1 [MQTT-3.1.3-2]) ${NAME[version]}: the client identifier names the session: another identifier does not see it`, async () => {
      const first = await connect(b.port, keeps(version, `ss-owner-${version}`));
      await first.subscribe(`ss/owner/${version}`, 1);
      await leave(first.raw);
      const other = await connackBytes(keeps(version, `ss-other-${version}`));
      assert.equal(other.sessionPresent, false);
      await publish(`ss/owner/${version}`, 'x');
      await quiet(other.raw);
    });

    test(`[MQTT-3.1.2-4] [MQTT-3.2.2-2] [MQTT-3.1.4-4] (3.1.1 [MQTT-3.1.2-6] [MQTT-3.2.2-1] [MQTT-3.1.4-3]) ${NAME[version]}: Clean Start 1 discards the session: Session Present 0, no subscription, no queued message, and nothing of it comes back later`, async () => {
      const id = `ss-clean-${version}`;
      const topic = `ss/clean/${version}`;
      const first = await connect(b.port, keeps(version, id));
      await first.subscribe(topic, 1);
      await leave(first.raw);
      await publish(topic, 'queued');

      const clean = await connackBytes({ version, clientId: id, clean: true });
      assert.equal(clean.flags, 0x00, 'Session Present 0');
      await publish(topic, 'not subscribed');
      await quiet(clean.raw);
      await leave(clean.raw);

      const later = await connackBytes(keeps(version, id));
      assert.equal(later.sessionPresent, false, 'the clean session was not kept either');
      await quiet(later.raw);
    });
  }

  test('[MQTT-3.1.2-23] 5.0: without a Session Expiry Interval (0) the session ends with the connection', async () => {
    const first = await connect(b.port, { version: 5, clientId: 'ss-zero', clean: false });
    await first.subscribe('ss/zero', 1);
    await leave(first.raw);
    const again = await connackBytes({ version: 5, clientId: 'ss-zero', clean: false });
    assert.equal(again.sessionPresent, false);
    await publish('ss/zero', 'x');
    await quiet(again.raw);
  });
});

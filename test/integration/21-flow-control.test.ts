/**
 * 21 flow control (MQTT 5.0 section 4.9, Receive Maximum) both ways, over raw sockets.
 *
 * Towards the broker: the CONNACK advertises mqtt.receive_maximum; a client with more QoS 1/2
 * publications unacknowledged than that gets DISCONNECT 0x93 [MQTT-3.3.4-7]. QoS 1 is
 * acknowledged at once, so it is the QoS 2 messages awaiting PUBREL that count, per network
 * connection. Towards the client: at most min(its Receive Maximum, mqtt.max_inflight) QoS 1/2
 * messages in flight [MQTT-3.3.4-9], without holding back other packets [MQTT-3.3.4-10].
 * Also mqtt.max_awaiting_rel for 5.0 (PUBREC 0x97) and 3.1.1 (closed).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { closeClients, type RawClient, startBroker } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { ackFrame, prop, publishFrame, rawOk, rawOpen, rawSubscribe } from '../helpers/mqtt5.js';
import { type Packet, PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';

/**
 * Sends a QoS 2 PUBLISH (5.0 unless the client is 3.1.1) to a topic nobody subscribes to and
 * returns what the broker answers (5.0: PUBREC 0x10, no matching subscribers).
 */
async function qos2(raw: RawClient, packetId: number, dup = false): Promise<Packet> {
  const props = raw.version === 5 ? [] : undefined;
  raw.send(publishFrame({ topic: 'fc/q2', qos: 2, packetId, dup, props, payload: String(packetId) }));
  return raw.readPacket();
}

const NOBODY = ReasonCode.NoMatchingSubscribers;

function isAck(p: Packet, type: number, packetId: number, reasonCode = 0): void {
  assert.ok(p.type === type && 'packetId' in p, `expected packet type ${type}, got ${JSON.stringify(p)}`);
  assert.equal(p.packetId, packetId);
  assert.equal((p as { reasonCode: number }).reasonCode, reasonCode);
}

describe('21 flow control', () => {
  const b = brokerForSuite({ mqtt: { receive_maximum: 2, max_awaiting_rel: 4 } });

  describe('Receive Maximum towards the broker', () => {
    test('the CONNACK advertises mqtt.receive_maximum (32 by default) (section 3.2.2.3.3)', async () => {
      const { connack } = await rawOpen(b.port, { clientId: 'rm-adv' });
      assert.equal(connack.properties?.receiveMaximum, 2);
      const defaults = await startBroker();
      try {
        const d = await rawOpen(defaults.port, { clientId: 'rm-adv-default' });
        assert.equal(d.connack.properties?.receiveMaximum, 32);
      } finally {
        await closeClients();
        await defaults.close();
      }
    });

    test('receive_maximum = 65535 advertises nothing (absent means 65535)', async () => {
      const open = await startBroker({ mqtt: { receive_maximum: 65_535 } });
      try {
        const { connack } = await rawOpen(open.port, { clientId: 'rm-none' });
        assert.equal(connack.properties?.receiveMaximum, undefined);
      } finally {
        await closeClients();
        await open.close();
      }
    });

    test('one QoS 2 publication more than Receive Maximum awaiting PUBREL gets DISCONNECT 0x93 [MQTT-3.3.4-7]', async () => {
      const raw = await rawOk(b.port, { clientId: 'rm-over' });
      isAck(await qos2(raw, 1), PacketType.Pubrec, 1, NOBODY);
      isAck(await qos2(raw, 2), PacketType.Pubrec, 2, NOBODY);
      const disconnect = await qos2(raw, 3);
      assert.equal(disconnect.type, PacketType.Disconnect);
      assert.equal(disconnect.reasonCode, ReasonCode.ReceiveMaximumExceeded);
      assert.match(disconnect.properties?.reasonString ?? '', /Receive Maximum \(2\)/);
      await raw.expectClose();
    });

    test('PUBREL (answered by PUBCOMP) frees a place; a resent PUBLISH of an awaited id takes none', async () => {
      const raw = await rawOk(b.port, { clientId: 'rm-release' });
      isAck(await qos2(raw, 1), PacketType.Pubrec, 1, NOBODY);
      isAck(await qos2(raw, 2), PacketType.Pubrec, 2, NOBODY);
      isAck(await qos2(raw, 2, true), PacketType.Pubrec, 2); // DUP of an awaited id
      raw.send(ackFrame(0x62, 1));
      isAck(await raw.readPacket(), PacketType.Pubcomp, 1);
      isAck(await qos2(raw, 3), PacketType.Pubrec, 3, NOBODY);
      raw.send(ackFrame(0x62, 2));
      isAck(await raw.readPacket(), PacketType.Pubcomp, 2);
      raw.send(ackFrame(0x62, 3));
      isAck(await raw.readPacket(), PacketType.Pubcomp, 3);
      assert.equal(raw.isClosed, false);
    });

    test('QoS 1 publications are acknowledged at once and never count', async () => {
      const raw = await rawOk(b.port, { clientId: 'rm-qos1' });
      for (let id = 1; id <= 6; id++) {
        raw.send(publishFrame({ topic: 'fc/q1', qos: 1, packetId: id, props: [], payload: 'x' }));
      }
      for (let id = 1; id <= 6; id++) {
        isAck(await raw.readPacket(), PacketType.Puback, id, ReasonCode.NoMatchingSubscribers);
      }
    });

    test('the count is per network connection: unreleased messages of the previous one do not count (section 3.3.4)', async () => {
      const id = 'rm-reconnect';
      const first = await rawOk(b.port, {
        clientId: id,
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
      });
      isAck(await qos2(first, 1), PacketType.Pubrec, 1, NOBODY);
      isAck(await qos2(first, 2), PacketType.Pubrec, 2, NOBODY);
      await first.destroy();
      const again = await rawOk(b.port, {
        clientId: id,
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
      });
      isAck(await qos2(again, 3), PacketType.Pubrec, 3, NOBODY);
      isAck(await qos2(again, 4), PacketType.Pubrec, 4, NOBODY);
      // The old ids are still known: released with PUBCOMP 0x00.
      again.send(ackFrame(0x62, 1));
      isAck(await again.readPacket(), PacketType.Pubcomp, 1);
      // Two of this connection await release: a third is one too many.
      const disconnect = await qos2(again, 5);
      assert.equal(disconnect.type, PacketType.Disconnect);
      assert.equal(disconnect.reasonCode, ReasonCode.ReceiveMaximumExceeded);
    });

    test('3.1.1 has no Receive Maximum: max_awaiting_rel bounds it, and closes the connection past it', async () => {
      const raw = await rawOk(b.port, { version: 4, clientId: 'rm-v4' });
      for (let id = 1; id <= 4; id++) isAck(await qos2(raw, id), PacketType.Pubrec, id);
      raw.send(publishFrame({ topic: 'fc/q2', qos: 2, packetId: 5, payload: '5' }));
      await raw.expectClose();
    });

    test('5.0 under a Receive Maximum above max_awaiting_rel: PUBREC 0x97 (quota exceeded) with a Reason String', async () => {
      const wide = await startBroker({ mqtt: { receive_maximum: 10, max_awaiting_rel: 1 } });
      try {
        const raw = await rawOk(wide.port, { clientId: 'rm-quota' });
        isAck(await qos2(raw, 1), PacketType.Pubrec, 1, NOBODY);
        const rec = await qos2(raw, 2);
        isAck(rec, PacketType.Pubrec, 2, ReasonCode.QuotaExceeded);
        assert.match(
          (rec as { properties: { reasonString?: string } | null }).properties?.reasonString ?? '',
          /max_awaiting_rel/,
        );
      } finally {
        await closeClients();
        await wide.close();
      }
    });
  });

  describe('Receive Maximum towards the client', () => {
    test('a client with Receive Maximum 2 has at most 2 QoS 1 messages in flight; a PUBACK lets the next go [MQTT-3.3.4-9]', async () => {
      const sub = await rawOk(b.port, { clientId: 'rm-out', props: [prop.receiveMaximum(2)] });
      await rawSubscribe(sub, 'out/q1', 1);
      const pub = await rawOk(b.port, { clientId: 'rm-out-pub' });
      for (const [i, payload] of ['1', '2', '3'].entries()) {
        pub.send(publishFrame({ topic: 'out/q1', qos: 1, packetId: i + 1, props: [], payload }));
      }
      const first = (await sub.readPacket()) as PublishPacket;
      const second = (await sub.readPacket()) as PublishPacket;
      assert.deepEqual([first.payload.toString(), second.payload.toString()], ['1', '2']);
      // The window is full; other packets still flow [MQTT-3.3.4-10]: PINGREQ gets the next packet.
      sub.send('c0 00');
      assert.equal((await sub.readPacket()).type, PacketType.Pingresp);
      sub.send(ackFrame(0x40, first.packetId));
      const third = (await sub.readPacket()) as PublishPacket;
      assert.equal(third.payload.toString(), '3');
    });
  });
});

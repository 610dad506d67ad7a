/**
 * Payloads large enough to be written after their own header (Channel SPLIT_PAYLOAD_BYTES)
 * arrive byte for byte, for every version and QoS, to several subscribers of different
 * versions; and message expiry [MQTT-3.3.2-5] [MQTT-3.3.2-6] applies to every version.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { SPLIT_PAYLOAD_BYTES } from '../../src/channel/channel.js';
import {
  clientId,
  connectClient,
  connected,
  Inbox,
  openClient,
  publish,
  subscribe,
  VERSIONS,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

describe('07 large payloads and message expiry', () => {
  const b = brokerForSuite({}, { closeClientsAfterEach: false });

  for (const size of [SPLIT_PAYLOAD_BYTES - 1, SPLIT_PAYLOAD_BYTES, 100_000]) {
    for (const qos of [0, 1, 2] as const) {
      test(`a ${size} B payload at QoS ${qos} reaches 3.1, 3.1.1 and 5.0 subscribers intact`, async () => {
        const topic = `large/${size}/${qos}`;
        const inboxes: Inbox[] = [];
        for (const v of VERSIONS) {
          const sub = await connectClient(b.port, v, { clientId: clientId(`large${v}`) });
          await subscribe(sub, topic, { qos });
          inboxes.push(new Inbox(sub));
        }
        const payload = randomBytes(size);
        const pub = await connectClient(b.port, 5, { clientId: clientId('largepub') });
        await publish(pub, topic, payload, { qos });
        await publish(pub, topic, payload, { qos }); // twice: the second uses the cached frame
        for (const inbox of inboxes) {
          const got = await inbox.count(2);
          for (const m of got) {
            assert.equal(m.payload.length, size);
            assert.ok(m.payload.equals(payload), 'payload bytes differ');
            assert.equal(m.packet.qos, qos);
          }
        }
      });
    }
  }

  test('[MQTT-3.3.2-5] an expired message is not delivered, to 3.1.1 or 5.0 subscribers', async () => {
    const topic = clientId('expiry');
    const subs = [];
    for (const v of [4, 5] as const) {
      const id = clientId(`exp${v}`);
      const c = await connectClient(b.port, v, {
        clientId: id,
        clean: false,
        properties: v === 5 ? { sessionExpiryInterval: 60 } : {},
      });
      await subscribe(c, topic, { qos: 1 });
      await c.endAsync();
      subs.push({ v, id });
    }
    const pub = await connectClient(b.port, 5, { clientId: clientId('exppub') });
    await publish(pub, topic, 'short-lived', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await publish(pub, topic, 'long-lived', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await new Promise((r) => setTimeout(r, 2100)); // let the first one expire while queued
    for (const { v, id } of subs) {
      // The inbox listens before CONNACK: queued messages follow it at once.
      const c = openClient(b.port, v, {
        clientId: id,
        clean: false,
        properties: v === 5 ? { sessionExpiryInterval: 60 } : {},
      });
      const inbox = new Inbox(c);
      await connected(c);
      const [m] = await inbox.count(1);
      assert.equal(m?.payload.toString(), 'long-lived');
      if (v === 5) {
        // [MQTT-3.3.2-6] the interval sent is what is left, not what was published.
        const left = m?.packet.properties?.messageExpiryInterval;
        assert.ok(left !== undefined && left < 100 && left >= 90, `expiry interval left: ${left}`);
      }
    }
  });
});

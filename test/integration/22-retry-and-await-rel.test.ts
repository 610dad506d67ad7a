/**
 * 22 resending and forgetting, over raw sockets that do not acknowledge.
 *
 * mqtt.retry_interval: while an MQTT 3.x client is connected, a QoS 1/2 message it has not
 * acknowledged is sent again with DUP set [MQTT-3.3.1-1] and the same packet identifier after
 * the interval, a PUBREL it has not completed likewise; an MQTT 5.0 client never gets such a
 * resend, only on reconnect [MQTT-4.4.0-1]. mqtt.await_rel_timeout: an incoming QoS 2 packet id
 * whose PUBREL does not come in time is forgotten (the message was routed on arrival).
 *
 * The broker checks both once a second; the tests wait for the resends themselves (events), with
 * the helpers' generous timeouts, and never assert on elapsed time.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  closeClients,
  connectBytes,
  type RawClient,
  rawClient,
  type StartedBroker,
  startBroker,
  WAIT_MS,
} from '../helpers/broker.js';
import { ackFrame, publishFrame, rawOk, rawSubscribe } from '../helpers/mqtt5.js';
import { type Packet, PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';

/** The next packet, which must be a PUBLISH. */
async function nextPublish(raw: RawClient, ms = WAIT_MS): Promise<PublishPacket> {
  const p = await raw.readPacket(ms);
  assert.equal(p.type, PacketType.Publish, `a PUBLISH, not ${JSON.stringify(p)}`);
  return p as PublishPacket;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// The tests wait for the once-a-second sweep, so they run concurrently (each with its own client
// ids and topics); clients are closed at the end.
describe('22 retry_interval and await_rel_timeout', { concurrency: true }, () => {
  let b: StartedBroker;

  before(async () => {
    b = await startBroker({ mqtt: { retry_interval: '1s', await_rel_timeout: '1s' } });
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  async function publisher(id: string): Promise<RawClient> {
    return rawOk(b.port, { clientId: id });
  }

  describe('retry_interval', { concurrency: true }, () => {
    test('3.1.1: an unacknowledged QoS 1 message is resent with DUP and the same packet id, again and again [MQTT-3.3.1-1]; 5.0 gets no resend [MQTT-4.4.0-1]', {
      timeout: 20_000,
    }, async () => {
      const v4 = await rawOk(b.port, { version: 4, clientId: 'rt-v4' });
      await rawSubscribe(v4, 'rt/q1', 1);
      const v5 = await rawOk(b.port, { clientId: 'rt-v5' });
      await rawSubscribe(v5, 'rt/q1', 1);
      const pub = await publisher('rt-pub1');
      pub.send(publishFrame({ topic: 'rt/q1', qos: 1, packetId: 1, props: [], payload: 'm' }));
      const original = await nextPublish(v4);
      assert.equal(original.dup, false);
      const v5original = await nextPublish(v5);
      const first = await nextPublish(v4);
      const second = await nextPublish(v4);
      for (const resent of [first, second]) {
        assert.deepEqual(
          [resent.dup, resent.packetId, resent.topic, resent.payload.toString(), resent.qos],
          [true, original.packetId, 'rt/q1', 'm', 1],
        );
      }
      // Two intervals have passed: a 5.0 resend would be here before the PINGRESP.
      v5.send('c0 00');
      assert.equal((await v5.readPacket()).type, PacketType.Pingresp);
      // Acknowledged, the resends stop: after two more intervals only the PINGRESP comes.
      v4.send(ackFrame(0x40, original.packetId));
      v5.send(ackFrame(0x40, v5original.packetId));
      // Wait for two sweeps by watching another client's resends.
      const watcher = await rawOk(b.port, { version: 4, clientId: 'rt-watch' });
      await rawSubscribe(watcher, 'rt/watch', 1);
      pub.send(publishFrame({ topic: 'rt/watch', qos: 1, packetId: 2, props: [], payload: 'w' }));
      await nextPublish(watcher);
      await nextPublish(watcher);
      await nextPublish(watcher);
      v4.send('c0 00');
      assert.equal((await v4.readPacket()).type, PacketType.Pingresp);
    });

    test('3.1.1: only the unacknowledged one of two is resent', { timeout: 20_000 }, async () => {
      const v4 = await rawOk(b.port, { version: 4, clientId: 'rt-two' });
      await rawSubscribe(v4, 'rt/two', 1);
      const pub = await publisher('rt-pub2');
      pub.send(publishFrame({ topic: 'rt/two', qos: 1, packetId: 1, props: [], payload: 'acked' }));
      pub.send(publishFrame({ topic: 'rt/two', qos: 1, packetId: 2, props: [], payload: 'not acked' }));
      const a = await nextPublish(v4);
      const n = await nextPublish(v4);
      v4.send(ackFrame(0x40, a.packetId));
      const resent = await nextPublish(v4);
      assert.deepEqual(
        [resent.payload.toString(), resent.packetId, resent.dup],
        ['not acked', n.packetId, true],
      );
    });

    test('3.1.1 QoS 2: the PUBLISH is resent until PUBREC, then the PUBREL until PUBCOMP', {
      timeout: 20_000,
    }, async () => {
      const v4 = await rawOk(b.port, { version: 4, clientId: 'rt-q2' });
      await rawSubscribe(v4, 'rt/q2', 2);
      const pub = await publisher('rt-pub3');
      pub.send(publishFrame({ topic: 'rt/q2', qos: 2, packetId: 1, props: [], payload: 'x' }));
      const original = await nextPublish(v4);
      const resent = await nextPublish(v4);
      assert.deepEqual([resent.dup, resent.packetId, resent.qos], [true, original.packetId, 2]);
      v4.send(ackFrame(0x50, original.packetId)); // PUBREC
      const pubrel = await v4.readPacket();
      assert.deepEqual(pubrel, {
        type: PacketType.Pubrel,
        packetId: original.packetId,
        reasonCode: 0,
        properties: null,
      });
      // No PUBCOMP: the PUBREL comes again.
      assert.deepEqual(await v4.readPacket(), pubrel);
      v4.send(ackFrame(0x70, original.packetId)); // PUBCOMP
      v4.send('c0 00');
      assert.equal((await v4.readPacket()).type, PacketType.Pingresp);
    });

    test('3.1 (MQIsdp) clients are resent to as well', { timeout: 20_000 }, async () => {
      const v3 = await rawClient(b.port, 3);
      v3.send(connectBytes({ version: 3, clientId: 'rt-v3' }));
      assert.equal(await v3.readHex(4), '20020000');
      await rawSubscribe(v3, 'rt/v3', 1);
      const pub = await publisher('rt-pub4');
      pub.send(publishFrame({ topic: 'rt/v3', qos: 1, packetId: 1, props: [], payload: 'x' }));
      const original = await nextPublish(v3);
      const resent = await nextPublish(v3);
      assert.deepEqual([resent.dup, resent.packetId], [true, original.packetId]);
    });
  });

  describe('await_rel_timeout', () => {
    test('a QoS 2 packet id not released in time is forgotten: a PUBREL then gets PUBCOMP 0x92, a resent PUBLISH is routed again', {
      timeout: 20_000,
    }, async () => {
      const sub = await rawOk(b.port, { version: 4, clientId: 'ar-sub' });
      await rawSubscribe(sub, 'ar/#');
      const pub = await publisher('ar-pub');
      pub.send(publishFrame({ topic: 'ar/t', qos: 2, packetId: 8, props: [], payload: 'eight' }));
      pub.send(publishFrame({ topic: 'ar/t', qos: 2, packetId: 7, props: [], payload: 'seven' }));
      for (const id of [8, 7]) {
        const rec = await pub.readPacket();
        assert.equal(rec.type, PacketType.Pubrec);
        assert.equal((rec as { packetId: number }).packetId, id);
      }
      assert.deepEqual(
        [(await nextPublish(sub)).payload.toString(), (await nextPublish(sub)).payload.toString()],
        ['eight', 'seven'],
      );
      // Probe: a resent PUBLISH 7 is acknowledged but not routed while 7 awaits its PUBREL
      // [MQTT-4.3.3-10]; once 7 is forgotten it is a new message and routed again. A QoS 0
      // sentinel from the same publisher follows each probe (messages from one publisher keep
      // their order), so the subscriber's next message tells which.
      const deadline = Date.now() + WAIT_MS * 2;
      let routedAgain = false;
      while (!routedAgain) {
        assert.ok(Date.now() < deadline, 'packet id 7 was never forgotten');
        pub.send(
          publishFrame({ topic: 'ar/t', qos: 2, packetId: 7, dup: true, props: [], payload: 'seven' }),
        );
        const rec = (await pub.readPacket()) as Packet & { packetId: number };
        assert.deepEqual([rec.type, rec.packetId], [PacketType.Pubrec, 7]);
        pub.send(publishFrame({ topic: 'ar/sentinel', props: [], payload: '' }));
        const next = await nextPublish(sub);
        if (next.topic === 'ar/t') {
          routedAgain = true;
          assert.equal((await nextPublish(sub)).topic, 'ar/sentinel');
        } else {
          assert.equal(next.topic, 'ar/sentinel');
          await pause(200);
        }
      }
      // 8 arrived before 7, so it was forgotten no later than 7.
      pub.send(ackFrame(0x62, 8));
      const comp = (await pub.readPacket()) as Packet & { packetId: number; reasonCode: number };
      assert.deepEqual(
        [comp.type, comp.packetId, comp.reasonCode],
        [PacketType.Pubcomp, 8, ReasonCode.PacketIdentifierNotFound],
      );
    });
  });
});

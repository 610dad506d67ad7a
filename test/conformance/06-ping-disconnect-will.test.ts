/**
 * Conformance 06: PINGREQ, keep alive, DISCONNECT both ways and the will (MQTT 5.0 sections
 * 3.1.2.5, 3.1.2.10, 3.12, 3.14; MQTT 3.1.1 the same), over raw sockets.
 *
 * Keep alive is 1 s where it is under test, so a silent client is gone after 1.5 s (checked by
 * the broker's once-a-second sweep). That a will was NOT published is shown after the broker has
 * seen the connection end (`nextDisconnect`): a subscriber then gets PINGRESP with nothing
 * before it (see test/helpers/conformance.ts).
 *
 * Test names cite the MQTT 5.0 statement first and the MQTT 3.1.1 one in brackets where its
 * number differs. One broker for the file, default settings.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, ReasonCode } from '../../src/protocol/index.js';
import { nextDisconnect, rawClient } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import {
  connect,
  expectPacket,
  expectPublish,
  expectRefusedAndClosed,
  PINGRESP_HEX,
  quiet,
  v5,
} from '../helpers/conformance.js';
import { ackFrame, connectFrame, disconnectFrame, type WillSpec } from '../helpers/mqtt5.js';

const NAME = { 4: '3.1.1', 5: '5.0' } as const;
const VERSIONS = [4, 5] as const;

describe('conformance 06: PINGREQ, keep alive, DISCONNECT and the will', () => {
  const b = brokerForSuite();

  /** A 5.0 subscriber to `filter` at QoS 2. */
  async function watcher(clientId: string, filter: string) {
    const w = await v5(b.port, clientId);
    assert.deepEqual(await w.subscribe(filter, 2), [2]);
    return w;
  }

  /** A client with a will on `topic`; returns the connection. */
  function withWill(version: 4 | 5, clientId: string, will: WillSpec, keepalive = 60) {
    return connect(b.port, { version, clientId, keepalive, will });
  }

  test('[MQTT-3.12.4-1] PINGREQ gets PINGRESP, d0 00, in both versions', async () => {
    for (const version of VERSIONS) {
      const c = await connect(b.port, { version, clientId: `pg-${version}` });
      c.send('c0 00');
      assert.equal(await c.raw.readHex(2), PINGRESP_HEX);
    }
  });

  test('[MQTT-3.1.2-22] [MQTT-3.1.2-8] (3.1.1 [MQTT-3.1.2-24] [MQTT-3.1.2-8]) a client silent for 1.5 × its keep alive is disconnected as if the network failed: its will is published (5.0: DISCONNECT 0x8D first)', async () => {
    const w = await watcher('ka-watch', 'wl/ka/+');
    await Promise.all(
      VERSIONS.map(async (version) => {
        const c = await withWill(version, `ka-${version}`, { topic: `wl/ka/${version}`, payload: 'gone' }, 1);
        const rest = await c.raw.expectClose(4000, true);
        assert.equal(
          rest.toString('hex'),
          version === 5 ? 'e0018d' : '',
          'what came before the close (5.0: the short form, no properties)',
        );
      }),
    );
    const topics = [(await expectPublish(w.raw)).topic, (await expectPublish(w.raw)).topic].sort();
    assert.deepEqual(topics, ['wl/ka/4', 'wl/ka/5']);
  });

  for (const version of VERSIONS) {
    test(`[MQTT-3.1.2-8] [MQTT-3.14.1-1] (3.1.1 [MQTT-3.1.2-8] [MQTT-3.14.1-1]) ${NAME[version]}: a DISCONNECT with a reserved flag set is malformed: the connection is closed${version === 5 ? ' (DISCONNECT 0x81)' : ''} and the will is published`, async () => {
      const w = await watcher(`dr-watch-${version}`, `wl/dr/${version}`);
      const c = await withWill(version, `dr-${version}`, { topic: `wl/dr/${version}`, payload: 'x' });
      c.send(version === 5 ? 'e1 02 00 00' : 'e1 00');
      assert.equal(await expectRefusedAndClosed(c.raw), version === 5 ? ReasonCode.MalformedPacket : null);
      assert.equal((await expectPublish(w.raw)).topic, `wl/dr/${version}`);
    });

    test(`[MQTT-3.14.4-3] [MQTT-3.1.2-10] (3.1.1 [MQTT-3.14.4-3] [MQTT-3.1.2-10]) ${NAME[version]}: a normal DISCONNECT discards the will`, async () => {
      const w = await watcher(`dn-watch-${version}`, `wl/dn/${version}`);
      const c = await withWill(version, `dn-${version}`, { topic: `wl/dn/${version}`, payload: 'x' });
      const gone = nextDisconnect(b.aviary, `dn-${version}`);
      c.send(version === 5 ? disconnectFrame(ReasonCode.NormalDisconnection) : 'e0 00');
      await c.raw.expectClose();
      await gone;
      await quiet(w.raw);
    });

    test(`[MQTT-3.1.2-12] (3.1.1 [MQTT-3.1.2-12]) ${NAME[version]}: without the will flag nothing is published when the connection drops`, async () => {
      const w = await watcher(`nw-watch-${version}`, '#');
      const c = await connect(b.port, { version, clientId: `nw-${version}` });
      const gone = nextDisconnect(b.aviary, `nw-${version}`);
      await c.raw.destroy();
      await gone;
      await quiet(w.raw);
    });
  }

  test('[MQTT-3.1.2-9] [MQTT-3.1.2-14] [MQTT-3.1.2-15] (3.1.1 [MQTT-3.1.2-9] [MQTT-3.1.2-16] [MQTT-3.1.2-17]) the will is published with its QoS, as a retained message only when Will Retain is 1', async () => {
    const live = await watcher('wr-live', 'wl/wr/#');
    const wills: Array<[version: 4 | 5, qos: 0 | 1 | 2, retain: boolean]> = [
      [4, 1, false],
      [4, 2, true],
      [5, 1, true],
      [5, 2, false],
    ];
    for (const [version, qos, retain] of wills) {
      const id = `wr-${version}-${qos}`;
      const c = await withWill(version, id, { topic: `wl/wr/${version}/${qos}`, payload: 'w', qos, retain });
      const gone = nextDisconnect(b.aviary, id);
      await c.raw.destroy();
      await gone;
      const p = await expectPublish(live.raw);
      assert.deepEqual([p.topic, p.qos], [`wl/wr/${version}/${qos}`, qos], 'published at the will QoS');
      live.send(ackFrame(qos === 1 ? 0x40 : 0x50, p.packetId));
      if (qos === 2) {
        await expectPacket(live.raw, PacketType.Pubrel);
        live.send(ackFrame(0x70, p.packetId));
      }
    }
    // A new subscription gets the retained wills only, with RETAIN 1.
    const later = await v5(b.port, 'wr-later');
    await later.subscribe('wl/wr/#', 0);
    later.send('c0 00');
    const retained: string[] = [];
    for (;;) {
      const p = await later.raw.readPacket();
      if (p.type === PacketType.Pingresp) break;
      assert.equal(p.type, PacketType.Publish);
      assert.equal(p.retain, true);
      retained.push(p.topic);
    }
    assert.deepEqual(retained.sort(), ['wl/wr/4/2', 'wl/wr/5/1']);
  });

  test('[MQTT-3.1.4-3] [MQTT-3.14.2-1] [MQTT-3.14.2-2] [MQTT-3.14.4-1] [MQTT-3.14.4-2] a server DISCONNECT (takeover): reason code 0x8E, no Session Expiry Interval, nothing after it, then the close', async () => {
    const first = await v5(b.port, 'td-1', { props: [Buffer.from([0x11, 0, 0, 0, 30])] });
    const second = await rawClient(b.port, 5);
    second.send(connectFrame({ version: 5, clientId: 'td-1', props: [Buffer.from([0x11, 0, 0, 0, 30])] }));
    const disconnect = await expectPacket(first.raw, PacketType.Disconnect);
    assert.equal(disconnect.reasonCode, ReasonCode.SessionTakenOver);
    assert.equal(disconnect.properties?.sessionExpiryInterval, undefined);
    await first.raw.expectClose(); // and nothing was sent after the DISCONNECT
    const connack = await expectPacket(second, PacketType.Connack);
    assert.equal(connack.reasonCode, 0);
  });
});

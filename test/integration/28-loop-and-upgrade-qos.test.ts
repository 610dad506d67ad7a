/**
 * 28 EMQX's delivery options mqtt.ignore_loop_deliver (No Local for MQTT 3.x clients: a client
 * does not get its own messages back) and mqtt.upgrade_qos (a message is delivered at the
 * subscription's QoS, even above the QoS it was published with), over raw sockets.
 *
 * "Not delivered" is shown with a sentinel from the same publisher: messages from one client
 * arrive in order [MQTT-4.6.0-5], so when the sentinel arrives anything before it would have.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { PacketType, type PublishPacket } from '../../src/protocol/index.js';
import { closeClients, type RawClient, type StartedBroker, startBroker } from '../helpers/broker.js';
import { ackFrame, publishFrame, rawOk, rawSubscribe } from '../helpers/mqtt5.js';

async function nextPublish(raw: RawClient): Promise<PublishPacket> {
  const p = await raw.readPacket();
  assert.equal(p.type, PacketType.Publish, `a PUBLISH, not ${JSON.stringify(p)}`);
  return p as PublishPacket;
}

describe('28 ignore_loop_deliver and upgrade_qos', () => {
  let loop: StartedBroker;
  let upgrade: StartedBroker;

  before(async () => {
    loop = await startBroker({ mqtt: { ignore_loop_deliver: true } });
    upgrade = await startBroker({ mqtt: { upgrade_qos: true } });
  });

  afterEach(closeClients);

  after(async () => {
    await closeClients();
    await loop.close();
    await upgrade.close();
  });

  describe('ignore_loop_deliver', () => {
    test('3.1.1: a client does not receive its own messages; other clients do', async () => {
      const self = await rawOk(loop.port, { version: 4, clientId: 'loop-self' });
      await rawSubscribe(self, 'loop/#');
      const other = await rawOk(loop.port, { version: 4, clientId: 'loop-other' });
      await rawSubscribe(other, 'loop/#');
      self.send(publishFrame({ topic: 'loop/own', payload: 'mine' }));
      self.send(publishFrame({ topic: 'loop/sentinel', payload: 'end' }));
      // The other client gets both of self's messages: they have been routed...
      assert.deepEqual(
        [(await nextPublish(other)).topic, (await nextPublish(other)).topic],
        ['loop/own', 'loop/sentinel'],
      );
      // ...and self got neither: the first message it gets is the one the other sends now.
      other.send(publishFrame({ topic: 'loop/from-other', payload: 'theirs' }));
      assert.equal((await nextPublish(self)).topic, 'loop/from-other');
    });

    test('5.0 clients are not affected: they use the No Local subscription option', async () => {
      const self = await rawOk(loop.port, { clientId: 'loop-v5' });
      await rawSubscribe(self, 'loop5/t');
      self.send(publishFrame({ topic: 'loop5/t', props: [], payload: 'mine' }));
      assert.equal((await nextPublish(self)).payload.toString(), 'mine');
    });

    test('off (the default): a 3.1.1 client gets its own messages back', async () => {
      const self = await rawOk(upgrade.port, { version: 4, clientId: 'loop-off' });
      await rawSubscribe(self, 'loopoff/t');
      self.send(publishFrame({ topic: 'loopoff/t', payload: 'mine' }));
      assert.equal((await nextPublish(self)).payload.toString(), 'mine');
    });
  });

  describe('upgrade_qos', () => {
    test('a QoS 0 message to a QoS 1 subscription arrives at QoS 1 (EMQX upgrade_qos)', async () => {
      const sub = await rawOk(upgrade.port, { clientId: 'up-sub' });
      await rawSubscribe(sub, 'up/t', 1);
      const pub = await rawOk(upgrade.port, { clientId: 'up-pub' });
      pub.send(publishFrame({ topic: 'up/t', props: [], payload: 'zero' }));
      const m = await nextPublish(sub);
      assert.deepEqual([m.qos, m.payload.toString()], [1, 'zero']);
      assert.ok(m.packetId > 0);
      sub.send(ackFrame(0x40, m.packetId));
    });

    test('a QoS 2 message to a QoS 1 subscription still arrives at QoS 1 (the subscription caps it)', async () => {
      const sub = await rawOk(upgrade.port, { version: 4, clientId: 'up-cap' });
      await rawSubscribe(sub, 'up/cap', 1);
      const pub = await rawOk(upgrade.port, { clientId: 'up-cap-pub' });
      pub.send(publishFrame({ topic: 'up/cap', qos: 2, packetId: 1, props: [], payload: 'two' }));
      assert.equal((await nextPublish(sub)).qos, 1);
    });

    test('retained messages are upgraded too', async () => {
      const pub = await rawOk(upgrade.port, { clientId: 'up-ret-pub' });
      pub.send(publishFrame({ topic: 'up/retained', retain: true, props: [], payload: 'kept' }));
      pub.send('c0 00');
      assert.equal((await pub.readPacket()).type, PacketType.Pingresp);
      const sub = await rawOk(upgrade.port, { clientId: 'up-ret-sub' });
      await rawSubscribe(sub, 'up/retained', 2);
      const m = await nextPublish(sub);
      assert.deepEqual([m.qos, m.retain, m.payload.toString()], [2, true, 'kept']);
      pub.send(publishFrame({ topic: 'up/retained', retain: true, props: [], payload: '' }));
    });

    test('off (the default): the lower of the two [MQTT-3.8.4-8]', async () => {
      const sub = await rawOk(loop.port, { clientId: 'up-off' });
      await rawSubscribe(sub, 'upoff/t', 2);
      const pub = await rawOk(loop.port, { clientId: 'up-off-pub' });
      pub.send(publishFrame({ topic: 'upoff/t', props: [], payload: 'zero' }));
      assert.equal((await nextPublish(sub)).qos, 0);
    });
  });
});

/**
 * 27 session expiry set by DISCONNECT, and the Server Keep Alive (MQTT 5.0), over raw sockets.
 *
 * A 5.0 client may change its Session Expiry Interval in its DISCONNECT (3.14.2.2.2): to 0, and
 * the session ends with the connection; to more, and it outlives the interval of the CONNECT.
 * Expiry is checked by the broker's periodic sweep, which the tests call with a time in the
 * future rather than waiting for it. A Server Keep Alive replaces the client's keep alive
 * [MQTT-3.2.2-21], and the 1.5 factor applies to it.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, type PublishPacket, ReasonCode } from '../../src/protocol/index.js';
import { closeClients, nextDisconnect, startBroker } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { disconnectFrame, prop, publishFrame, rawOk, rawOpen, rawSubscribe } from '../helpers/mqtt5.js';

describe('27 session expiry and keep alive', () => {
  const b = brokerForSuite();

  /**
   * Connects with Session Expiry `connectExpiry`, subscribes, leaves with a DISCONNECT carrying
   * `disconnectExpiry` (or none), lets `seconds` pass for the expiry sweep, publishes a QoS 1
   * message and reconnects: returns Session Present and whether the message was waiting.
   */
  async function leaveAndReturn(
    id: string,
    connectExpiry: number,
    disconnectExpiry: number | null,
    seconds: number,
  ): Promise<{ present: boolean; delivered: boolean }> {
    const raw = await rawOk(b.port, {
      clientId: id,
      clean: false,
      props: [prop.sessionExpiryInterval(connectExpiry)],
    });
    await rawSubscribe(raw, `se/${id}`, 1);
    const gone = nextDisconnect(b.aviary, id);
    raw.send(
      disconnectFrame(
        0,
        ...(disconnectExpiry === null ? [] : [prop.sessionExpiryInterval(disconnectExpiry)]),
      ),
    );
    await gone;
    b.aviary.broker.sweepExpiredSessions(Date.now() + seconds * 1000);
    const pub = await rawOk(b.port, { clientId: `${id}-pub` });
    pub.send(publishFrame({ topic: `se/${id}`, qos: 1, packetId: 1, props: [], payload: 'queued' }));
    await pub.readPacket(); // PUBACK: the message was routed (or found nobody)
    const { raw: back, connack } = await rawOpen(b.port, { clientId: id, clean: false });
    let delivered = false;
    if (connack.sessionPresent) {
      const p = (await back.readPacket()) as PublishPacket;
      delivered = p.type === PacketType.Publish && p.payload.toString() === 'queued';
    }
    return { present: connack.sessionPresent, delivered };
  }

  describe('Session Expiry Interval in DISCONNECT (3.14.2.2.2)', () => {
    test('control: a session with expiry 1 s is gone after 2 s', async () => {
      assert.deepEqual(await leaveAndReturn('se-control', 1, null, 2), { present: false, delivered: false });
    });

    test('raised from 1 s to 3600 s: the session outlives the interval of the CONNECT', async () => {
      assert.deepEqual(await leaveAndReturn('se-raised', 1, 3600, 2), { present: true, delivered: true });
    });

    test('set to 0: the session ends with the connection', async () => {
      assert.deepEqual(await leaveAndReturn('se-zero', 3600, 0, 0), { present: false, delivered: false });
    });
  });

  describe('Server Keep Alive', () => {
    test('mqtt.server_keepalive = 1: CONNACK Server Keep Alive 1 replaces the client 60 s; a silent client gets DISCONNECT 0x8D [MQTT-3.2.2-21]', {
      timeout: 15_000,
    }, async () => {
      const ska = await startBroker({ mqtt: { server_keepalive: 1 } });
      try {
        const { raw, connack } = await rawOpen(ska.port, { clientId: 'ska', keepalive: 60 });
        assert.equal(connack.properties?.serverKeepAlive, 1);
        const disconnect = await raw.readPacket(10_000);
        assert.deepEqual(disconnect, {
          type: PacketType.Disconnect,
          reasonCode: ReasonCode.KeepAliveTimeout,
          properties: null,
        });
        await raw.expectClose();
      } finally {
        await closeClients();
        await ska.close();
      }
    });

    test('without mqtt.server_keepalive the CONNACK has no Server Keep Alive: the client keeps its own [MQTT-3.2.2-22]', async () => {
      const { connack } = await rawOpen(b.port, { clientId: 'no-ska', keepalive: 30 });
      assert.equal(connack.properties?.serverKeepAlive, undefined);
    });
  });
});

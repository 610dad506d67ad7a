/**
 * 26 Request Problem Information and Request Response Information (MQTT 5.0 CONNECT properties,
 * 3.1.2.11.6 and 3.1.2.11.7), over raw sockets.
 *
 * With Request Problem Information 1 (the default) the broker explains failures in a Reason
 * String on the error acks and DISCONNECTs where the reason code alone says little; with 0 it
 * sends none on anything but PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29] (and, being asked
 * for quiet, none on those either). A Reason String never makes a packet exceed the client's
 * Maximum Packet Size [MQTT-3.7.2-2]. An internal error ends a connection with DISCONNECT 0x80.
 * Response Information (mqtt.response_information) goes in the
 * CONNACK only to a client that asks for it [MQTT-3.1.2-28].
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacketType, ReasonCode } from '../../src/protocol/index.js';
import { closeClients, startBroker } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { ackFrame, prop, publishFrame, rawOk, rawOpen } from '../helpers/mqtt5.js';

describe('26 problem and response information', () => {
  const b = brokerForSuite({ mqtt: { response_information: 'responses/', receive_maximum: 1 } });

  describe('Request Problem Information', () => {
    test('1 (absent): PUBCOMP 0x92 for an unknown PUBREL carries a Reason String', async () => {
      const raw = await rawOk(b.port, { clientId: 'rpi-1' });
      raw.send(ackFrame(0x62, 5));
      const pubcomp = await raw.readPacket();
      assert.deepEqual(pubcomp, {
        type: PacketType.Pubcomp,
        packetId: 5,
        reasonCode: ReasonCode.PacketIdentifierNotFound,
        properties: { reasonString: 'no QoS 2 message awaits release with this packet id' },
      });
    });

    test('0: the same PUBCOMP 0x92 without a Reason String [MQTT-3.1.2-29]', async () => {
      const raw = await rawOk(b.port, { clientId: 'rpi-0', props: [prop.requestProblemInformation(0)] });
      raw.send(ackFrame(0x62, 5));
      // 70 | 03 | 00 05 | 92
      assert.equal((await raw.readFrame()).toString('hex'), '7003000592');
    });

    test('1: a DISCONNECT for an error says why; 0: the bare reason code', async () => {
      for (const [id, rpi] of [
        ['rpi-d1', 1],
        ['rpi-d0', 0],
      ] as const) {
        const raw = await rawOk(b.port, { clientId: id, props: [prop.requestProblemInformation(rpi)] });
        raw.send(publishFrame({ topic: 'rpi/t', qos: 2, packetId: 1, props: [] }));
        raw.send(publishFrame({ topic: 'rpi/t', qos: 2, packetId: 2, props: [] }));
        assert.equal((await raw.readPacket()).type, PacketType.Pubrec);
        const disconnect = await raw.readPacket();
        assert.equal(disconnect.type, PacketType.Disconnect);
        assert.equal(disconnect.reasonCode, ReasonCode.ReceiveMaximumExceeded);
        if (rpi === 1) assert.match(disconnect.properties?.reasonString ?? '', /Receive Maximum \(1\)/);
        else assert.equal(disconnect.properties, null);
        await raw.expectClose();
      }
    });

    test('an internal error ends a 5.0 connection with DISCONNECT 0x80, not a bare close [MQTT-4.13.2-1]', async () => {
      const buggy = await startBroker();
      try {
        buggy.aviary.hooks.add('message.publish', (m) => {
          if (m?.topic === 'bug/t') throw new Error('a plugin bug');
          return undefined;
        });
        const raw = await rawOk(buggy.port, { clientId: 'bug' });
        raw.send(publishFrame({ topic: 'bug/t', props: [] }));
        assert.deepEqual(await raw.readPacket(), {
          type: PacketType.Disconnect,
          reasonCode: ReasonCode.UnspecifiedError,
          properties: { reasonString: 'internal error' },
        });
        await raw.expectClose();
        // The broker goes on serving.
        await rawOk(buggy.port, { clientId: 'bug-after' });
      } finally {
        await closeClients();
        await buggy.close();
      }
    });

    test('a Reason String that would exceed the client Maximum Packet Size is left out [MQTT-3.7.2-2]', async () => {
      const raw = await rawOk(b.port, { clientId: 'rpi-small', props: [prop.maximumPacketSize(16)] });
      raw.send(ackFrame(0x62, 5));
      assert.equal((await raw.readFrame()).toString('hex'), '7003000592');
    });
  });

  describe('Request Response Information', () => {
    test('1: the CONNACK carries mqtt.response_information', async () => {
      const { connack } = await rawOpen(b.port, {
        clientId: 'rri-1',
        props: [prop.requestResponseInformation(1)],
      });
      assert.equal(connack.properties?.responseInformation, 'responses/');
    });

    test('0 or absent: no Response Information [MQTT-3.1.2-28]', async () => {
      const zero = await rawOpen(b.port, { clientId: 'rri-0', props: [prop.requestResponseInformation(0)] });
      assert.equal(zero.connack.properties?.responseInformation, undefined);
      const absent = await rawOpen(b.port, { clientId: 'rri-absent' });
      assert.equal(absent.connack.properties?.responseInformation, undefined);
    });

    test('asked for, but mqtt.response_information is empty: none', async () => {
      const plain = await startBroker();
      try {
        const { connack } = await rawOpen(plain.port, {
          clientId: 'rri-empty',
          props: [prop.requestResponseInformation(1)],
        });
        assert.equal(connack.properties?.responseInformation, undefined);
      } finally {
        await closeClients();
        await plain.close();
      }
    });
  });
});

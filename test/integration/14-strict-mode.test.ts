/**
 * 14 strict mode (`mqtt.strict_mode`): a 5.0 PUBLISH whose Payload Format Indicator is 1 must
 * carry well-formed UTF-8. "The receiver MAY validate that the Payload is of the format
 * indicated, and if it is not send a PUBACK, PUBREC, or DISCONNECT with Reason Code of 0x99"
 * (5.0 section 3.3.2.3.2). With strict mode on, QoS 1 gets PUBACK 0x99, QoS 2 PUBREC 0x99, QoS 0
 * DISCONNECT 0x99, and the message is neither routed nor retained. Off (the default), the payload
 * is forwarded as it came, with its indicator [MQTT-3.3.2-4].
 *
 * Publishers are raw sockets (exact bytes, an invalid payload no client library would build);
 * the subscriber is an MQTT.js 5.0 client. "Not routed" is checked without timers: the publisher
 * sends a sentinel afterwards, and messages from one publisher arrive in order [MQTT-4.6.0-5].
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  connectClient,
  frame,
  hex,
  Inbox,
  type RawClient,
  rawConnected,
  str,
  subscribe,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { type Packet, PacketType, ReasonCode } from '../../src/protocol/index.js';

/** Not UTF-8: 0xC3 starts a two-byte sequence that 0x28 '(' does not continue. */
const BAD_UTF8 = hex('c3 28');
const GOOD_UTF8 = Buffer.from('héllo', 'utf8');
/** 5.0 PUBLISH properties: Payload Format Indicator 1 (UTF-8). */
const PFI_UTF8 = '02 0101';
const NO_PROPERTIES = '00';

/** A 5.0 PUBLISH built by hand: flags 0x30 | qos << 1 | retain, packet id 1 unless QoS 0. */
function publishV5(
  topic: string,
  qos: 0 | 1 | 2,
  properties: string,
  payload: Buffer,
  retain = false,
): Buffer {
  const first = 0x30 | (qos << 1) | (retain ? 1 : 0);
  return frame(first, str(topic), qos === 0 ? '' : '0001', properties, payload);
}

/** The publisher's own sentinel, QoS 1, packet id 2: once it is acknowledged, all before it was handled. */
async function sentinel(raw: RawClient, topic: string): Promise<void> {
  raw.send(frame(0x32, str(topic), '0002', NO_PROPERTIES, hex('00')));
  const ack = await raw.readPacket();
  assert.equal(ack.type, PacketType.Puback);
}

function reasonOf(p: Packet): number {
  assert.ok('reasonCode' in p, `a packet with a reason code, got ${JSON.stringify(p)}`);
  return p.reasonCode;
}

describe('14 strict mode on', () => {
  const b = brokerForSuite({ mqtt: { strict_mode: true } });

  /** An MQTT.js 5.0 subscriber to `<prefix>/#` and its inbox. */
  async function subscriber(prefix: string): Promise<Inbox> {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, `${prefix}/#`, { qos: 1 });
    return inbox;
  }

  test('QoS 1, indicator 1, invalid UTF-8: PUBACK 0x99 Payload Format Invalid, not routed (5.0 3.3.2.3.2)', async () => {
    const inbox = await subscriber('sm/q1');
    const raw = await rawConnected(b.port, { version: 5, clientId: 'sm-q1' });
    raw.send(publishV5('sm/q1/x', 1, PFI_UTF8, BAD_UTF8));
    const ack = await raw.readPacket();
    assert.equal(ack.type, PacketType.Puback);
    assert.equal(reasonOf(ack), ReasonCode.PayloadFormatInvalid);
    assert.equal(ack.type === PacketType.Puback && ack.packetId, 1);
    await sentinel(raw, 'sm/q1/end');
    assert.deepEqual(
      (await inbox.until('sm/q1/end')).map((m) => m.topic),
      ['sm/q1/end'],
      'the invalid message was not routed',
    );
  });

  test('QoS 2: PUBREC 0x99 and the connection stays; QoS 0: DISCONNECT 0x99 and the connection closes', async () => {
    const inbox = await subscriber('sm/q2');
    const raw = await rawConnected(b.port, { version: 5, clientId: 'sm-q2' });
    raw.send(publishV5('sm/q2/x', 2, PFI_UTF8, BAD_UTF8));
    const rec = await raw.readPacket();
    assert.equal(rec.type, PacketType.Pubrec);
    assert.equal(reasonOf(rec), ReasonCode.PayloadFormatInvalid);
    await sentinel(raw, 'sm/q2/end');
    assert.deepEqual(
      (await inbox.until('sm/q2/end')).map((m) => m.topic),
      ['sm/q2/end'],
    );

    // QoS 0 has no acknowledgement to carry the code: the DISCONNECT is the one way to say it.
    raw.send(publishV5('sm/q2/zero', 0, PFI_UTF8, BAD_UTF8));
    const disconnect = await raw.readPacket();
    assert.equal(disconnect.type, PacketType.Disconnect);
    assert.equal(reasonOf(disconnect), ReasonCode.PayloadFormatInvalid);
    await raw.expectClose(); // [MQTT-4.13.2-1]
  });

  test('an invalid retained message is not retained', async () => {
    const raw = await rawConnected(b.port, { version: 5, clientId: 'sm-retain' });
    raw.send(publishV5('sm/retain/x', 1, PFI_UTF8, BAD_UTF8, true));
    assert.equal(reasonOf(await raw.readPacket()), ReasonCode.PayloadFormatInvalid);
    raw.send(publishV5('sm/retain/end', 1, NO_PROPERTIES, hex('00'), true));
    await raw.readPacket();
    const inbox = await subscriber('sm/retain');
    assert.deepEqual(
      (await inbox.until('sm/retain/end')).map((m) => m.topic),
      ['sm/retain/end'],
      'only the valid retained message',
    );
    raw.send(publishV5('sm/retain/end', 1, NO_PROPERTIES, Buffer.alloc(0), true)); // clean up
    await raw.readPacket();
  });

  test('valid UTF-8 with indicator 1, and any bytes with indicator 0 or none, are routed', async () => {
    const inbox = await subscriber('sm/ok');
    const raw = await rawConnected(b.port, { version: 5, clientId: 'sm-ok' });
    raw.send(publishV5('sm/ok/utf8', 1, PFI_UTF8, GOOD_UTF8));
    assert.equal(reasonOf(await raw.readPacket()), ReasonCode.Success);
    raw.send(publishV5('sm/ok/bytes0', 1, '02 0100', BAD_UTF8));
    assert.equal(reasonOf(await raw.readPacket()), ReasonCode.Success);
    raw.send(publishV5('sm/ok/bytes', 1, NO_PROPERTIES, BAD_UTF8));
    assert.equal(reasonOf(await raw.readPacket()), ReasonCode.Success);
    await sentinel(raw, 'sm/ok/end');
    const got = await inbox.until('sm/ok/end');
    assert.deepEqual(
      got.map((m) => m.topic),
      ['sm/ok/utf8', 'sm/ok/bytes0', 'sm/ok/bytes', 'sm/ok/end'],
    );
    assert.equal(got[0]?.payload.toString('utf8'), 'héllo');
    assert.equal(
      got[0]?.packet.properties?.payloadFormatIndicator,
      true,
      'forwarded unaltered [MQTT-3.3.2-4]',
    );
    assert.deepEqual(got[2]?.payload, BAD_UTF8);
  });

  test('3.1.1 has no Payload Format Indicator: any payload is routed', async () => {
    const inbox = await subscriber('sm/v4');
    const raw = await rawConnected(b.port, { version: 4, clientId: 'sm-v4' });
    raw.send(frame(0x32, str('sm/v4/x'), '0001', BAD_UTF8));
    assert.equal(await raw.readHex(4), '40020001', 'PUBACK');
    const [m] = await inbox.count(1);
    assert.equal(m?.topic, 'sm/v4/x');
    assert.deepEqual(m?.payload, BAD_UTF8);
  });
});

describe('14 strict mode off (the default)', () => {
  const b = brokerForSuite({}, { closeClientsAfterEach: false });

  test('indicator 1 with invalid UTF-8 is forwarded as it came, indicator included [MQTT-3.3.2-4]', async () => {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, 'sm/off/#', { qos: 1 });
    const raw = await rawConnected(b.port, { version: 5, clientId: 'sm-off' });
    raw.send(publishV5('sm/off/x', 1, PFI_UTF8, BAD_UTF8));
    assert.equal(reasonOf(await raw.readPacket()), ReasonCode.Success);
    const [m] = await inbox.count(1);
    assert.deepEqual(m?.payload, BAD_UTF8);
    assert.equal(m?.packet.properties?.payloadFormatIndicator, true);
  });
});

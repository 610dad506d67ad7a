/**
 * Differential tests against mqtt-packet 9 (the codec of MQTT.js and Aedes).
 *
 *   1. mqtt-packet -> us: a generated packet is turned into an mqtt-packet object, written with
 *      mqtt-packet's `generate(obj, { protocolVersion })`, and the bytes are decoded by our
 *      Decoder and by mqtt-packet's parser. Both must give back the packet we started from.
 *   2. us -> mqtt-packet: our `encode` output must parse with mqtt-packet's parser into the same
 *      packet.
 *   3. Where neither side has a documented reason to differ, the two encoders produce the same
 *      bytes.
 *
 * Shapes are mapped field by field (toMqttPacket / fromMqttPacket below): mqtt-packet uses `cmd`,
 * `messageId`, `protocolId`, `returnCode` (3.1.1 CONNACK), `granted`, `unsubscriptions`,
 * subscriptions as { topic, qos, nl, rap, rh }, one-byte properties as booleans,
 * `subscriptionIdentifier` as number | number[], `subscriptionIdentifiersAvailable` (plural), and
 * user properties as an object whose values are string | string[].
 *
 * Intentional differences (all allowed by the specification):
 *   - A 5.0 DISCONNECT or AUTH with reason code 0 and no properties: we send remaining length 0
 *     (3.14.2.1, 3.15.2.1); with another reason code and no properties we omit the property
 *     length. mqtt-packet always writes the reason code and a property length of 0.
 *   - A 5.0 PUBACK/PUBREC/PUBREL/PUBCOMP with a non-zero reason code and no properties: we send
 *     remaining length 3 (3.4.2.2.1: "If the Remaining Length is less than 4 there is no Property
 *     Length"), mqtt-packet 4 with an empty property block.
 *   - User properties: mqtt-packet keeps them as an object, so values of one name stay in order
 *     but different names are regrouped; we keep the wire order [MQTT-3.3.2-18]. Comparisons sort
 *     the groups by name (a stable sort, so each name's values keep their order).
 * Limitations of mqtt-packet that the generators step around:
 *   - its writer refuses a password without a user name even in 5.0 (allowed there) and an
 *     empty client id with Clean Start 0 in 5.0 (allowed there), and writes a 5.0 CONNECT with
 *     the bridge bit as protocol level 3 (it knows 0x83 and 0x84 only);
 *   - its parser refuses an AUTH with remaining length 0 (allowed by 3.15.2.1);
 *   - its parser tests a repeated user property name for truthiness, so after a value '' a
 *     second value of the same name replaces it instead of being added.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import {
  Decoder,
  encode,
  PROPERTY_DEFS,
  type Packet,
  PacketType,
  PacketTypeName,
  type Properties,
  type ProtocolVersion,
  type UserProperties,
} from '../../../src/protocol/index.js';
import {
  examplePackets,
  packetArb,
  packetTypesFor,
  VERSION_NAME,
  VERSIONS,
} from '../../helpers/arbitraries.js';

const RUNS = 300;

type Obj = Record<string, unknown>;
type MqttUserProperties = Record<string, string | string[]>;

const CMD: Record<PacketType, string> = {
  1: 'connect',
  2: 'connack',
  3: 'publish',
  4: 'puback',
  5: 'pubrec',
  6: 'pubrel',
  7: 'pubcomp',
  8: 'subscribe',
  9: 'suback',
  10: 'unsubscribe',
  11: 'unsuback',
  12: 'pingreq',
  13: 'pingresp',
  14: 'disconnect',
  15: 'auth',
};
const TYPE_OF_CMD = new Map(Object.entries(CMD).map(([type, cmd]) => [cmd, Number(type) as PacketType]));

/** Our one-byte 0/1 properties; mqtt-packet reads and writes them as booleans. */
const FLAG_PROPERTIES = new Set<keyof Properties>([
  'payloadFormatIndicator',
  'requestProblemInformation',
  'requestResponseInformation',
  'retainAvailable',
  'wildcardSubscriptionAvailable',
  'subscriptionIdentifierAvailable',
  'sharedSubscriptionAvailable',
]);

// ---------------------------------------------------------------------------------------------
// Mapping our packets to mqtt-packet objects and back

/**
 * mqtt-packet writes properties in the object's key order, we in identifier order: the keys are
 * set in identifier order so that whole frames can be compared byte for byte.
 */
function toMqttProperties(props: Properties | null): Obj | undefined {
  if (props === null) return undefined;
  const out: Obj = {};
  for (const { key } of PROPERTY_DEFS) {
    const value = props[key];
    if (value === undefined) continue;
    if (FLAG_PROPERTIES.has(key)) {
      out[key === 'subscriptionIdentifierAvailable' ? 'subscriptionIdentifiersAvailable' : key] = value === 1;
    } else if (key === 'subscriptionIdentifiers') {
      const ids = value as number[];
      out.subscriptionIdentifier = ids.length === 1 ? ids[0] : ids;
    } else if (key === 'userProperties') {
      const grouped: MqttUserProperties = Object.create(null);
      for (const [name, v] of value as UserProperties) {
        const prev = grouped[name];
        grouped[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      out.userProperties = grouped;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function fromMqttProperties(raw: unknown): Properties | null {
  if (raw === undefined || raw === null) return null;
  const props: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Obj)) {
    if (key === 'subscriptionIdentifiersAvailable') props.subscriptionIdentifierAvailable = value ? 1 : 0;
    else if (FLAG_PROPERTIES.has(key as keyof Properties)) props[key] = value ? 1 : 0;
    else if (key === 'subscriptionIdentifier')
      props.subscriptionIdentifiers = Array.isArray(value) ? value : [value];
    else if (key === 'userProperties') {
      const list: UserProperties = [];
      const grouped = value as MqttUserProperties;
      for (const name of Object.getOwnPropertyNames(grouped)) {
        const v = grouped[name]!;
        for (const one of Array.isArray(v) ? v : [v]) list.push([name, one]);
      }
      props.userProperties = list;
    } else props[key] = value;
  }
  return Object.keys(props).length === 0 ? null : (props as Properties);
}

/** Drops undefined fields: mqtt-packet tells "absent" by a missing key. */
function compact(o: Obj): Obj {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function toMqttPacket(p: Packet, version: ProtocolVersion): Obj {
  const v5 = version === 5;
  const cmd = CMD[p.type];
  switch (p.type) {
    case PacketType.Connect:
      return compact({
        cmd,
        protocolId: p.protocolName,
        protocolVersion: p.protocolVersion,
        bridgeMode: p.bridge || undefined,
        clean: p.clean,
        keepalive: p.keepalive,
        clientId: p.clientId,
        will:
          p.will === null
            ? undefined
            : compact({
                topic: p.will.topic,
                payload: p.will.payload,
                qos: p.will.qos,
                retain: p.will.retain,
                properties: toMqttProperties(p.will.properties),
              }),
        username: p.username ?? undefined,
        password: p.password ?? undefined,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Connack:
      return compact({
        cmd,
        sessionPresent: p.sessionPresent,
        [v5 ? 'reasonCode' : 'returnCode']: p.reasonCode,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Publish:
      return compact({
        cmd,
        topic: p.topic,
        payload: p.payload,
        qos: p.qos,
        dup: p.dup,
        retain: p.retain,
        messageId: p.qos > 0 ? p.packetId : undefined,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return compact({
        cmd,
        messageId: p.packetId,
        reasonCode: v5 ? p.reasonCode : undefined,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Subscribe:
      return compact({
        cmd,
        messageId: p.packetId,
        subscriptions: p.subscriptions.map((s) =>
          v5
            ? {
                topic: s.topicFilter,
                qos: s.qos,
                nl: s.noLocal,
                rap: s.retainAsPublished,
                rh: s.retainHandling,
              }
            : { topic: s.topicFilter, qos: s.qos },
        ),
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Suback:
      return compact({
        cmd,
        messageId: p.packetId,
        granted: p.reasonCodes,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Unsubscribe:
      return compact({
        cmd,
        messageId: p.packetId,
        unsubscriptions: p.topicFilters,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Unsuback:
      return compact({
        cmd,
        messageId: p.packetId,
        granted: v5 ? p.reasonCodes : undefined,
        properties: toMqttProperties(p.properties),
      });
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { cmd };
    case PacketType.Disconnect:
    case PacketType.Auth:
      return compact({ cmd, reasonCode: p.reasonCode, properties: toMqttProperties(p.properties) });
  }
}

function fromMqttPacket(m: Obj, version: ProtocolVersion): Packet {
  const v5 = version === 5;
  const type = TYPE_OF_CMD.get(m.cmd as string);
  const props = (): Properties | null => (v5 ? fromMqttProperties(m.properties) : null);
  const n = (key: string): number => m[key] as number;
  switch (type) {
    case PacketType.Connect: {
      const will = m.will as Obj | undefined;
      return {
        type,
        protocolName: m.protocolId as string,
        protocolVersion: m.protocolVersion as ProtocolVersion,
        bridge: m.bridgeMode === true,
        clean: m.clean as boolean,
        keepalive: n('keepalive'),
        clientId: m.clientId as string,
        will:
          will === undefined
            ? null
            : {
                topic: will.topic as string,
                payload: will.payload as Buffer,
                qos: will.qos as 0 | 1 | 2,
                retain: will.retain as boolean,
                properties: m.protocolVersion === 5 ? fromMqttProperties(will.properties) : null,
              },
        username: (m.username as string | undefined) ?? null,
        password: (m.password as Buffer | undefined) ?? null,
        properties: m.protocolVersion === 5 ? fromMqttProperties(m.properties) : null,
      };
    }
    case PacketType.Connack:
      return {
        type,
        sessionPresent: m.sessionPresent as boolean,
        reasonCode: v5 ? n('reasonCode') : n('returnCode'),
        properties: props(),
      };
    case PacketType.Publish:
      return {
        type,
        topic: m.topic as string,
        payload: m.payload as Buffer,
        qos: m.qos as 0 | 1 | 2,
        retain: m.retain as boolean,
        dup: m.dup as boolean,
        packetId: n('qos') > 0 ? n('messageId') : 0,
        properties: props(),
      };
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return {
        type,
        packetId: n('messageId'),
        reasonCode: v5 ? n('reasonCode') : 0,
        properties: props(),
      } as Packet;
    case PacketType.Subscribe:
      return {
        type,
        packetId: n('messageId'),
        subscriptions: (m.subscriptions as Obj[]).map((s) => ({
          topicFilter: s.topic as string,
          qos: s.qos as 0 | 1 | 2,
          noLocal: v5 ? (s.nl as boolean) : false,
          retainAsPublished: v5 ? (s.rap as boolean) : false,
          retainHandling: v5 ? (s.rh as 0 | 1 | 2) : 0,
        })),
        properties: props(),
      };
    case PacketType.Suback:
      return { type, packetId: n('messageId'), reasonCodes: m.granted as number[], properties: props() };
    case PacketType.Unsubscribe:
      return {
        type,
        packetId: n('messageId'),
        topicFilters: m.unsubscriptions as string[],
        properties: props(),
      };
    case PacketType.Unsuback:
      return {
        type,
        packetId: n('messageId'),
        reasonCodes: v5 ? (m.granted as number[]) : [],
        properties: props(),
      };
    case PacketType.Pingreq:
    case PacketType.Pingresp:
      return { type };
    case PacketType.Disconnect:
    case PacketType.Auth:
      return { type, reasonCode: v5 ? n('reasonCode') : 0, properties: props() };
    default:
      throw new Error(`unknown mqtt-packet cmd ${String(m.cmd)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Running both codecs

function mqttPacketGenerate(m: Obj, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(m as unknown as mqttPacket.Packet, { protocolVersion: version });
}

function mqttPacketParse(bytes: Buffer, version: ProtocolVersion): Obj {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const packets: Obj[] = [];
  let error: unknown = null;
  parser.on('packet', (p) => packets.push(p as unknown as Obj));
  parser.on('error', (e) => {
    error = e;
  });
  parser.parse(bytes);
  if (error !== null) throw error;
  assert.equal(packets.length, 1, 'mqtt-packet parsed one packet');
  return packets[0]!;
}

function ourDecode(bytes: Buffer, version: ProtocolVersion): Packet {
  const packets = new Decoder({ version }).decodeAll(bytes);
  assert.equal(packets.length, 1, 'we decoded one packet');
  return packets[0]!;
}

/** User properties with their groups sorted by name (see the header: mqtt-packet regroups). */
function canonical(p: Packet): Packet {
  const sortProps = (props: Properties | null): Properties | null => {
    if (props?.userProperties === undefined) return props;
    const sorted = [...props.userProperties].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return { ...props, userProperties: sorted };
  };
  if (!('properties' in p)) return p;
  const out = { ...p, properties: sortProps(p.properties) } as Packet;
  if (out.type === PacketType.Connect && out.will !== null) {
    out.will = { ...out.will, properties: sortProps(out.will.properties) };
  }
  return out;
}

function allUserProperties(p: Packet): UserProperties[] {
  const lists: UserProperties[] = [];
  if ('properties' in p && p.properties?.userProperties) lists.push(p.properties.userProperties);
  if (p.type === PacketType.Connect && p.will?.properties?.userProperties)
    lists.push(p.will.properties.userProperties);
  return lists;
}

/** mqtt-packet's writer refuses these valid 5.0 CONNECTs (see the header). */
function mqttPacketCanWrite(p: Packet): boolean {
  if (p.type !== PacketType.Connect) return true;
  // It maps a 5.0 level with the bridge bit (0x85) to level 3.
  if (p.bridge && p.protocolVersion === 5) return false;
  if (p.password !== null && p.username === null) return false;
  return !(p.clientId === '' && !p.clean);
}

/** mqtt-packet's parser loses a repeated user property after an empty value (see the header). */
function mqttPacketCanParse(p: Packet): boolean {
  if (p.type === PacketType.Auth && p.reasonCode === 0 && p.properties === null) return false;
  return allUserProperties(p).every((list) => {
    const seenEmpty = new Set<string>();
    for (const [name, value] of list) {
      if (seenEmpty.has(name)) return false;
      if (value === '') seenEmpty.add(name);
    }
    return true;
  });
}

/** The cases of the header where the two encoders write different, equally valid bytes. */
function sameBytesExpected(p: Packet, version: ProtocolVersion): boolean {
  if (allUserProperties(p).length > 0) return false;
  if (version !== 5) return true;
  switch (p.type) {
    case PacketType.Disconnect:
    case PacketType.Auth:
      return p.properties !== null;
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return p.reasonCode === 0 || p.properties !== null;
    default:
      return true;
  }
}

// ---------------------------------------------------------------------------------------------

for (const version of VERSIONS) {
  describe(`differential against mqtt-packet, ${VERSION_NAME[version]}`, () => {
    for (const type of packetTypesFor(version)) {
      const name = PacketTypeName[type];
      const arb = packetArb(type, version);

      test(`${name}: mqtt-packet generate -> our decoder and mqtt-packet's parser agree`, () => {
        fc.assert(
          fc.property(arb.filter(mqttPacketCanWrite), (packet) => {
            const bytes = mqttPacketGenerate(toMqttPacket(packet, version), version);
            assert.deepEqual(canonical(ourDecode(bytes, version)), canonical(packet), 'our decoder');
            if (mqttPacketCanParse(packet)) {
              const theirs = fromMqttPacket(mqttPacketParse(bytes, version), version);
              assert.deepEqual(canonical(theirs), canonical(packet), "mqtt-packet's parser");
            }
          }),
          { numRuns: RUNS },
        );
      });

      test(`${name}: our encode -> mqtt-packet's parser`, () => {
        fc.assert(
          fc.property(arb.filter(mqttPacketCanParse), (packet) => {
            const theirs = fromMqttPacket(mqttPacketParse(encode(packet, version), version), version);
            assert.deepEqual(canonical(theirs), canonical(packet));
          }),
          { numRuns: RUNS },
        );
      });

      test(`${name}: both encoders write the same bytes outside the documented differences`, () => {
        const comparable = arb.filter((p) => mqttPacketCanWrite(p) && sameBytesExpected(p, version));
        fc.assert(
          fc.property(comparable, (packet) => {
            assert.deepEqual(
              encode(packet, version),
              mqttPacketGenerate(toMqttPacket(packet, version), version),
            );
          }),
          { numRuns: RUNS },
        );
      });
    }

    test('the hand-written examples agree in both directions', () => {
      for (const packet of examplePackets(version)) {
        const label = PacketTypeName[packet.type];
        const theirs = fromMqttPacket(mqttPacketParse(encode(packet, version), version), version);
        assert.deepEqual(canonical(theirs), canonical(packet), `${label}: ours -> mqtt-packet`);
        const bytes = mqttPacketGenerate(toMqttPacket(packet, version), version);
        assert.deepEqual(
          canonical(ourDecode(bytes, version)),
          canonical(packet),
          `${label}: mqtt-packet -> ours`,
        );
      }
    });
  });
}

describe('documented differences, pinned to their bytes', () => {
  test('5.0 DISCONNECT: we omit the empty property block (and the reason code when it is 0)', () => {
    const normal: Packet = { type: PacketType.Disconnect, reasonCode: 0, properties: null };
    assert.deepEqual(encode(normal, 5), Buffer.from([0xe0, 0x00]));
    assert.deepEqual(mqttPacketGenerate(toMqttPacket(normal, 5), 5), Buffer.from([0xe0, 0x02, 0x00, 0x00]));
    const withCode: Packet = { type: PacketType.Disconnect, reasonCode: 0x8e, properties: null };
    assert.deepEqual(encode(withCode, 5), Buffer.from([0xe0, 0x01, 0x8e]));
    assert.deepEqual(mqttPacketGenerate(toMqttPacket(withCode, 5), 5), Buffer.from([0xe0, 0x02, 0x8e, 0x00]));
    // Each side reads the other's form.
    assert.deepEqual(ourDecode(Buffer.from([0xe0, 0x02, 0x8e, 0x00]), 5), withCode);
    assert.deepEqual(fromMqttPacket(mqttPacketParse(encode(withCode, 5), 5), 5), withCode);
  });

  test('5.0 PUBACK with a reason code and no properties: remaining length 3 (ours) or 4', () => {
    const ack: Packet = { type: PacketType.Puback, packetId: 5, reasonCode: 0x10, properties: null };
    assert.deepEqual(encode(ack, 5), Buffer.from([0x40, 0x03, 0x00, 0x05, 0x10]));
    assert.deepEqual(
      mqttPacketGenerate(toMqttPacket(ack, 5), 5),
      Buffer.from([0x40, 0x04, 0x00, 0x05, 0x10, 0x00]),
    );
    assert.deepEqual(ourDecode(Buffer.from([0x40, 0x04, 0x00, 0x05, 0x10, 0x00]), 5), ack);
  });

  test('5.0 AUTH with reason 0 and no properties: we send F0 00, which mqtt-packet cannot parse', () => {
    const auth: Packet = { type: PacketType.Auth, reasonCode: 0, properties: null };
    assert.deepEqual(encode(auth, 5), Buffer.from([0xf0, 0x00]));
    assert.throws(() => mqttPacketParse(encode(auth, 5), 5), /auth reason code/);
    assert.deepEqual(ourDecode(mqttPacketGenerate(toMqttPacket(auth, 5), 5), 5), auth);
  });

  test('user properties: mqtt-packet regroups by name, we keep the wire order', () => {
    const publish: Packet = {
      type: PacketType.Publish,
      topic: 't',
      payload: Buffer.alloc(0),
      qos: 0,
      retain: false,
      dup: false,
      packetId: 0,
      properties: {
        userProperties: [
          ['a', '1'],
          ['b', '2'],
          ['a', '3'],
        ],
      },
    };
    const decoded = ourDecode(encode(publish, 5), 5);
    assert.deepEqual(decoded, publish);
    const theirs = fromMqttPacket(mqttPacketParse(encode(publish, 5), 5), 5);
    assert.deepEqual(theirs.type === PacketType.Publish && theirs.properties?.userProperties, [
      ['a', '1'],
      ['a', '3'],
      ['b', '2'],
    ]);
  });
});

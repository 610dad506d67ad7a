/**
 * fast-check arbitraries for MQTT packets, one per packet type and protocol version
 * (3 = MQTT 3.1 "MQIsdp", 4 = 3.1.1, 5 = 5.0), plus a hand-written example of each.
 *
 * Every generated packet is valid for its version, so it must survive encode -> decode
 * unchanged:
 *   - strings are well-formed UTF-8 without U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]; they mix ASCII,
 *     2-, 3- and 4-byte characters and the BOM U+FEFF, which must be kept [MQTT-1.5.4-3];
 *   - topic names have no wildcard [MQTT-3.3.2-2]; topic filters place `+` and `#` as whole
 *     levels, `#` last [MQTT-4.7.1-2] [MQTT-4.7.1-3]; both are at least one character long
 *     [MQTT-4.7.3-1] except a 5.0 PUBLISH topic that a Topic Alias stands in for;
 *   - properties appear only in 5.0 and only where the table in src/protocol/mqtt/properties.ts
 *     allows them, with values in range (0/1 flags, non-zero maxima, aliases and subscription
 *     identifiers 1..268,435,455); user properties repeat names on purpose;
 *   - QoS rules hold: DUP only with QoS > 0 [MQTT-3.3.1-2], a non-zero packet identifier where
 *     one is carried [MQTT-2.2.1-3], none on QoS 0;
 *   - fields a version lacks keep the neutral value packets.ts documents (reasonCode 0,
 *     properties null, noLocal false, retainHandling 0, ...); AUTH exists only in 5.0.
 * Empty property sets are `null`, never `{}`: the decoder returns null for an empty block.
 */

import fc from 'fast-check';
import {
  type AuthPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  Limits,
  type Packet,
  PacketType,
  type PingreqPacket,
  type PingrespPacket,
  PROPERTY_DEFS,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscribePacket,
  type Subscription,
  type UnsubackPacket,
  type UnsubscribePacket,
  type UserProperties,
  WILL,
} from '../../src/protocol/index.js';

export const VERSIONS: readonly ProtocolVersion[] = [3, 4, 5];

export const VERSION_NAME: Readonly<Record<ProtocolVersion, string>> = {
  3: 'MQTT 3.1',
  4: 'MQTT 3.1.1',
  5: 'MQTT 5.0',
};

/** The packet types that exist in a version: all but AUTH before 5.0. */
export function packetTypesFor(version: ProtocolVersion): PacketType[] {
  const all = Object.values(PacketType) as PacketType[];
  return version === 5 ? all : all.filter((t) => t !== PacketType.Auth);
}

// ---------------------------------------------------------------------------------------------
// Reason codes, written out from the specification rather than taken from the code under test.

/** CONNACK reason codes of 5.0 (3.2.2.2). */
export const CONNACK_CODES_V5 = [
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97, 0x99, 0x9a,
  0x9b, 0x9c, 0x9d, 0x9f,
] as const;
/** PUBACK and PUBREC reason codes (3.4.2.1, 3.5.2.1). */
export const PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99] as const;
/** PUBREL and PUBCOMP reason codes (3.6.2.1, 3.7.2.1). */
export const PUBREL_CODES = [0x00, 0x92] as const;
/** SUBACK reason codes of 5.0 (3.9.3). */
export const SUBACK_CODES_V5 = [
  0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
] as const;
/** UNSUBACK reason codes of 5.0 (3.11.3). */
export const UNSUBACK_CODES_V5 = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91] as const;
/** DISCONNECT reason codes (3.14.2.1). */
export const DISCONNECT_CODES = [
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97,
  0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
] as const;
/** AUTH reason codes (3.15.2.1). */
export const AUTH_CODES = [0x00, 0x18, 0x19] as const;

// ---------------------------------------------------------------------------------------------
// Strings and topics

/** One Unicode scalar value in [min, max], never a surrogate. */
const scalar = (min: number, max: number): fc.Arbitrary<string> =>
  fc
    .integer({ min, max })
    .filter((c) => c < 0xd800 || c > 0xdfff)
    .map((c) => String.fromCodePoint(c));

/** A character of an MQTT string: 1 to 4 UTF-8 bytes, never U+0000, sometimes the BOM. */
export const mqttChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: scalar(0x01, 0x7f) },
  { weight: 2, arbitrary: scalar(0x80, 0x7ff) },
  { weight: 2, arbitrary: scalar(0x800, 0xffff) },
  { weight: 2, arbitrary: scalar(0x10000, 0x10ffff) },
  { weight: 1, arbitrary: fc.constant('\uFEFF') },
);

export function mqttString(
  constraints: { minLength?: number; maxLength?: number } = {},
): fc.Arbitrary<string> {
  return fc.string({ unit: mqttChar, maxLength: 12, ...constraints });
}

const levelChar = mqttChar.filter((c) => c !== '/' && c !== '+' && c !== '#');

/** One topic level: any characters but '/', '+' and '#'; may be empty ('a//b' is valid). */
export const topicLevel: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'sensor', '$SYS', 'température', '🌡') },
  { weight: 3, arbitrary: fc.string({ unit: levelChar, minLength: 1, maxLength: 6 }) },
  { weight: 1, arbitrary: fc.constant('') },
);

/** A topic name: levels joined by '/', no wildcard, at least one character. */
export const topicName: fc.Arbitrary<string> = fc
  .array(topicLevel, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join('/'))
  .filter((t) => t.length > 0);

/** A topic filter: '+' as whole levels anywhere, '#' only as the last level; sometimes shared. */
export const topicFilter: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(fc.oneof({ weight: 3, arbitrary: topicLevel }, { weight: 1, arbitrary: fc.constant('+') }), {
      minLength: 0,
      maxLength: 5,
    }),
    fc.boolean(),
    fc.option(fc.constantFrom('$share/g/', '$share/group-1/', '$queue/'), { nil: null, freq: 6 }),
  )
  .map(([levels, hash, prefix]) => {
    const filter = hash ? [...levels, '#'].join('/') : levels.join('/');
    return (prefix ?? '') + (filter.length > 0 ? filter : '#');
  });

// ---------------------------------------------------------------------------------------------
// Properties

const buffer = (maxLength = 16): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));

/** User properties: names drawn partly from a small pool so that they repeat. */
export const userProperties: fc.Arbitrary<UserProperties> = fc.array(
  fc.tuple(
    fc.oneof(fc.constantFrom('k', 'name', 'ключ', '😀', ''), mqttString({ maxLength: 6 })),
    mqttString({ maxLength: 8 }),
  ),
  { minLength: 1, maxLength: 5 },
);

type PropertyDef = (typeof PROPERTY_DEFS)[number];

/** Values in range for one property in a packet of `type` (or WILL). */
function propertyValue(d: PropertyDef, type: number): fc.Arbitrary<unknown> {
  const inRange = (n: number): boolean => d.check === null || d.check(n) === null;
  switch (d.kind) {
    case 'byte':
      // Every one-byte property is a 0/1 flag.
      return fc.constantFrom(0, 1).filter(inRange);
    case 'u16':
      return fc.integer({ min: d.check === null ? 0 : 1, max: 0xffff }).filter(inRange);
    case 'u32':
      return fc.integer({ min: d.check === null ? 0 : 1, max: 0xffff_ffff }).filter(inRange);
    case 'varint': {
      const id = fc.integer({ min: 1, max: Limits.MaxSubscriptionIdentifier });
      // One per SUBSCRIBE; a PUBLISH to a client carries one per matching subscription.
      return fc.array(id, { minLength: 1, maxLength: type === PacketType.Subscribe ? 1 : 4 });
    }
    case 'string':
      // A Response Topic is a topic name [MQTT-3.3.2-14].
      return d.key === 'responseTopic' ? topicName : mqttString();
    case 'binary':
      return buffer();
    case 'pair':
      return userProperties;
  }
}

/**
 * Properties for a packet of `type` (a PacketType, or WILL for will properties): any subset of
 * those the table allows there, null when the subset is empty.
 */
export function propertiesArb(type: number): fc.Arbitrary<Properties | null> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const d of PROPERTY_DEFS) {
    if ((d.allowed & (1 << type)) !== 0) model[d.key] = propertyValue(d, type);
  }
  const some = fc.record(model, { requiredKeys: [] }).map((raw) => {
    // fast-check builds records without a prototype; the decoder returns plain objects.
    const props: Properties = { ...raw };
    // Authentication data needs an authentication method (3.1.2.11.3).
    if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
      delete props.authenticationData;
    }
    return Object.keys(props).length === 0 ? null : props;
  });
  // fast-check includes most optional keys; make the property-less short forms common too.
  return fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: some });
}

const v5Properties = (version: ProtocolVersion, type: number): fc.Arbitrary<Properties | null> =>
  version === 5 ? propertiesArb(type) : fc.constant(null);

// ---------------------------------------------------------------------------------------------
// Packets

const qos = fc.constantFrom<QoS>(0, 1, 2);
const packetId = fc.integer({ min: 1, max: Limits.MaxPacketId });
const nullable = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> => fc.option(arb, { nil: null });

export function connectArb(version: ProtocolVersion): fc.Arbitrary<ConnectPacket> {
  const will = fc
    .record({
      topic: topicName,
      payload: buffer(32),
      qos,
      retain: fc.boolean(),
      properties: v5Properties(version, WILL),
    })
    .map((w) => ({ ...w })); // a plain object, as the decoder returns
  return fc
    .record({
      bridge: fc.boolean(),
      clean: fc.boolean(),
      keepalive: fc.integer({ min: 0, max: 0xffff }),
      // 3.1 requires a client identifier; 3.1.1 and 5.0 allow an empty one.
      clientId: mqttString({ minLength: version === 3 ? 1 : 0, maxLength: 23 }),
      will: nullable(will),
      username: nullable(mqttString()),
      password: nullable(buffer()),
      properties: v5Properties(version, PacketType.Connect),
    })
    .map(
      (f): ConnectPacket => ({
        type: PacketType.Connect,
        protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion: version,
        bridge: f.bridge,
        // An empty client identifier needs Clean Session 1 in 3.1.1 [MQTT-3.1.3-7].
        clean: version === 4 && f.clientId === '' ? true : f.clean,
        keepalive: f.keepalive,
        clientId: f.clientId,
        will: f.will,
        username: f.username,
        // Before 5.0 a password needs a user name [MQTT-3.1.2-22].
        password: version !== 5 && f.username === null ? null : f.password,
        properties: f.properties,
      }),
    );
}

export function connackArb(version: ProtocolVersion): fc.Arbitrary<ConnackPacket> {
  const code = version === 5 ? fc.constantFrom(...CONNACK_CODES_V5) : fc.integer({ min: 0, max: 5 });
  return fc
    .record({
      sessionPresent: fc.boolean(),
      reasonCode: code,
      properties: v5Properties(version, PacketType.Connack),
    })
    .map(
      (f): ConnackPacket => ({
        type: PacketType.Connack,
        // Session Present exists from 3.1.1 on, and only with a success code [MQTT-3.2.2-6].
        sessionPresent: version !== 3 && f.reasonCode === 0 && f.sessionPresent,
        reasonCode: f.reasonCode,
        properties: f.properties,
      }),
    );
}

export function publishArb(
  version: ProtocolVersion,
  payload: fc.Arbitrary<Buffer> = buffer(64),
): fc.Arbitrary<PublishPacket> {
  return fc
    .record({
      topic: topicName,
      payload,
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId,
      properties: v5Properties(version, PacketType.Publish),
      useAliasOnly: fc.boolean(),
    })
    .map(
      (f): PublishPacket => ({
        type: PacketType.Publish,
        // In 5.0 a Topic Alias may stand in for the topic name (3.3.2.3.4).
        topic: f.properties?.topicAlias !== undefined && f.useAliasOnly ? '' : f.topic,
        payload: f.payload,
        qos: f.qos,
        retain: f.retain,
        dup: f.qos > 0 && f.dup,
        packetId: f.qos > 0 ? f.packetId : 0,
        properties: f.properties,
      }),
    );
}

type AckType =
  | typeof PacketType.Puback
  | typeof PacketType.Pubrec
  | typeof PacketType.Pubrel
  | typeof PacketType.Pubcomp;

export function ackArb(type: AckType, version: ProtocolVersion): fc.Arbitrary<Packet> {
  const codes = type === PacketType.Puback || type === PacketType.Pubrec ? PUBACK_CODES : PUBREL_CODES;
  return fc
    .record({
      packetId,
      reasonCode: version === 5 ? fc.constantFrom<number>(...codes) : fc.constant(0),
      properties: v5Properties(version, type),
    })
    .map((f) => ({ type, ...f }) as Packet);
}

export function subscribeArb(version: ProtocolVersion): fc.Arbitrary<SubscribePacket> {
  const subscription: fc.Arbitrary<Subscription> =
    version === 5
      ? fc
          .record({
            topicFilter,
            qos,
            noLocal: fc.boolean(),
            retainAsPublished: fc.boolean(),
            retainHandling: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
          })
          // No Local on a shared subscription is a protocol error [MQTT-3.8.3-4].
          .map((s) => ({ ...s, noLocal: s.noLocal && !s.topicFilter.startsWith('$share/') }))
      : topicFilter.chain((f) =>
          qos.map((q) => ({
            topicFilter: f,
            qos: q,
            noLocal: false,
            retainAsPublished: false,
            retainHandling: 0 as const,
          })),
        );
  return fc
    .record({
      packetId,
      subscriptions: fc.array(subscription, { minLength: 1, maxLength: 4 }),
      properties: v5Properties(version, PacketType.Subscribe),
    })
    .map((f) => ({ type: PacketType.Subscribe, ...f }));
}

export function subackArb(version: ProtocolVersion): fc.Arbitrary<SubackPacket> {
  const code =
    version === 5
      ? fc.constantFrom<number>(...SUBACK_CODES_V5)
      : // 0x80 (failure) appeared in 3.1.1.
        fc.constantFrom(...(version === 4 ? [0, 1, 2, 0x80] : [0, 1, 2]));
  return fc
    .record({
      packetId,
      reasonCodes: fc.array(code, { minLength: 1, maxLength: 6 }),
      properties: v5Properties(version, PacketType.Suback),
    })
    .map((f) => ({ type: PacketType.Suback, ...f }));
}

export function unsubscribeArb(version: ProtocolVersion): fc.Arbitrary<UnsubscribePacket> {
  return fc
    .record({
      packetId,
      topicFilters: fc.array(topicFilter, { minLength: 1, maxLength: 4 }),
      properties: v5Properties(version, PacketType.Unsubscribe),
    })
    .map((f) => ({ type: PacketType.Unsubscribe, ...f }));
}

export function unsubackArb(version: ProtocolVersion): fc.Arbitrary<UnsubackPacket> {
  return fc
    .record({
      packetId,
      // 3.1 and 3.1.1 UNSUBACKs have no payload.
      reasonCodes:
        version === 5
          ? fc.array(fc.constantFrom<number>(...UNSUBACK_CODES_V5), { minLength: 1, maxLength: 6 })
          : fc.constant<number[]>([]),
      properties: v5Properties(version, PacketType.Unsuback),
    })
    .map((f) => ({ type: PacketType.Unsuback, ...f }));
}

export function disconnectArb(version: ProtocolVersion): fc.Arbitrary<DisconnectPacket> {
  if (version !== 5) return fc.constant({ type: PacketType.Disconnect, reasonCode: 0, properties: null });
  return fc
    .record({
      reasonCode: fc.constantFrom<number>(...DISCONNECT_CODES),
      properties: propertiesArb(PacketType.Disconnect),
    })
    .map((f) => ({ type: PacketType.Disconnect, ...f }));
}

/** AUTH (5.0): either the empty form (reason 0, no properties) or one with a method (3.15.2.2.2). */
export function authArb(): fc.Arbitrary<AuthPacket> {
  const withMethod = fc
    .record({
      reasonCode: fc.constantFrom<number>(...AUTH_CODES),
      properties: propertiesArb(PacketType.Auth),
      method: mqttString({ minLength: 1 }),
    })
    .map(
      (f): AuthPacket => ({
        type: PacketType.Auth,
        reasonCode: f.reasonCode,
        properties: { ...f.properties, authenticationMethod: f.properties?.authenticationMethod ?? f.method },
      }),
    );
  return fc.oneof(
    {
      weight: 1,
      arbitrary: fc.constant<AuthPacket>({ type: PacketType.Auth, reasonCode: 0, properties: null }),
    },
    { weight: 4, arbitrary: withMethod },
  );
}

/** The arbitrary for one packet type in one version. AUTH only exists in 5.0. */
export function packetArb(type: PacketType, version: ProtocolVersion): fc.Arbitrary<Packet> {
  switch (type) {
    case PacketType.Connect:
      return connectArb(version);
    case PacketType.Connack:
      return connackArb(version);
    case PacketType.Publish:
      return publishArb(version);
    case PacketType.Puback:
    case PacketType.Pubrec:
    case PacketType.Pubrel:
    case PacketType.Pubcomp:
      return ackArb(type, version);
    case PacketType.Subscribe:
      return subscribeArb(version);
    case PacketType.Suback:
      return subackArb(version);
    case PacketType.Unsubscribe:
      return unsubscribeArb(version);
    case PacketType.Unsuback:
      return unsubackArb(version);
    case PacketType.Pingreq:
      return fc.constant<PingreqPacket>({ type: PacketType.Pingreq });
    case PacketType.Pingresp:
      return fc.constant<PingrespPacket>({ type: PacketType.Pingresp });
    case PacketType.Disconnect:
      return disconnectArb(version);
    case PacketType.Auth:
      if (version !== 5) throw new Error('AUTH exists only in MQTT 5.0');
      return authArb();
  }
}

/** Any packet of a version. */
export function anyPacketArb(version: ProtocolVersion): fc.Arbitrary<Packet> {
  return fc.oneof(...packetTypesFor(version).map((t) => packetArb(t, version)));
}

// ---------------------------------------------------------------------------------------------
// Hand-written examples

const UP: UserProperties = [
  ['k', 'v1'],
  ['ключ', 'значение'],
  ['k', 'v2 😀'],
];

/**
 * One fully populated packet of each type for a version: every field set, in 5.0 with several
 * properties and repeated user properties, strings with 2-, 3- and 4-byte characters.
 */
export function examplePackets(version: ProtocolVersion): Packet[] {
  const v5 = version === 5;
  const props = (p: Properties): Properties | null => (v5 ? p : null);
  const reason = (code: number): number => (v5 ? code : 0);
  const packets: Packet[] = [
    {
      type: PacketType.Connect,
      protocolName: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      bridge: false,
      clean: true,
      keepalive: 60,
      clientId: 'client-é-😀',
      will: {
        topic: 'clients/é/status',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: true,
        properties: props({ willDelayInterval: 30, contentType: 'text/plain', userProperties: UP }),
      },
      username: 'ユーザー',
      password: Buffer.from([0, 1, 2, 0xff]),
      properties: props({
        sessionExpiryInterval: 3600,
        receiveMaximum: 20,
        maximumPacketSize: 1_048_576,
        topicAliasMaximum: 10,
        requestProblemInformation: 1,
        authenticationMethod: 'SCRAM-SHA-256',
        authenticationData: Buffer.from('client-first'),
        userProperties: UP,
      }),
    },
    {
      type: PacketType.Connack,
      sessionPresent: version !== 3,
      reasonCode: 0,
      properties: props({
        assignedClientIdentifier: 'auto-1',
        maximumQoS: 1,
        retainAvailable: 0,
        serverKeepAlive: 30,
        topicAliasMaximum: 5,
        reasonString: 'ok',
        userProperties: UP,
      }),
    },
    {
      type: PacketType.Publish,
      topic: 'sensors/température/🌡',
      payload: Buffer.from('{"t":21.5}'),
      qos: 1,
      retain: false,
      dup: true,
      packetId: 0x1234,
      properties: props({
        payloadFormatIndicator: 1,
        messageExpiryInterval: 120,
        topicAlias: 3,
        responseTopic: 'replies/1',
        correlationData: Buffer.from([1, 2, 3]),
        subscriptionIdentifiers: [1, 268_435_455],
        contentType: 'application/json',
        userProperties: UP,
      }),
    },
    {
      type: PacketType.Puback,
      packetId: 1,
      reasonCode: reason(0x10),
      properties: props({ reasonString: 'none' }),
    },
    { type: PacketType.Pubrec, packetId: 0xfffe, reasonCode: 0, properties: props({ userProperties: UP }) },
    { type: PacketType.Pubrel, packetId: 0x0102, reasonCode: reason(0x92), properties: null },
    { type: PacketType.Pubcomp, packetId: 0xffff, reasonCode: 0, properties: null },
    {
      type: PacketType.Subscribe,
      packetId: 7,
      subscriptions: [
        { topicFilter: 'a/+/c', qos: 0, noLocal: v5, retainAsPublished: false, retainHandling: v5 ? 2 : 0 },
        { topicFilter: 'é/#', qos: 2, noLocal: false, retainAsPublished: v5, retainHandling: v5 ? 1 : 0 },
        { topicFilter: '$share/g/x/y', qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 },
      ],
      properties: props({ subscriptionIdentifiers: [42], userProperties: UP }),
    },
    {
      type: PacketType.Suback,
      packetId: 7,
      reasonCodes: version === 3 ? [0, 2, 1] : [0, 2, 0x80],
      properties: props({ reasonString: 'partly' }),
    },
    {
      type: PacketType.Unsubscribe,
      packetId: 8,
      topicFilters: ['a/+/c', 'é/#'],
      properties: props({ userProperties: UP }),
    },
    {
      type: PacketType.Unsuback,
      packetId: 8,
      reasonCodes: v5 ? [0x00, 0x11] : [],
      properties: props({ reasonString: 'done' }),
    },
    { type: PacketType.Pingreq },
    { type: PacketType.Pingresp },
    {
      type: PacketType.Disconnect,
      reasonCode: reason(0x04),
      properties: props({ sessionExpiryInterval: 0, reasonString: 'bye', serverReference: 'other:1883' }),
    },
  ];
  if (v5) {
    packets.push({
      type: PacketType.Auth,
      reasonCode: 0x18,
      properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('server-first') },
    });
  }
  return packets;
}

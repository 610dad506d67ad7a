/**
 * MQTT 5.0 properties (section 2.2.2): the table of every property identifier, its data type
 * and the packets that may carry it, and the code that reads and writes a property block.
 *
 * The table is the single source of truth: decoding checks each identifier against it (an
 * identifier not valid for the packet is a malformed packet, 2.2.2.2), rejects repeats of a
 * property that may appear once (a protocol error) and range-checks values whose range the
 * specification fixes (0 or 1 flags, non-zero maxima and aliases).
 */

import { malformed, ProtocolError, protocolError } from '../errors.js';
import { topicNameProblem } from '../topic.js';
import { PacketType, PropertyId, ReasonCode } from './constants.js';
import type { Properties } from './packets.js';
import { Reader } from './reader.js';
import { utf8Size, varintSize, Writer } from './writer.js';

/** The will properties of a CONNECT are a block of their own; bit 0 stands for them. */
export const WILL = 0;

type Kind = 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

interface PropertyDef {
  id: number;
  key: keyof Properties;
  kind: Kind;
  /** Bit mask of (1 << packet type) that may carry it, bit 0 for will properties. */
  allowed: number;
  /** May appear more than once (user properties; subscription identifiers in PUBLISH). */
  repeatable: boolean;
  /** Range check beyond the data type; returns a message when the value is wrong. */
  check: ((value: number) => string | null) | null;
}

const bit = (...types: number[]): number => types.reduce((m, t) => m | (1 << t), 0);
const P = PacketType;
const ALL = bit(
  WILL,
  P.Connect,
  P.Connack,
  P.Publish,
  P.Puback,
  P.Pubrec,
  P.Pubrel,
  P.Pubcomp,
  P.Subscribe,
  P.Suback,
  P.Unsubscribe,
  P.Unsuback,
  P.Disconnect,
  P.Auth,
);

const zeroOrOne = (v: number): string | null => (v === 0 || v === 1 ? null : `must be 0 or 1, got ${v}`);
const nonZero = (v: number): string | null => (v !== 0 ? null : 'must not be 0');

function def(
  id: number,
  key: keyof Properties,
  kind: Kind,
  allowed: number,
  check: PropertyDef['check'] = null,
  repeatable = false,
): PropertyDef {
  return { id, key, kind, allowed, repeatable, check };
}

const DEFS: PropertyDef[] = [
  def(PropertyId.PayloadFormatIndicator, 'payloadFormatIndicator', 'byte', bit(P.Publish, WILL), zeroOrOne),
  def(PropertyId.MessageExpiryInterval, 'messageExpiryInterval', 'u32', bit(P.Publish, WILL)),
  def(PropertyId.ContentType, 'contentType', 'string', bit(P.Publish, WILL)),
  def(PropertyId.ResponseTopic, 'responseTopic', 'string', bit(P.Publish, WILL)),
  def(PropertyId.CorrelationData, 'correlationData', 'binary', bit(P.Publish, WILL)),
  def(
    PropertyId.SubscriptionIdentifier,
    'subscriptionIdentifiers',
    'varint',
    bit(P.Publish, P.Subscribe),
    nonZero,
    true,
  ),
  def(
    PropertyId.SessionExpiryInterval,
    'sessionExpiryInterval',
    'u32',
    bit(P.Connect, P.Connack, P.Disconnect),
  ),
  def(PropertyId.AssignedClientIdentifier, 'assignedClientIdentifier', 'string', bit(P.Connack)),
  def(PropertyId.ServerKeepAlive, 'serverKeepAlive', 'u16', bit(P.Connack)),
  def(PropertyId.AuthenticationMethod, 'authenticationMethod', 'string', bit(P.Connect, P.Connack, P.Auth)),
  def(PropertyId.AuthenticationData, 'authenticationData', 'binary', bit(P.Connect, P.Connack, P.Auth)),
  def(PropertyId.RequestProblemInformation, 'requestProblemInformation', 'byte', bit(P.Connect), zeroOrOne),
  def(PropertyId.WillDelayInterval, 'willDelayInterval', 'u32', bit(WILL)),
  def(PropertyId.RequestResponseInformation, 'requestResponseInformation', 'byte', bit(P.Connect), zeroOrOne),
  def(PropertyId.ResponseInformation, 'responseInformation', 'string', bit(P.Connack)),
  def(PropertyId.ServerReference, 'serverReference', 'string', bit(P.Connack, P.Disconnect)),
  def(
    PropertyId.ReasonString,
    'reasonString',
    'string',
    bit(P.Connack, P.Puback, P.Pubrec, P.Pubrel, P.Pubcomp, P.Suback, P.Unsuback, P.Disconnect, P.Auth),
  ),
  def(PropertyId.ReceiveMaximum, 'receiveMaximum', 'u16', bit(P.Connect, P.Connack), nonZero),
  def(PropertyId.TopicAliasMaximum, 'topicAliasMaximum', 'u16', bit(P.Connect, P.Connack)),
  def(PropertyId.TopicAlias, 'topicAlias', 'u16', bit(P.Publish), nonZero),
  def(PropertyId.MaximumQoS, 'maximumQoS', 'byte', bit(P.Connack), zeroOrOne),
  def(PropertyId.RetainAvailable, 'retainAvailable', 'byte', bit(P.Connack), zeroOrOne),
  def(PropertyId.UserProperty, 'userProperties', 'pair', ALL, null, true),
  def(PropertyId.MaximumPacketSize, 'maximumPacketSize', 'u32', bit(P.Connect, P.Connack), nonZero),
  def(
    PropertyId.WildcardSubscriptionAvailable,
    'wildcardSubscriptionAvailable',
    'byte',
    bit(P.Connack),
    zeroOrOne,
  ),
  def(
    PropertyId.SubscriptionIdentifierAvailable,
    'subscriptionIdentifierAvailable',
    'byte',
    bit(P.Connack),
    zeroOrOne,
  ),
  def(
    PropertyId.SharedSubscriptionAvailable,
    'sharedSubscriptionAvailable',
    'byte',
    bit(P.Connack),
    zeroOrOne,
  ),
];

const BY_ID: Array<PropertyDef | undefined> = [];
for (const d of DEFS) BY_ID[d.id] = d;

/**
 * The definitions each packet type (index; 0 for will properties) may carry, in identifier
 * order: encoding walks these few instead of all 27 (PUBLISH has 8).
 */
const BY_TYPE: PropertyDef[][] = Array.from({ length: 16 }, (_, type) =>
  DEFS.filter((d) => (d.allowed & (1 << type)) !== 0),
);

/** The property definitions in identifier order, for tests and generators. */
export const PROPERTY_DEFS: readonly Readonly<PropertyDef>[] = DEFS;

/** Is the property `key` allowed in packets of `type` (or WILL)? */
export function propertyAllowed(key: keyof Properties, type: number): boolean {
  const d = DEFS.find((x) => x.key === key);
  return d !== undefined && (d.allowed & (1 << type)) !== 0;
}

const ctx = (type: number): string => (type === WILL ? 'will properties' : `${NAMES[type]} properties`);
const NAMES = [
  '',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
].concat(['SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH']);

/**
 * Reads a property block (its length, then the properties) for a packet of `type`.
 * Returns null for an empty block so the common case allocates nothing.
 */
export function readProperties(r: Reader, type: number): Properties | null {
  const len = r.varint('property length');
  if (len === 0) return null;
  const end = r.pos + len;
  if (end > r.end) throw malformed(`${ctx(type)} run past the end of the packet`);
  const props: Properties = {};
  const outerEnd = r.end;
  r.end = end;
  // Identifiers go up to 0x2A: two 32-bit masks record which ones were seen.
  let seenLow = 0;
  let seenHigh = 0;
  while (r.pos < end) {
    const id = r.varint('property identifier');
    const d = BY_ID[id];
    if (d === undefined) throw malformed(`unknown property identifier 0x${id.toString(16)} in ${ctx(type)}`);
    if ((d.allowed & (1 << type)) === 0) {
      throw malformed(`property ${d.key} is not allowed in ${ctx(type)}`);
    }
    const repeatable = d.repeatable && !(id === PropertyId.SubscriptionIdentifier && type === P.Subscribe);
    const mask = 1 << (id & 31);
    const seen = id < 32 ? seenLow & mask : seenHigh & mask;
    if (seen !== 0 && !repeatable) {
      throw protocolError(`property ${d.key} appears more than once in ${ctx(type)}`);
    }
    if (id < 32) seenLow |= mask;
    else seenHigh |= mask;
    readValue(r, d, props, type);
  }
  r.end = outerEnd;
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    throw protocolError(`${ctx(type)} carry authentication data without an authentication method`);
  }
  return props;
}

function readValue(r: Reader, d: PropertyDef, props: Properties, type: number): void {
  const what = `property ${d.key}`;
  let n: number;
  switch (d.kind) {
    case 'byte':
      n = r.u8(what);
      break;
    case 'u16':
      n = r.u16(what);
      break;
    case 'u32':
      n = r.u32(what);
      break;
    case 'varint':
      n = r.varint(what);
      break;
    case 'string': {
      const s = r.utf8(what);
      // A Response Topic is a topic name: no wildcards, not empty [MQTT-3.3.2-14].
      if (d.key === 'responseTopic') {
        const problem = topicNameProblem(s);
        if (problem !== null) throw protocolError(`${what}: ${problem}`, 'MQTT-3.3.2-14');
      }
      (props as Record<string, unknown>)[d.key] = s;
      return;
    }
    case 'binary':
      (props as Record<string, unknown>)[d.key] = r.binary(what);
      return;
    case 'pair': {
      const name = r.utf8('user property name');
      const value = r.utf8('user property value');
      if (props.userProperties === undefined) props.userProperties = [[name, value]];
      else props.userProperties.push([name, value]);
      return;
    }
  }
  if (d.check !== null) {
    const problem = d.check(n);
    if (problem !== null) {
      // Topic Alias 0 has its own reason code, 0x94 (section 3.3.4) [MQTT-3.3.2-8].
      if (d.key === 'topicAlias') {
        throw new ProtocolError(ReasonCode.TopicAliasInvalid, `${what} ${problem}`, 'MQTT-3.3.2-8');
      }
      throw protocolError(`${what} in ${ctx(type)} ${problem}`);
    }
  }
  if (d.key === 'subscriptionIdentifiers') {
    if (props.subscriptionIdentifiers === undefined) props.subscriptionIdentifiers = [n];
    else props.subscriptionIdentifiers.push(n);
  } else {
    (props as Record<string, unknown>)[d.key] = n;
  }
}

/**
 * The size in bytes of a property block's contents (without its own length prefix).
 * Properties the packet type may not carry are left out, so one Properties object can be
 * encoded for packets of different types; undefined values are left out too.
 */
export function propertiesSize(props: Properties | null, type: number): number {
  if (props === null) return 0;
  let size = 0;
  const defs = BY_TYPE[type]!;
  for (let i = 0; i < defs.length; i++) {
    const d = defs[i]!;
    const v = props[d.key];
    if (v !== undefined) size += valueSize(d, v);
  }
  return size;
}

function valueSize(d: PropertyDef, v: NonNullable<Properties[keyof Properties]>): number {
  switch (d.kind) {
    case 'byte':
      return 2;
    case 'u16':
      return 3;
    case 'u32':
      return 5;
    case 'varint': {
      let size = 0;
      for (const n of v as number[]) size += 1 + varintSize(n);
      return size;
    }
    case 'string':
      return 3 + utf8Size(v as string);
    case 'binary':
      return 3 + (v as Buffer).length;
    case 'pair': {
      let size = 0;
      for (const [name, value] of v as Array<[string, string]>) size += 5 + utf8Size(name) + utf8Size(value);
      return size;
    }
  }
}

/** Writes the property length and the block, whose contents' size the caller computed. */
export function writeProperties(w: Writer, props: Properties | null, type: number, size: number): void {
  w.varint(size);
  if (props === null || size === 0) return;
  const defs = BY_TYPE[type]!;
  for (let i = 0; i < defs.length; i++) {
    const d = defs[i]!;
    const v = props[d.key];
    if (v === undefined) continue;
    switch (d.kind) {
      case 'byte':
        w.u8(d.id);
        w.u8(v as number);
        break;
      case 'u16':
        w.u8(d.id);
        w.u16(v as number);
        break;
      case 'u32':
        w.u8(d.id);
        w.u32(v as number);
        break;
      case 'varint':
        for (const n of v as number[]) {
          w.u8(d.id);
          w.varint(n);
        }
        break;
      case 'string':
        w.u8(d.id);
        w.utf8(v as string, utf8Size(v as string));
        break;
      case 'binary':
        w.u8(d.id);
        w.binary(v as Buffer);
        break;
      case 'pair':
        for (const [name, value] of v as Array<[string, string]>) {
          w.u8(d.id);
          w.utf8(name, utf8Size(name));
          w.utf8(value, utf8Size(value));
        }
        break;
    }
  }
}

/**
 * A property block as bytes (length prefix included), for keeping properties outside a packet:
 * the durable store keeps a message's properties in the form they travel in. `type` is the
 * packet type whose properties these are (PacketType.Publish, or WILL for will properties).
 */
export function encodePropertyBlock(props: Properties, type: number): Buffer {
  const size = propertiesSize(props, type);
  const w = new Writer(size + varintSize(size));
  writeProperties(w, props, type, size);
  return w.buf;
}

/** Reads back a block written by encodePropertyBlock; null for an empty one. */
export function decodePropertyBlock(block: Buffer, type: number): Properties | null {
  return readProperties(new Reader().reset(block, 0, block.length), type);
}

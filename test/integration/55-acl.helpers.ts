/**
 * Helpers of the ACL tests (55..58): a broker with an ACL, and raw MQTT 5.0 clients that report
 * the reason code the broker answered a PUBLISH (PUBACK) or SUBSCRIBE (SUBACK) with.
 */

import type { AviaryConfigInput } from '../../src/config/index.js';
import { type Packet, PacketType } from '../../src/protocol/index.js';
import { type RawClient, type StartedBroker, startBroker } from '../helpers/broker.js';
import { type ConnectSpec, prop, publishFrame, rawOk, subscribeFrame } from '../helpers/mqtt5.js';

export const SUCCESS = 0x00;
export const NO_MATCHING_SUBSCRIBERS = 0x10;
export const NOT_AUTHORIZED = 0x87;

/** A broker whose only ACL source is `rules` (acl.conf text) given inline. */
export function aclBroker(
  rules: string,
  authorization: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
): Promise<StartedBroker> {
  return startBroker({
    ...config,
    authorization: { sources: [{ type: 'file', rules }], ...authorization },
  } as AviaryConfigInput);
}

let packetIds = 0;
function nextId(): number {
  packetIds = (packetIds % 65_000) + 1;
  return packetIds;
}

/** Connects a raw 5.0 client (asking for no Reason Strings, so acknowledgements are short). */
export function client(port: number, c: Partial<ConnectSpec> & { clientId: string }): Promise<RawClient> {
  return rawOk(port, { props: [prop.requestProblemInformation(0)], ...c });
}

/**
 * Publishes at QoS 1 (or 2) and returns the reason code of the PUBACK (PUBREC): 0x87 when the
 * ACL denied, 0x00 or 0x10 (no subscribers) when it allowed.
 */
export async function pubCode(
  raw: RawClient,
  topic: string,
  options: { qos?: 1 | 2; retain?: boolean } = {},
): Promise<number> {
  const packetId = nextId();
  raw.send(
    publishFrame({ topic, qos: options.qos ?? 1, packetId, retain: options.retain ?? false, props: [] }),
  );
  const ack = (await raw.readPacket()) as Packet & { packetId: number; reasonCode: number };
  const expected = (options.qos ?? 1) === 1 ? PacketType.Puback : PacketType.Pubrec;
  if (ack.type !== expected || ack.packetId !== packetId)
    throw new Error(`unexpected ${JSON.stringify(ack)}`);
  if (ack.type === PacketType.Pubrec) {
    raw.send(Buffer.from([0x62, 0x02, packetId >> 8, packetId & 0xff]));
    await raw.readPacket(); // PUBCOMP
  }
  return ack.reasonCode;
}

/** True if the broker allowed a QoS 1 publish (0x00 or 0x10), false if it answered 0x87. */
export async function canPublish(
  raw: RawClient,
  topic: string,
  options: { qos?: 1 | 2; retain?: boolean } = {},
): Promise<boolean> {
  const code = await pubCode(raw, topic, options);
  if (code !== NOT_AUTHORIZED && code !== SUCCESS && code !== NO_MATCHING_SUBSCRIBERS) {
    throw new Error(`unexpected reason code 0x${code.toString(16)}`);
  }
  return code !== NOT_AUTHORIZED;
}

/** Subscribes one filter and returns the SUBACK's reason code (granted QoS, or 0x87). */
export async function subCode(raw: RawClient, filter: string, qos: 0 | 1 | 2 = 0): Promise<number> {
  const packetId = nextId();
  raw.send(subscribeFrame(packetId, filter, qos, raw.version === 5));
  const suback = await raw.readPacket();
  if (suback.type !== PacketType.Suback || suback.packetId !== packetId)
    throw new Error(`unexpected ${JSON.stringify(suback)}`);
  return suback.reasonCodes[0]!;
}

/** True if the SUBSCRIBE was granted. */
export async function canSubscribe(raw: RawClient, filter: string, qos: 0 | 1 | 2 = 0): Promise<boolean> {
  return (await subCode(raw, filter, qos)) < NOT_AUTHORIZED;
}

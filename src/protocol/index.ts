/**
 * The public surface of the protocol layer: the MQTT codec, its types and constants, topic
 * validation and ProtocolError. Pure code: no I/O, timers or events.
 */

export { validAckReasonCode } from './mqtt/codec/ack.js';
export {
  encodePublishFields,
  encodePublishHeader,
  publishPacketIdOffset,
  withPacketId,
} from './mqtt/codec/publish.js';
export * from './mqtt/constants.js';
export { Decoder, type DecoderOptions, type PacketSink } from './mqtt/decoder.js';
export { encode } from './mqtt/encoder.js';
export type * from './mqtt/packets.js';
export {
  decodePropertyBlock,
  encodePropertyBlock,
  PROPERTY_DEFS,
  propertyAllowed,
  WILL,
} from './mqtt/properties.js';
export { malformed, ProtocolError, protocolError } from './errors.js';
export * from './topic.js';

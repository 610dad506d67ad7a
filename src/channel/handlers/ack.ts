/**
 * Acknowledgements from the client for messages the broker sent (sections 3.4, 3.5, 3.7):
 * PUBACK ends a QoS 1 delivery, PUBREC moves a QoS 2 delivery on to PUBREL (or ends it when the
 * 5.0 reason code is a failure, 4.3.3), PUBCOMP ends it.
 */

import { type AckPacket, PacketType, ReasonCode } from '../../protocol/index.js';
import { type Action, NO_ACTIONS } from '../actions.js';
import type { Channel } from '../channel.js';

const FAILURE = 0x80;

export function handleAck(ch: Channel, packet: AckPacket): readonly Action[] {
  const session = ch.session!;
  if (packet.type === PacketType.Pubrec && packet.reasonCode < FAILURE) {
    if (!session.received(packet.packetId)) {
      const reasonCode = ch.v5 ? ReasonCode.PacketIdentifierNotFound : 0;
      const properties = ch.reasonProperties('no QoS 2 message in flight with this packet id');
      return [
        {
          kind: 'send',
          packet: { type: PacketType.Pubrel, packetId: packet.packetId, reasonCode, properties },
        },
      ];
    }
    return [
      {
        kind: 'send',
        packet: { type: PacketType.Pubrel, packetId: packet.packetId, reasonCode: 0, properties: null },
      },
    ];
  }
  const delivery = session.complete(
    packet.packetId,
    packet.type === PacketType.Puback
      ? 'puback'
      : packet.type === PacketType.Pubcomp
        ? 'pubcomp'
        : 'pubrec_failed',
  );
  if (delivery !== null) {
    ch.broker.metrics.messagesAcked++;
    const hooks = ch.broker.hooks;
    if (hooks.has('message.acked') && ch.client !== null)
      hooks.run('message.acked', ch.client, delivery.message);
  }
  return NO_ACTIONS;
}

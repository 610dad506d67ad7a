/**
 * Broker counters, named after EMQX's metrics (`messages.received`, `messages.dropped`, ...) so
 * $SYS topics, the HTTP API and Prometheus (later issues) can publish them under EMQX's names.
 * Plain numeric fields on one object: incrementing one costs nothing on the hot path.
 */
export class Metrics {
  bytesReceived = 0;
  bytesSent = 0;
  packetsReceived = 0;
  packetsSent = 0;
  messagesReceived = 0;
  messagesSent = 0;
  messagesDropped = 0;
  messagesDroppedNoSubscribers = 0;
  messagesDroppedTooLarge = 0;
  messagesDroppedExpired = 0;
  messagesRetained = 0;
  messagesDelivered = 0;
  messagesAcked = 0;
  deliveryDroppedQueueFull = 0;
  clientConnected = 0;
  clientDisconnected = 0;
  clientAuthFailure = 0;
  packetsMalformed = 0;

  /** EMQX-style names and values, e.g. { 'messages.received': 10 }. */
  toJSON(): Record<string, number> {
    return {
      'bytes.received': this.bytesReceived,
      'bytes.sent': this.bytesSent,
      'packets.received': this.packetsReceived,
      'packets.sent': this.packetsSent,
      'messages.received': this.messagesReceived,
      'messages.sent': this.messagesSent,
      'messages.dropped': this.messagesDropped,
      'messages.dropped.no_subscribers': this.messagesDroppedNoSubscribers,
      'messages.dropped.too_large': this.messagesDroppedTooLarge,
      'messages.dropped.expired': this.messagesDroppedExpired,
      'messages.retained': this.messagesRetained,
      'messages.delivered': this.messagesDelivered,
      'messages.acked': this.messagesAcked,
      'delivery.dropped.queue_full': this.deliveryDroppedQueueFull,
      'client.connected': this.clientConnected,
      'client.disconnected': this.clientDisconnected,
      'client.auth.failure': this.clientAuthFailure,
      'packets.malformed': this.packetsMalformed,
    };
  }
}

/** A ClientInfo for unit tests: a 5.0 client on tcp:default from 127.0.0.1:1, connected at 0. */

import type { ClientInfo } from '../../src/broker/types.js';

export function clientInfo(clientId: string): ClientInfo {
  return {
    clientId,
    username: null,
    peerHost: '127.0.0.1',
    peerPort: 1,
    listener: 'tcp:default',
    zone: 'default',
    protocolVersion: 5,
    isSuperuser: false,
    connectedAt: 0,
  };
}

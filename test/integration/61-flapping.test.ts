/**
 * Flapping detection over real sockets (src/security/flapping.ts): a client id that disconnects
 * `max_count` times within `window_time` is banned for `ban_time` (by `flapping_detect`), then
 * let in again; a zone may turn detection off for its listeners.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolVersion } from '../../src/protocol/index.js';
import { nextDisconnect, rawClient, rawConnected, waitUntil } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

const MAX_COUNT = 3;

/** Connects `clientId` and disconnects it normally, waiting until the broker has seen it go. */
async function connectAndLeave(
  b: ReturnType<typeof brokerForSuite>,
  clientId: string,
  port = b.port,
): Promise<void> {
  const raw = await rawConnected(port, { version: 5, clientId });
  const gone = nextDisconnect(b.aviary, clientId);
  raw.send('e000'); // DISCONNECT, normal
  await gone;
  await raw.destroy();
}

describe('flapping detection', () => {
  const b = brokerForSuite({
    flapping_detect: { enable: true, max_count: MAX_COUNT, window_time: '1m', ban_time: '500ms' },
    listeners: { tcp: { calm: { bind: '127.0.0.1:0', zone: 'calm' } } },
    zones: { calm: { flapping_detect: { enable: false } } },
  });

  test('the max_count-th disconnect within window_time bans the client id for ban_time', async () => {
    const id = 'flapper';
    for (let i = 0; i < MAX_COUNT - 1; i++) await connectAndLeave(b, id);
    assert.equal(b.aviary.security.banned.get('clientid', id), undefined, 'not banned before max_count');
    await connectAndLeave(b, id);
    const ban = b.aviary.security.banned.get('clientid', id);
    assert.ok(ban !== undefined, 'banned at max_count');
    assert.equal(ban.by, 'flapping_detect');
    assert.ok(ban.until !== null && ban.until - ban.at === 500);
    assert.equal(b.aviary.broker.metrics.flappingBanned, 1);

    const raw = await rawClient(b.port, ProtocolVersion.V5);
    raw.sendConnect({ version: 5, clientId: id });
    assert.equal(await raw.readHex(5), '2003008a00', 'CONNACK 0x8A while banned');
    await raw.expectClose();

    // Released after ban_time.
    await waitUntil(() => Date.now() > (ban.until ?? 0), 'the flapping ban to end');
    await rawConnected(b.port, { version: 5, clientId: id });
  });

  test('other client ids are not affected by one flapping client', async () => {
    await rawConnected(b.port, { version: 5, clientId: 'steady' });
  });

  test('a zone with flapping_detect.enable = false never bans its clients', async () => {
    const port = b.aviary.addresses().find((a) => a.id === 'tcp:calm')!.port;
    for (let i = 0; i < MAX_COUNT + 1; i++) await connectAndLeave(b, 'calm-flapper', port);
    assert.equal(b.aviary.security.banned.get('clientid', 'calm-flapper'), undefined);
    await rawConnected(port, { version: 5, clientId: 'calm-flapper' });
  });
});

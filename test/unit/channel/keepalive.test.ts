/**
 * The connection's timeouts (MqttConnection.expired, checked by the one KeepaliveSweeper) with an
 * explicit clock: keep alive x 1.5 (or mqtt.keepalive_multiplier), the Server Keep Alive, and the
 * CONNECT idle timeout, which also bounds an enhanced authentication exchange.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Broker } from '../../../src/broker/broker.js';
import type { Message } from '../../../src/broker/message.js';
import { ChannelState } from '../../../src/channel/channel.js';
import { KeepaliveSweeper, MqttConnection } from '../../../src/channel/connection.js';
import { type ChannelSettings, DEFAULT_CHANNEL_SETTINGS } from '../../../src/channel/settings.js';
import { createLogger } from '../../../src/observability/logger.js';
import { MemoryRetainedStore } from '../../../src/persistence/memory/retained.js';
import {
  type ConnectPacket,
  PacketType,
  type Properties,
  ProtocolVersion,
} from '../../../src/protocol/index.js';
import { FakeLink } from '../../helpers/fake-link.js';

const log = createLogger({ enable: false, level: 'error', file: null });
const sweeper = new KeepaliveSweeper(60_000);
after(() => sweeper.stop());

function makeBroker(): Broker {
  return new Broker({
    nodeName: 'aviary@127.0.0.1',
    session: { maxInflight: 32, maxMqueueLen: 100, mqueueStoreQos0: false },
    retainAvailable: true,
    retained: new MemoryRetainedStore<Message>(),
  });
}

function connect(keepalive: number, properties: Properties | null = null): ConnectPacket {
  return {
    type: PacketType.Connect,
    protocolName: 'MQTT',
    protocolVersion: ProtocolVersion.V5,
    bridge: false,
    clean: true,
    keepalive,
    clientId: 'ka',
    will: null,
    username: null,
    password: null,
    properties,
  };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function opened(packet: ConnectPacket, settings: Partial<ChannelSettings> = {}, broker = makeBroker()) {
  const link = new FakeLink();
  const conn = new MqttConnection(link, broker, { ...DEFAULT_CHANNEL_SETTINGS, ...settings }, log, sweeper);
  link.receive(packet);
  await settle();
  return { conn, link };
}

describe('keep alive [MQTT-3.1.2-24]', () => {
  test('a client silent for more than 1.5 x its keep alive is gone; up to that it is not', async () => {
    const { conn } = await opened(connect(10));
    assert.equal(conn.channel.state, ChannelState.Connected);
    assert.equal(conn.expired(conn.lastSeen + 15_000), null);
    assert.equal(conn.expired(conn.lastSeen + 15_001), 'keepalive_timeout');
  });

  test('mqtt.keepalive_multiplier replaces the 1.5', async () => {
    const { conn } = await opened(connect(10), { keepaliveMultiplier: 2 });
    assert.equal(conn.expired(conn.lastSeen + 20_000), null);
    assert.equal(conn.expired(conn.lastSeen + 20_001), 'keepalive_timeout');
  });

  test('the Server Keep Alive is the one that counts [MQTT-3.2.2-21]', async () => {
    const { conn } = await opened(connect(60), { serverKeepalive: 4 });
    assert.equal(conn.expired(conn.lastSeen + 6000), null);
    assert.equal(conn.expired(conn.lastSeen + 6001), 'keepalive_timeout');
  });

  test('keep alive 0: never', async () => {
    const { conn } = await opened(connect(0));
    assert.equal(conn.expired(conn.lastSeen + 10 * 365 * 24 * 3600 * 1000), null);
  });

  test('the idle timeout bounds an enhanced authentication that never finishes', async () => {
    const broker = makeBroker();
    broker.hooks.add('client.enhanced_auth', () => ({
      stop: { result: 'continue', data: Buffer.from('?') },
    }));
    const { conn, link } = await opened(
      connect(60, { authenticationMethod: 'x' }),
      { idleTimeout: 1000 },
      broker,
    );
    assert.equal(link.sent(PacketType.Auth).length, 1);
    assert.equal(conn.channel.state, ChannelState.Connecting);
    assert.equal(conn.expired(conn.openedAt + 1000), null);
    assert.equal(conn.expired(conn.openedAt + 1001), 'idle_timeout');
  });
});

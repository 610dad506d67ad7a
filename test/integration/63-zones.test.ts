/**
 * Zones (src/config/zones.ts, docs/security.md "Zones"): one broker, two listeners in two zones,
 * an internal one with the defaults and an external one with low limits, behaving differently for
 * the same client actions.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { PacketType, ProtocolVersion, ReasonCode } from '../../src/protocol/index.js';
import { connected, frame, openClient, rawConnected, str } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';

const EXTERNAL_MAX_PACKET = 256;

describe('two listeners in two zones', () => {
  const b = brokerForSuite({
    listeners: {
      tcp: {
        default: { zone: 'internal' },
        external: { bind: '127.0.0.1:0', zone: 'external', messages_rate: '100/s' },
      },
    },
    zones: {
      internal: { mqtt: { max_qos_allowed: 2 } },
      external: {
        mqtt: {
          max_packet_size: EXTERNAL_MAX_PACKET,
          max_qos_allowed: 1,
          retain_available: false,
          limiter: { bytes_rate: '1MB/s' },
        },
        flapping_detect: { enable: true },
      },
    },
  });
  const external = (): number => b.aviary.addresses().find((a) => a.id === 'tcp:external')!.port;

  test('CONNACK advertises each zone its own limits (Maximum QoS, Maximum Packet Size, Retain Available)', async () => {
    const inside = openClient(b.port, 5);
    const insideConnack = await connected(inside);
    const outside = openClient(external(), 5);
    const outsideConnack = await connected(outside);
    // [MQTT-3.2.2-9] Maximum QoS, [MQTT-3.2.2-12] Retain Available, 3.2.2.3.6 Maximum Packet Size.
    assert.equal(insideConnack.properties?.maximumQoS, undefined);
    assert.equal(insideConnack.properties?.retainAvailable, undefined);
    assert.equal(outsideConnack.properties?.maximumQoS, 1);
    assert.equal(outsideConnack.properties?.retainAvailable, false);
    assert.equal(outsideConnack.properties?.maximumPacketSize, EXTERNAL_MAX_PACKET);
  });

  test('the external zone refuses a packet over its max_packet_size; the internal zone takes it', async () => {
    const body = Buffer.alloc(EXTERNAL_MAX_PACKET, 0x62);
    const publish = frame(0x30, str('zones/big'), body); // QoS 0 PUBLISH, 3.1.1
    const inside = await rawConnected(b.port, { version: 4, clientId: 'in-big' });
    inside.send(publish);
    inside.send('c000');
    assert.equal((await inside.readPacket()).type, PacketType.Pingresp, 'internal: still connected');

    const outside = await rawConnected(external(), { version: 5, clientId: 'out-big' });
    outside.send(frame(0x30, str('zones/big'), '00', body)); // 5.0: property length 0
    const packet = await outside.readPacket();
    assert.equal(packet.type, PacketType.Disconnect);
    assert.equal(packet.type === PacketType.Disconnect && packet.reasonCode, ReasonCode.PacketTooLarge);
    await outside.expectClose();
  });

  test('the external zone grants at most QoS 1 on SUBSCRIBE; the internal zone grants QoS 2', async () => {
    const inside = await rawConnected(b.port, { version: 4, clientId: 'in-sub' });
    inside.send(frame(0x82, '0001', str('zones/q'), '02'));
    assert.equal(await inside.readHex(5), '9003000102');
    const outside = await rawConnected(external(), { version: 4, clientId: 'out-sub' });
    outside.version = ProtocolVersion.V4;
    outside.send(frame(0x82, '0001', str('zones/q'), '02'));
    assert.equal(await outside.readHex(5), '9003000101');
  });

  test('the zone settings resolve as documented: mqtt, mqtt.limiter and flapping_detect overlays', () => {
    const cfg = b.aviary.config;
    assert.equal(cfg.zones.external?.mqtt.limiter?.bytes_rate, '1MB/s');
    assert.equal(cfg.flapping_detect.enable, false);
    assert.equal(cfg.zones.external?.flapping_detect?.enable, true);
  });
});

test('zones.<name>.authentication is validated as an authentication chain; zones have no authorization', () => {
  const cfg = parseConfig({
    zones: { external: { authentication: [{ mechanism: 'password_based', backend: 'built_in_database' }] } },
  });
  assert.equal(cfg.zones.external?.authentication?.[0]?.mechanism, 'password_based');
  assert.throws(
    () => parseConfig({ zones: { external: { authorization: { no_match: 'deny' } } } as never }),
    /zones\.external\.authorization/,
    'authorization is global (as in EMQX): a zone key for it is an error, not silently ignored',
  );
});

describe('a zone with its own authentication chain, a zone without', () => {
  const b = brokerForSuite({
    listeners: {
      tcp: {
        default: { bind: '127.0.0.1:0' },
        external: { bind: '127.0.0.1:0', zone: 'external' },
      },
    },
    zones: {
      external: {
        authentication: [
          { mechanism: 'password_based', backend: 'built_in_database', user_id_type: 'username' },
        ],
      },
    },
  });

  test('the external listener refuses an unknown user; the internal one lets anyone in', async () => {
    const ports = Object.fromEntries(b.aviary.addresses().map((a) => [a.id, a.port]));
    const inside = await rawConnected(ports['tcp:default']!, { version: 5, clientId: 'zone-in' });
    assert.equal(inside.isClosed, false);
    const outside = openClient(ports['tcp:external']!, 5, {
      clientId: 'zone-out',
      username: 'nobody',
      password: 'x',
      reconnectPeriod: 0,
    });
    const refused = await new Promise<number>((resolve) => {
      outside.once('error', (e) => resolve((e as { code?: number }).code ?? -1));
      outside.once('connect', () => resolve(0));
    });
    assert.ok(
      refused === ReasonCode.BadUserNameOrPassword || refused === ReasonCode.NotAuthorized,
      `refused: ${refused}`,
    );
    outside.end(true);
  });
});

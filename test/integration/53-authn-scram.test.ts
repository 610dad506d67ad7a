/**
 * 53 authentication: SCRAM-SHA-256 and SCRAM-SHA-512 over MQTT 5.0 enhanced authentication (AUTH
 * packets, section 4.12), against the built-in database, with a raw socket and the client side
 * of SCRAM computed in the test (test/helpers/scram-client.ts, checked against RFC 7677).
 *
 * The right password: AUTH 0x18 with server-first, then CONNACK 0x00 carrying the method and the
 * server-final message, whose signature the client verifies [MQTT-4.12.0-5]. A wrong password or
 * an unknown user: CONNACK 0x87 [MQTT-4.12.0-4]. A method the chain does not speak: CONNACK 0x8C
 * [MQTT-4.12.0-1]. Re-authentication with AUTH 0x19 ends in AUTH 0x00 [MQTT-4.12.1-1]. A CONNECT
 * without a method meets the chain, where SCRAM ignores it (0x87).
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { type ConnackPacket, type Packet, PacketType, ReasonCode } from '../../src/protocol/index.js';
import {
  closeClients,
  type RawClient,
  rawClient,
  type StartedBroker,
  startBroker,
} from '../helpers/broker.js';
import { authFrame, connectFrame, prop, rawOpen } from '../helpers/mqtt5.js';
import { ScramClient } from '../helpers/scram-client.js';

function packetOf<T extends Packet['type']>(p: Packet, type: T): Extract<Packet, { type: T }> {
  assert.equal(p.type, type, `packet type ${type}, not ${JSON.stringify(p)}`);
  return p as Extract<Packet, { type: T }>;
}

const METHOD = { sha256: 'SCRAM-SHA-256', sha512: 'SCRAM-SHA-512' } as const;

/** CONNECT with client-first, AUTH 0x18 with client-final; returns the client and the CONNACK. */
async function scramConnect(
  port: number,
  alg: 'sha256' | 'sha512',
  user: string,
  password: string,
  clientId: string,
): Promise<{ raw: RawClient; connack: ConnackPacket; scram: ScramClient }> {
  const scram = new ScramClient(alg, user, password);
  const raw = await rawClient(port, 5);
  raw.send(
    connectFrame({
      clientId,
      props: [prop.authenticationMethod(METHOD[alg]), prop.authenticationData(scram.first())],
    }),
  );
  const challenge = packetOf(await raw.readPacket(), PacketType.Auth);
  assert.equal(challenge.reasonCode, ReasonCode.ContinueAuthentication); // [MQTT-4.12.0-2]
  assert.equal(challenge.properties?.authenticationMethod, METHOD[alg]);
  const serverFirst = challenge.properties!.authenticationData!.toString();
  raw.send(
    authFrame(
      ReasonCode.ContinueAuthentication,
      prop.authenticationMethod(METHOD[alg]),
      prop.authenticationData(scram.final(serverFirst)),
    ),
  );
  const connack = packetOf(await raw.readPacket(), PacketType.Connack);
  return { raw, connack, scram };
}

describe('53 authentication: SCRAM over MQTT 5.0 AUTH', () => {
  for (const alg of ['sha256', 'sha512'] as const) {
    describe(METHOD[alg], () => {
      let b: StartedBroker;
      const superusers = new Map<string, boolean>();
      before(async () => {
        b = await startBroker({
          authentication: [
            { mechanism: 'scram', backend: 'built_in_database', algorithm: alg, iteration_count: 1000 },
          ],
        } as AviaryConfigInput);
        const users = b.aviary.authn.scramUsers!;
        users.put('alice', 'wonderland', false);
        users.put('root', 'toor', true);
        b.aviary.hooks.add('client.connected', (c: ClientInfo) => {
          superusers.set(c.clientId, c.isSuperuser);
        });
      });
      after(async () => {
        await closeClients();
        await b.close();
      });

      test('[MQTT-4.12.0-5] the right password: CONNACK 0x00 with the method and a server signature the client verifies', async () => {
        const { connack, scram } = await scramConnect(b.port, alg, 'alice', 'wonderland', `s-${alg}-1`);
        assert.equal(connack.reasonCode, ReasonCode.Success);
        assert.equal(connack.properties?.authenticationMethod, METHOD[alg]);
        assert.equal(scram.verify(connack.properties!.authenticationData!.toString()), true);
        assert.equal(superusers.get(`s-${alg}-1`), false);
        await scramConnect(b.port, alg, 'root', 'toor', `s-${alg}-2`);
        assert.equal(superusers.get(`s-${alg}-2`), true);
      });

      test('[MQTT-4.12.0-4] a wrong password: CONNACK 0x87 and the connection closed', async () => {
        const { raw, connack } = await scramConnect(b.port, alg, 'alice', 'Wonderland', `s-${alg}-3`);
        assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
        await raw.expectClose();
      });

      test('an unknown user goes through the exchange (nothing tells it is unknown), then 0x87', async () => {
        const { connack } = await scramConnect(b.port, alg, 'mallory', 'x', `s-${alg}-4`);
        assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
      });

      test('[MQTT-4.12.1-1] re-authentication with AUTH 0x19 runs the exchange again and ends in AUTH 0x00', async () => {
        const { raw, connack } = await scramConnect(b.port, alg, 'alice', 'wonderland', `s-${alg}-5`);
        assert.equal(connack.reasonCode, 0);
        const again = new ScramClient(alg, 'alice', 'wonderland');
        raw.send(
          authFrame(
            ReasonCode.ReAuthenticate,
            prop.authenticationMethod(METHOD[alg]),
            prop.authenticationData(again.first()),
          ),
        );
        const challenge = packetOf(await raw.readPacket(), PacketType.Auth);
        assert.equal(challenge.reasonCode, ReasonCode.ContinueAuthentication);
        raw.send(
          authFrame(
            ReasonCode.ContinueAuthentication,
            prop.authenticationMethod(METHOD[alg]),
            prop.authenticationData(again.final(challenge.properties!.authenticationData!.toString())),
          ),
        );
        const done = packetOf(await raw.readPacket(), PacketType.Auth);
        assert.equal(done.reasonCode, ReasonCode.Success);
        assert.equal(again.verify(done.properties!.authenticationData!.toString()), true);
      });
    });
  }

  describe('methods and the password chain', () => {
    let b: StartedBroker;
    before(async () => {
      b = await startBroker({
        authentication: [{ mechanism: 'scram', backend: 'built_in_database' }],
      } as AviaryConfigInput);
      b.aviary.authn.scramUsers!.put('alice', 'wonderland', false);
    });
    after(async () => {
      await closeClients();
      await b.close();
    });

    test('[MQTT-4.12.0-1] a method no provider speaks (SCRAM-SHA-512 here): CONNACK 0x8C', async () => {
      const { connack } = await rawOpen(b.port, {
        clientId: 'm1',
        props: [prop.authenticationMethod('SCRAM-SHA-512'), prop.authenticationData('n,,n=alice,r=abc')],
      });
      assert.equal(connack.reasonCode, ReasonCode.BadAuthenticationMethod);
    });

    test('a CONNECT without a method: SCRAM ignores it, so 0x87 (every provider ignored)', async () => {
      const { connack } = await rawOpen(b.port, {
        clientId: 'm2',
        username: 'alice',
        password: 'wonderland',
      });
      assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
    });

    test('a malformed client-first message: CONNACK 0x87', async () => {
      const raw = await rawClient(b.port, 5);
      raw.send(
        connectFrame({
          clientId: 'm3',
          props: [prop.authenticationMethod('SCRAM-SHA-256'), prop.authenticationData('hello')],
        }),
      );
      const connack = packetOf(await raw.readPacket(), PacketType.Connack);
      assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
    });
  });
});

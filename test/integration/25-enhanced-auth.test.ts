/**
 * 25 enhanced authentication (MQTT 5.0 section 4.12) with AUTH packets, through the
 * `client.enhanced_auth` fold hook, over raw sockets.
 *
 * The test plugs in a toy challenge / response method, "toy": the client's CONNECT carries
 * "hello"; the broker answers AUTH 0x18 with "challenge:<n>"; the client must answer AUTH 0x18
 * with "response:<n reversed>"; the broker then sends CONNACK with "welcome". Re-authentication
 * (AUTH 0x19) runs the same exchange and ends with AUTH 0x00. A second method, "token", succeeds
 * in one step when the CONNECT's data is "open-sesame". A later issue plugs SCRAM in the same way.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { EnhancedAuthResult, HookCallback } from '../../src/broker/hooks.js';
import type { ClientInfo } from '../../src/broker/types.js';
import { type Packet, PacketType, ReasonCode } from '../../src/protocol/index.js';
import {
  closeClients,
  type RawClient,
  rawClient,
  type StartedBroker,
  startBroker,
} from '../helpers/broker.js';
import {
  authFrame,
  connectFrame,
  prop,
  publishFrame,
  rawOk,
  rawOpen,
  rawSubscribe,
} from '../helpers/mqtt5.js';

const CONTINUE = ReasonCode.ContinueAuthentication;
const REAUTH = ReasonCode.ReAuthenticate;

/** The toy method: one challenge per client, kept between its steps. */
const challenges = new WeakMap<ClientInfo, string>();
let nonce = 0;
let asynchronous = false;
const steps: string[] = [];

const toy: HookCallback<'client.enhanced_auth'> = (_acc, client, step) => {
  steps.push(`${step.method}:${step.phase}`);
  let result: EnhancedAuthResult;
  if (step.method === 'token') {
    result = { result: step.data?.toString() === 'open-sesame' ? 'success' : 'failure' };
  } else if (step.method !== 'toy') {
    return undefined; // not ours: another callback may know it
  } else if (step.phase === 'continue') {
    const expected = `response:${[...(challenges.get(client) ?? '')].reverse().join('')}`;
    result =
      step.data?.toString() === expected
        ? { result: 'success', data: Buffer.from('welcome') }
        : { result: 'failure' };
  } else if (step.phase === 'connect' && step.data?.toString() !== 'hello') {
    result = { result: 'failure' };
  } else {
    const n = `n${++nonce}x`;
    challenges.set(client, n);
    result = { result: 'continue', data: Buffer.from(`challenge:${n}`) };
  }
  return asynchronous
    ? new Promise((resolve) => setTimeout(() => resolve({ stop: result }), 5))
    : { stop: result };
};

/** The answer to a toy challenge. */
function respond(challenge: Buffer | undefined): string {
  const n = (challenge?.toString() ?? '').replace(/^challenge:/, '');
  return `response:${[...n].reverse().join('')}`;
}

function packetOf<T extends Packet['type']>(p: Packet, type: T): Extract<Packet, { type: T }> {
  assert.equal(p.type, type, `packet type ${type}, not ${JSON.stringify(p)}`);
  return p as Extract<Packet, { type: T }>;
}

describe('25 enhanced authentication', () => {
  let b: StartedBroker;

  before(async () => {
    b = await startBroker();
    b.aviary.hooks.add('client.enhanced_auth', toy);
  });

  afterEach(async () => {
    asynchronous = false;
    steps.length = 0;
    await closeClients();
  });

  after(async () => {
    await closeClients();
    await b.close();
  });

  /** Opens a connection with the toy method and reads the broker's AUTH challenge. */
  async function startToy(id: string): Promise<{ raw: RawClient; auth: Extract<Packet, { type: 15 }> }> {
    const raw = await rawClient(b.port, 5);
    raw.send(
      connectFrame({
        clientId: id,
        props: [prop.authenticationMethod('toy'), prop.authenticationData('hello')],
      }),
    );
    return { raw, auth: packetOf(await raw.readPacket(), PacketType.Auth) };
  }

  describe('at CONNECT', () => {
    for (const mode of ['synchronous', 'asynchronous'] as const) {
      test(`${mode}: CONNECT -> AUTH 0x18 -> AUTH 0x18 -> CONNACK 0x00 with the method and data [MQTT-4.12.0-2] [MQTT-4.12.0-3] [MQTT-4.12.0-5]`, async () => {
        asynchronous = mode === 'asynchronous';
        const { raw, auth } = await startToy(`ea-ok-${mode}`);
        assert.equal(auth.reasonCode, CONTINUE);
        assert.equal(auth.properties?.authenticationMethod, 'toy');
        assert.match(auth.properties?.authenticationData?.toString() ?? '', /^challenge:n\d+x$/);
        raw.send(
          authFrame(
            CONTINUE,
            prop.authenticationMethod('toy'),
            prop.authenticationData(respond(auth.properties?.authenticationData)),
          ),
        );
        const connack = packetOf(await raw.readPacket(), PacketType.Connack);
        assert.equal(connack.reasonCode, ReasonCode.Success);
        assert.equal(connack.properties?.authenticationMethod, 'toy');
        assert.deepEqual(connack.properties?.authenticationData, Buffer.from('welcome'));
        assert.deepEqual(steps, ['toy:connect', 'toy:continue']);
        // Connected: it works like any client.
        await rawSubscribe(raw, 'ea/t', 1);
        raw.send(publishFrame({ topic: 'ea/t', qos: 1, packetId: 9, props: [], payload: 'x' }));
        const got = [await raw.readPacket(), await raw.readPacket()].map((p) => p.type).sort();
        assert.deepEqual(got, [PacketType.Publish, PacketType.Puback]);
      });
    }

    test('a wrong response gets CONNACK 0x87 (not authorized) and the connection is closed [MQTT-4.12.0-4]', async () => {
      const { raw } = await startToy('ea-wrong');
      raw.send(
        authFrame(CONTINUE, prop.authenticationMethod('toy'), prop.authenticationData('response:nope')),
      );
      const connack = packetOf(await raw.readPacket(), PacketType.Connack);
      assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
      await raw.expectClose();
    });

    test('a method no callback knows gets CONNACK 0x8C (bad authentication method) [MQTT-4.12.0-1]', async () => {
      const { raw, connack } = await rawOpen(b.port, {
        clientId: 'ea-unknown',
        props: [prop.authenticationMethod('kerberos')],
      });
      assert.equal(connack.reasonCode, ReasonCode.BadAuthenticationMethod);
      await raw.expectClose();
    });

    test('with no client.enhanced_auth callback at all: CONNACK 0x8C [MQTT-4.12.0-1]', async () => {
      const plain = await startBroker();
      try {
        const { raw, connack } = await rawOpen(plain.port, {
          clientId: 'ea-none',
          props: [prop.authenticationMethod('toy')],
        });
        assert.equal(connack.reasonCode, ReasonCode.BadAuthenticationMethod);
        await raw.expectClose();
      } finally {
        await closeClients();
        await plain.close();
      }
    });

    test('a callback that throws or rejects fails the authentication: CONNACK 0x87', async () => {
      const failing = await startBroker();
      const reported: unknown[] = [];
      try {
        failing.aviary.broker.options.onHookError = (_hook, error) => reported.push(error);
        failing.aviary.hooks.add('client.enhanced_auth', (_acc, _client, step) => {
          if (step.method === 'sync') throw new Error('auth backend down');
          return Promise.reject(new Error('auth backend down too'));
        });
        for (const method of ['sync', 'async']) {
          const { raw, connack } = await rawOpen(failing.port, {
            clientId: `ea-throw-${method}`,
            props: [prop.authenticationMethod(method)],
          });
          assert.equal(connack.reasonCode, ReasonCode.NotAuthorized);
          await raw.expectClose();
        }
        assert.equal(reported.length, 2);
      } finally {
        await closeClients();
        await failing.close();
      }
    });

    test('a method that succeeds in one step: CONNACK 0x00 with the method and no AUTH [MQTT-4.12.0-5]', async () => {
      const seen: string[] = [];
      const password = (): undefined => {
        seen.push('client.authenticate');
        return undefined;
      };
      b.aviary.hooks.add('client.authenticate', password);
      try {
        const { connack } = await rawOpen(b.port, {
          clientId: 'ea-token',
          props: [prop.authenticationMethod('token'), prop.authenticationData('open-sesame')],
        });
        assert.equal(connack.reasonCode, ReasonCode.Success);
        assert.equal(connack.properties?.authenticationMethod, 'token');
        assert.equal(connack.properties?.authenticationData, undefined);
        // Enhanced authentication replaces the password check.
        assert.deepEqual(seen, []);
      } finally {
        b.aviary.hooks.remove('client.authenticate', password);
      }
    });

    test('AUTH with another method during the exchange gets CONNACK 0x82 [MQTT-4.12.0-5]', async () => {
      const { raw } = await startToy('ea-method');
      raw.send(authFrame(CONTINUE, prop.authenticationMethod('other'), prop.authenticationData('x')));
      const connack = packetOf(await raw.readPacket(), PacketType.Connack);
      assert.equal(connack.reasonCode, ReasonCode.ProtocolError);
      assert.match(connack.properties?.reasonString ?? '', /not the CONNECT's "toy"/);
      await raw.expectClose();
    });

    test('a PUBLISH before the CONNACK of an enhanced authentication is a protocol error: CONNACK 0x82 [MQTT-3.1.2-30]', async () => {
      const { raw } = await startToy('ea-early');
      raw.send(publishFrame({ topic: 'ea/early', props: [], payload: 'x' }));
      const connack = packetOf(await raw.readPacket(), PacketType.Connack);
      assert.equal(connack.reasonCode, ReasonCode.ProtocolError);
      await raw.expectClose();
    });

    test('AUTH 0x19 (re-authenticate) before the CONNACK is a protocol error', async () => {
      const { raw } = await startToy('ea-early-reauth');
      raw.send(authFrame(REAUTH, prop.authenticationMethod('toy')));
      assert.equal(packetOf(await raw.readPacket(), PacketType.Connack).reasonCode, ReasonCode.ProtocolError);
      await raw.expectClose();
    });

    test('a DISCONNECT during the exchange just closes the connection', async () => {
      const { raw } = await startToy('ea-bye');
      raw.send('e0 00');
      await raw.expectClose();
    });
  });

  describe('after CONNACK', () => {
    async function connectedToy(id: string): Promise<RawClient> {
      const { raw, auth } = await startToy(id);
      raw.send(
        authFrame(
          CONTINUE,
          prop.authenticationMethod('toy'),
          prop.authenticationData(respond(auth.properties?.authenticationData)),
        ),
      );
      assert.equal(packetOf(await raw.readPacket(), PacketType.Connack).reasonCode, ReasonCode.Success);
      return raw;
    }

    test('re-authentication: AUTH 0x19 -> AUTH 0x18 -> AUTH 0x18 -> AUTH 0x00; other packets flow meanwhile [MQTT-4.12.1-1]', async () => {
      const raw = await connectedToy('ea-reauth');
      steps.length = 0;
      raw.send(authFrame(REAUTH, prop.authenticationMethod('toy')));
      const challenge = packetOf(await raw.readPacket(), PacketType.Auth);
      assert.equal(challenge.reasonCode, CONTINUE);
      assert.equal(challenge.properties?.authenticationMethod, 'toy');
      raw.send(publishFrame({ topic: 'ea/during', qos: 1, packetId: 3, props: [] }));
      assert.equal(packetOf(await raw.readPacket(), PacketType.Puback).packetId, 3);
      raw.send(
        authFrame(
          CONTINUE,
          prop.authenticationMethod('toy'),
          prop.authenticationData(respond(challenge.properties?.authenticationData)),
        ),
      );
      const done = packetOf(await raw.readPacket(), PacketType.Auth);
      assert.equal(done.reasonCode, ReasonCode.Success);
      assert.equal(done.properties?.authenticationMethod, 'toy');
      assert.deepEqual(done.properties?.authenticationData, Buffer.from('welcome'));
      assert.deepEqual(steps, ['toy:reauth', 'toy:continue']);
      // And again, later.
      raw.send(authFrame(REAUTH, prop.authenticationMethod('toy')));
      assert.equal(packetOf(await raw.readPacket(), PacketType.Auth).reasonCode, CONTINUE);
    });

    test('a failed re-authentication gets DISCONNECT 0x87 and the connection is closed [MQTT-4.12.1-2]', async () => {
      const raw = await connectedToy('ea-reauth-fail');
      raw.send(authFrame(REAUTH, prop.authenticationMethod('toy')));
      packetOf(await raw.readPacket(), PacketType.Auth);
      raw.send(
        authFrame(CONTINUE, prop.authenticationMethod('toy'), prop.authenticationData('response:wrong')),
      );
      const disconnect = packetOf(await raw.readPacket(), PacketType.Disconnect);
      assert.equal(disconnect.reasonCode, ReasonCode.NotAuthorized);
      await raw.expectClose();
    });

    test('re-authentication with another method gets DISCONNECT 0x82 [MQTT-4.12.1-1]', async () => {
      const raw = await connectedToy('ea-reauth-method');
      raw.send(authFrame(REAUTH, prop.authenticationMethod('token')));
      assert.equal(
        packetOf(await raw.readPacket(), PacketType.Disconnect).reasonCode,
        ReasonCode.ProtocolError,
      );
      await raw.expectClose();
    });

    test('AUTH 0x18 with no exchange in progress gets DISCONNECT 0x82', async () => {
      const raw = await connectedToy('ea-stray');
      raw.send(authFrame(CONTINUE, prop.authenticationMethod('toy'), prop.authenticationData('x')));
      assert.equal(
        packetOf(await raw.readPacket(), PacketType.Disconnect).reasonCode,
        ReasonCode.ProtocolError,
      );
      await raw.expectClose();
    });

    test('AUTH from a client whose CONNECT had no Authentication Method gets DISCONNECT 0x82 [MQTT-4.12.0-7]', async () => {
      const raw = await rawOk(b.port, { clientId: 'ea-no-method' });
      raw.send(authFrame(REAUTH, prop.authenticationMethod('toy')));
      const disconnect = packetOf(await raw.readPacket(), PacketType.Disconnect);
      assert.equal(disconnect.reasonCode, ReasonCode.ProtocolError);
      assert.match(disconnect.properties?.reasonString ?? '', /MQTT-4.12.0-7/);
      await raw.expectClose();
    });
  });
});

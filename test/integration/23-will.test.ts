/**
 * 23 will messages of MQTT 5.0: the Will Delay Interval (3.1.3.2.2), the will's QoS, retain flag
 * and properties, and its authorization, over raw sockets.
 *
 * A delayed will is published when its delay or its session's expiry passes, whichever is first,
 * or at once when a new connection with Clean Start ends the session; it is not published when the
 * client comes back to its session before [MQTT-3.1.3-9]. Waiting wills are visible in
 * `broker.wills`; "not published" is shown with a control will due later, which arrives first.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthzRequest, HookCallback } from '../../src/broker/hooks.js';
import { type PublishPacket, PacketType } from '../../src/protocol/index.js';
import { nextDisconnect, type RawClient, startBroker, waitUntil } from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { disconnectFrame, prop, rawOk, rawSubscribe, type WillSpec } from '../helpers/mqtt5.js';

async function nextPublish(raw: RawClient): Promise<PublishPacket> {
  const p = await raw.readPacket();
  assert.equal(p.type, PacketType.Publish, `a PUBLISH, not ${JSON.stringify(p)}`);
  return p as PublishPacket;
}

/** Nothing was delivered to `raw` before now: a PINGREQ's PINGRESP is the next packet. */
async function nothingYet(raw: RawClient): Promise<void> {
  raw.send('c0 00');
  assert.equal((await raw.readPacket()).type, PacketType.Pingresp, 'nothing delivered yet');
}

describe('23 wills', () => {
  const b = brokerForSuite();

  /** A subscriber to `filter` (QoS 2, Retain As Published). */
  async function watcher(id: string, filter: string): Promise<RawClient> {
    const raw = await rawOk(b.port, { clientId: id });
    await rawSubscribe(raw, filter, 0x02 | 0x08);
    return raw;
  }

  /** Connects with a will, then drops the socket (no DISCONNECT) and waits until the broker saw it. */
  async function dropWithWill(id: string, will: WillSpec, expiry = 60): Promise<void> {
    const raw = await rawOk(b.port, {
      clientId: id,
      clean: false,
      props: [prop.sessionExpiryInterval(expiry)],
      will,
    });
    const gone = nextDisconnect(b.aviary, id);
    await raw.destroy();
    await gone;
  }

  describe('Will Delay Interval', () => {
    test('a will with delay 1 s waits, then is published (section 3.1.3.2.2)', async () => {
      const w = await watcher('wd-w1', 'wd/one');
      await dropWithWill('wd-1', { topic: 'wd/one', payload: 'gone', props: [prop.willDelayInterval(1)] });
      assert.equal(b.aviary.broker.wills.has('wd-1'), true);
      await nothingYet(w);
      const will = await nextPublish(w);
      assert.deepEqual([will.topic, will.payload.toString()], ['wd/one', 'gone']);
      assert.equal(b.aviary.broker.wills.has('wd-1'), false);
    });

    test('reconnecting to the session before the delay cancels the will [MQTT-3.1.3-9]', async () => {
      const w = await watcher('wd-w2', 'wd/cancel/#');
      await dropWithWill('wd-2', {
        topic: 'wd/cancel/a',
        payload: 'cancelled',
        props: [prop.willDelayInterval(1)],
      });
      await dropWithWill('wd-2c', {
        topic: 'wd/cancel/control',
        payload: 'control',
        props: [prop.willDelayInterval(1)],
      });
      const back = await rawOk(b.port, { clientId: 'wd-2', clean: false });
      assert.equal(b.aviary.broker.wills.has('wd-2'), false);
      // The control will was due after the cancelled one: had it been sent, it would come first.
      const first = await nextPublish(w);
      assert.equal(first.payload.toString(), 'control');
      void back;
    });

    test('reconnecting with Clean Start ends the session: the will is published at once', async () => {
      const w = await watcher('wd-w3', 'wd/clean');
      await dropWithWill('wd-3', {
        topic: 'wd/clean',
        payload: 'now',
        props: [prop.willDelayInterval(3600)],
      });
      assert.equal(b.aviary.broker.wills.has('wd-3'), true);
      await rawOk(b.port, { clientId: 'wd-3', clean: true });
      const will = await nextPublish(w);
      assert.equal(will.payload.toString(), 'now');
    });

    test('a session expiring before the delay publishes the will when it ends (section 3.1.3.2.2)', async () => {
      const w = await watcher('wd-w4', 'wd/expiry');
      await dropWithWill(
        'wd-4',
        { topic: 'wd/expiry', payload: 'expired', props: [prop.willDelayInterval(3600)] },
        1,
      );
      assert.equal(b.aviary.broker.wills.has('wd-4'), true);
      await nothingYet(w);
      assert.equal((await nextPublish(w)).payload.toString(), 'expired');
    });

    test('Session Expiry 0: the session ends with the connection, the will goes at once', async () => {
      const w = await watcher('wd-w5', 'wd/zero');
      await dropWithWill(
        'wd-5',
        { topic: 'wd/zero', payload: 'at once', props: [prop.willDelayInterval(3600)] },
        0,
      );
      assert.equal(b.aviary.broker.wills.has('wd-5'), false);
      assert.equal((await nextPublish(w)).payload.toString(), 'at once');
    });

    test('DISCONNECT 0x04 (with will message) publishes the will after its delay too [MQTT-3.14.4-3]', async () => {
      const w = await watcher('wd-w6', 'wd/0x04');
      const raw = await rawOk(b.port, {
        clientId: 'wd-6',
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
        will: { topic: 'wd/0x04', payload: 'asked for', props: [prop.willDelayInterval(1)] },
      });
      const gone = nextDisconnect(b.aviary, 'wd-6');
      raw.send(disconnectFrame(0x04));
      await gone;
      assert.equal(b.aviary.broker.wills.has('wd-6'), true);
      assert.equal((await nextPublish(w)).payload.toString(), 'asked for');
    });

    test('a takeover (Clean Start 0) before the delay cancels the will; with delay 0 it is sent (3.1.3.2.2)', async () => {
      const w = await watcher('wd-w7', 'wd/takeover/#');
      const first = await rawOk(b.port, {
        clientId: 'wd-7',
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
        will: { topic: 'wd/takeover/delayed', payload: 'delayed', props: [prop.willDelayInterval(1)] },
      });
      await rawOk(b.port, { clientId: 'wd-7', clean: false });
      await first.closed;
      assert.equal(b.aviary.broker.wills.has('wd-7'), false);
      const second = await rawOk(b.port, {
        clientId: 'wd-7b',
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
        will: { topic: 'wd/takeover/undelayed', payload: 'undelayed' },
      });
      await rawOk(b.port, { clientId: 'wd-7b', clean: false });
      await second.closed;
      await dropWithWill('wd-7c', {
        topic: 'wd/takeover/control',
        payload: 'control',
        props: [prop.willDelayInterval(1)],
      });
      assert.deepEqual(
        [(await nextPublish(w)).payload.toString(), (await nextPublish(w)).payload.toString()],
        ['undelayed', 'control'],
      );
    });

    test('server shutdown forgets waiting wills', async () => {
      const other = await startBroker();
      const raw = await rawOk(other.port, {
        clientId: 'wd-8',
        clean: false,
        props: [prop.sessionExpiryInterval(60)],
        will: { topic: 'wd/shutdown', payload: 'x', props: [prop.willDelayInterval(60)] },
      });
      const gone = nextDisconnect(other.aviary, 'wd-8');
      await raw.destroy();
      await gone;
      assert.equal(other.aviary.broker.wills.size, 1);
      await other.close();
      assert.equal(other.aviary.broker.wills.size, 0);
    });
  });

  describe('what the will carries', () => {
    test('QoS, retain and properties, in order, without the Will Delay Interval [MQTT-3.1.2-17] [MQTT-3.1.3-10]', async () => {
      const w = await watcher('wp-w', 'wp/t');
      await dropWithWill('wp-1', {
        topic: 'wp/t',
        payload: 'bye',
        qos: 1,
        retain: true,
        props: [
          prop.userProperty('k', '1'),
          prop.contentType('text/plain'),
          prop.willDelayInterval(0),
          prop.userProperty('a', '2'),
          prop.responseTopic('wp/reply'),
          prop.correlationData(Buffer.from([1, 2, 3])),
          prop.payloadFormatIndicator(1),
          prop.messageExpiryInterval(600),
        ],
      });
      const will = await nextPublish(w);
      assert.deepEqual(
        [will.topic, will.payload.toString(), will.qos, will.retain],
        ['wp/t', 'bye', 1, true],
      );
      const { messageExpiryInterval, ...rest } = will.properties ?? {};
      assert.deepEqual(rest, {
        userProperties: [
          ['k', '1'],
          ['a', '2'],
        ],
        contentType: 'text/plain',
        responseTopic: 'wp/reply',
        correlationData: Buffer.from([1, 2, 3]),
        payloadFormatIndicator: 1,
      });
      assert.ok(messageExpiryInterval !== undefined && messageExpiryInterval <= 600);
      // Retained: a later subscriber gets it with the retain flag [MQTT-3.1.2-17].
      const later = await watcher('wp-later', 'wp/t');
      const retained = await nextPublish(later);
      assert.deepEqual([retained.payload.toString(), retained.retain], ['bye', true]);
    });
  });

  describe('authorization (client.authorize, action publish)', () => {
    for (const mode of ['synchronous', 'asynchronous'] as const) {
      test(`a ${mode} deny keeps the will from being published; an allowed one goes`, async () => {
        const requests: AuthzRequest[] = [];
        const authorize: HookCallback<'client.authorize'> = (_acc, _client, request) => {
          requests.push(request);
          const answer = request.topic.startsWith('wa/denied') ? { stop: 'deny' as const } : undefined;
          return mode === 'synchronous' ? answer : Promise.resolve(answer);
        };
        const w = await watcher(`wa-w-${mode}`, 'wa/#');
        b.aviary.hooks.add('client.authorize', authorize);
        try {
          await dropWithWill(`wa-denied-${mode}`, { topic: 'wa/denied', payload: 'no', qos: 1 });
          await dropWithWill(`wa-allowed-${mode}`, {
            topic: 'wa/allowed',
            payload: 'yes',
            qos: 1,
            retain: true,
          });
          const will = await nextPublish(w);
          assert.deepEqual([will.topic, will.payload.toString()], ['wa/allowed', 'yes']);
          await waitUntil(() => requests.length >= 2, 'both wills were authorized');
          assert.deepEqual(
            requests.filter((r) => r.topic.startsWith('wa/')),
            [
              { action: 'publish', topic: 'wa/denied', qos: 1, retain: false },
              { action: 'publish', topic: 'wa/allowed', qos: 1, retain: true },
            ],
          );
        } finally {
          b.aviary.hooks.remove('client.authorize', authorize);
        }
      });
    }
  });
});

/**
 * 02 mosquitto: the broker with Eclipse Mosquitto's command-line clients (libmosquitto) for MQTT
 * 3.1, 3.1.1 and 5.0, beyond the basic publish/subscribe of test/integration/03: QoS 2 exactly
 * once with several messages in flight, the retain flag with -r, a will (mosquitto_sub
 * --will-topic, killed), and persistent sessions (-c -i id).
 *
 * mosquitto_sub runs with -d -F %j (see helpers.ts), so the tests see its SUBACK and each
 * message's QoS and retain flag.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientId, connectClient, Inbox, nextDisconnect, subscribe } from '../helpers/broker.js';
import { interopBroker, MOSQUITTO_FLAVOURS, mosquittoPub, mosquittoSub, spec } from './helpers.js';

describe('02 mosquitto clients: QoS 2, retained, will, persistent sessions', () => {
  const b = interopBroker();

  for (const f of MOSQUITTO_FLAVOURS) {
    describe(`-V ${f.mosquitto} (${f.name})`, () => {
      test('QoS 2: five messages in flight together from mosquitto_pub -l reach mosquitto_sub -q 2 exactly once each (section 4.3.3), in order [MQTT-4.6.0-5]', async () => {
        const topic = `interop/mosq-q2/${f.mosquitto}`;
        const sub = mosquittoSub(b.port, f.mosquitto, ['-q', '2', '-t', topic]);
        assert.deepEqual(await sub.subscribed(), [2]);

        const payloads = ['a', 'b', 'c', 'd', 'e', 'end'];
        await mosquittoPub(b.port, f.mosquitto, ['-q', '2', '-t', topic, '-l'], `${payloads.join('\n')}\n`);

        const got = await sub.waitFor(
          () => (sub.messages.some((m) => m.payload === 'end') ? sub.messages : undefined),
          'the last message',
        );
        assert.deepEqual(
          got.map((m) => [m.payload, m.qos]),
          payloads.map((p) => [p, 2]),
        );
      });

      test(`mosquitto_pub -r: a later mosquitto_sub gets RETAIN 1 [${spec(f, 'MQTT-3.3.1-8', 'MQTT-3.3.1-9')}], a live message RETAIN 0 [${spec(f, 'MQTT-3.3.1-9', 'MQTT-3.3.1-12')}]`, async () => {
        const base = `interop/mosq-retained/${f.mosquitto}`;
        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-r', '-t', `${base}/kept`, '-m', 'kept']);

        const sub = mosquittoSub(b.port, f.mosquitto, ['-q', '1', '-t', `${base}/#`]);
        await sub.until(`${base}/kept`);
        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-r', '-t', `${base}/kept`, '-m', 'fresh']);
        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-t', `${base}/end`, '-m', 'end']);

        const got = await sub.until(`${base}/end`);
        assert.deepEqual(
          got.map((m) => [m.topic, m.payload, m.retain]),
          [
            [`${base}/kept`, 'kept', true],
            [`${base}/kept`, 'fresh', false],
            [`${base}/end`, 'end', false],
          ],
        );
      });

      test(`a will set with mosquitto_sub --will-topic is published when it is killed with SIGKILL [MQTT-3.1.2-8] [${spec(f, 'MQTT-3.1.2-16', 'MQTT-3.1.2-14')}]`, async () => {
        const id = clientId('mwill');
        const willTopic = `interop/mosq-will/${id}`;
        const watcher = await connectClient(b.port, f.mqttjs);
        const inbox = new Inbox(watcher);
        await subscribe(watcher, willTopic, { qos: 2 });

        const closed = nextDisconnect(b.aviary, id);
        const dying = mosquittoSub(b.port, f.mosquitto, [
          ...['-i', id, '-t', `interop/mosq-will/${id}/idle`],
          ...['--will-topic', willTopic, '--will-payload', 'gone', '--will-qos', '1'],
        ]);
        await dying.subscribed();
        dying.kill('SIGKILL');
        await closed;

        const [will] = await inbox.count(1);
        assert.equal(will!.topic, willTopic);
        assert.equal(will!.payload.toString(), 'gone');
        assert.equal(will!.packet.qos, 1);
        assert.equal(will!.packet.retain, false);
      });

      const kept =
        f.mqttjs === 5
          ? 'with Session Expiry "never" (-c) [MQTT-3.1.2-23]'
          : 'Clean Session 0 [MQTT-3.1.2-5]';
      test(`persistent session (-c -i id), ${kept}: QoS 1 messages published while mosquitto_sub was away arrive when it comes back`, async () => {
        const id = clientId('mpers');
        const topic = `interop/mosq-persist/${id}`;
        const args = ['-c', '-i', id, '-q', '1', '-t', topic];

        // -E: exit (with a normal DISCONNECT) once the SUBACK is in; -c keeps the session.
        const left = nextDisconnect(b.aviary, id);
        const first = mosquittoSub(b.port, f.mosquitto, [...args, '-E']);
        assert.deepEqual(await first.subscribed(), [1]);
        await first.succeeded();
        await left;

        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-t', topic, '-l'], 'm1\nm2\nm3\n');

        const again = mosquittoSub(b.port, f.mosquitto, [...args, '-C', '3']);
        const got = await again.count(3);
        assert.deepEqual(
          got.map((m) => [m.payload, m.qos]),
          [
            ['m1', 1],
            ['m2', 1],
            ['m3', 1],
          ],
        );
        await again.succeeded();
      });
    });
  }
});

/**
 * 01 paho: the broker between Eclipse Paho for Python (Debian's python3-paho-mqtt, MQTT 3.1.1 and
 * 5.0), MQTT.js and the mosquitto clients: three MQTT implementations that share no code with
 * each other or with Aviary. Each scenario mixes clients, so a message crosses two of them:
 *
 *   paho -> MQTT.js and mosquitto_sub     QoS 0/1/2, every message once, QoS 2 exactly once
 *   MQTT.js -> paho, mosquitto_pub -> paho
 *   mosquitto_pub -r -> a later paho subscriber: the retain flag
 *   paho with a will, SIGKILLed -> MQTT.js gets the will; a normal DISCONNECT discards it
 *   paho persistent sessions (3.1.1 clean_session=False, 5.0 clean_start=False + Session Expiry)
 *
 * Exactly once is checked by counting: the publisher ends with a sentinel message, and the
 * subscriber's whole list up to the sentinel must equal what was published, no more.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  clientId,
  connectClient,
  Inbox,
  nextDisconnect,
  publish,
  type Received,
  subscribe,
} from '../helpers/broker.js';
import {
  type Flavour,
  interopBroker,
  MOSQUITTO_FLAVOURS,
  mosquittoPub,
  mosquittoSub,
  PAHO_FLAVOURS,
  type PahoPublication,
  paho,
  spec,
} from './helpers.js';

/** What a test publishes under `base`: one message at QoS 0 and 1, three at QoS 2, a sentinel. */
function publications(base: string): Required<Omit<PahoPublication, 'retain'>>[] {
  return [
    { topic: `${base}/q0`, payload: 'zero', qos: 0 },
    { topic: `${base}/q1`, payload: 'one', qos: 1 },
    { topic: `${base}/q2`, payload: 'two-a', qos: 2 },
    { topic: `${base}/q2`, payload: 'two-b', qos: 2 },
    { topic: `${base}/q2`, payload: 'two-c', qos: 2 },
    { topic: `${base}/end`, payload: 'end', qos: 2 },
  ];
}

interface Seen {
  topic: string;
  payload: string;
  qos: number;
}

function fromMqttJs(m: Received): Seen {
  return { topic: m.topic, payload: m.payload.toString('utf8'), qos: m.packet.qos };
}

function seen(m: Seen): Seen {
  return { topic: m.topic, payload: m.payload, qos: m.qos };
}

/** 5.0 needs a Session Expiry Interval for the session to outlive the connection. */
function persistent(f: Flavour): { clean: false; sessionExpiry?: number } {
  return f.mqttjs === 5 ? { clean: false, sessionExpiry: 300 } : { clean: false };
}

describe('01 paho with MQTT.js and the mosquitto clients', () => {
  const b = interopBroker();

  for (const f of PAHO_FLAVOURS) {
    const minQos = spec(f, 'MQTT-3.8.4-6', 'MQTT-3.8.4-8');

    describe(`paho ${f.name}`, () => {
      test(`paho publishes QoS 0, 1, 2 -> MQTT.js ${f.name} and mosquitto_sub -V ${f.mosquitto} get each message once, at its QoS [${minQos}]`, async () => {
        const base = `interop/paho-pub/${f.mosquitto}`;
        const js = await connectClient(b.port, f.mqttjs);
        const inbox = new Inbox(js);
        assert.deepEqual(await subscribe(js, `${base}/#`, { qos: 2 }), [2]);
        const mosq = mosquittoSub(b.port, f.mosquitto, ['-q', '2', '-t', `${base}/#`]);
        assert.deepEqual(await mosq.subscribed(), [2]);

        const expected = publications(base);
        await paho(b.port, { protocol: f.paho, id: clientId('ppub'), publish: expected }).exit();

        assert.deepEqual((await inbox.until(`${base}/end`)).map(fromMqttJs), expected);
        assert.deepEqual((await mosq.until(`${base}/end`)).map(seen), expected);
      });

      test(`MQTT.js ${f.name} publishes QoS 0, 1, 2 -> paho gets each message once, at its QoS [${minQos}]`, async () => {
        const base = `interop/js-pub/${f.paho}`;
        const sub = paho(b.port, {
          protocol: f.paho,
          id: clientId('psub'),
          subscribe: [{ filter: `${base}/#`, qos: 2 }],
          until: `${base}/end`,
        });
        assert.deepEqual(await sub.granted(), [[2]]);

        const js = await connectClient(b.port, f.mqttjs);
        const expected = publications(base);
        for (const p of expected) await publish(js, p.topic, p.payload, { qos: p.qos });

        const got = await sub.exit();
        assert.deepEqual(got.map(seen), expected);
        assert.ok(
          got.every((m) => !m.dup && !m.retain),
          `first deliveries, not retained: ${JSON.stringify(got)}`,
        );
      });

      for (const m of MOSQUITTO_FLAVOURS) {
        test(`mosquitto_pub -V ${m.mosquitto} publishes QoS 0, 1, 2 -> paho gets each message once, at its QoS [${minQos}]`, async () => {
          const base = `interop/mosq-pub/${m.mosquitto}/${f.paho}`;
          const sub = paho(b.port, {
            protocol: f.paho,
            id: clientId('psub'),
            subscribe: [{ filter: `${base}/#`, qos: 2 }],
            until: `${base}/end`,
          });
          await sub.ready();

          await mosquittoPub(b.port, m.mosquitto, ['-q', '0', '-t', `${base}/q0`, '-m', 'zero']);
          await mosquittoPub(b.port, m.mosquitto, ['-q', '1', '-t', `${base}/q1`, '-m', 'one']);
          // -l: one connection, one QoS 2 message per stdin line, all in flight together.
          await mosquittoPub(
            b.port,
            m.mosquitto,
            ['-q', '2', '-t', `${base}/q2`, '-l'],
            'two-a\ntwo-b\ntwo-c\n',
          );
          await mosquittoPub(b.port, m.mosquitto, ['-q', '2', '-t', `${base}/end`, '-m', 'end']);

          assert.deepEqual((await sub.exit()).map(seen), publications(base));
        });
      }

      test(`mosquitto_pub -r -> a later paho subscriber gets the message with RETAIN 1 [${spec(f, 'MQTT-3.3.1-8', 'MQTT-3.3.1-9')}], a live one with RETAIN 0 [${spec(f, 'MQTT-3.3.1-9', 'MQTT-3.3.1-12')}]`, async () => {
        const base = `interop/retained/${f.paho}`;
        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-r', '-t', `${base}/kept`, '-m', 'kept']);

        const sub = paho(b.port, {
          protocol: f.paho,
          id: clientId('pret'),
          subscribe: [{ filter: `${base}/#`, qos: 1 }],
          until: `${base}/end`,
        });
        await sub.waitFor(
          () => sub.messages.find((m) => m.topic === `${base}/kept`),
          'the retained message after the SUBACK',
        );
        // The subscription now exists: a message published with -r is forwarded with RETAIN 0.
        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-r', '-t', `${base}/kept`, '-m', 'fresh']);
        await mosquittoPub(b.port, f.mosquitto, ['-q', '1', '-t', `${base}/end`, '-m', 'end']);

        const got = (await sub.exit()).map((m) => ({ topic: m.topic, payload: m.payload, retain: m.retain }));
        assert.deepEqual(got, [
          { topic: `${base}/kept`, payload: 'kept', retain: true },
          { topic: `${base}/kept`, payload: 'fresh', retain: false },
          { topic: `${base}/end`, payload: 'end', retain: false },
        ]);
      });

      test(`paho's will reaches MQTT.js ${f.name} when paho is killed with SIGKILL [MQTT-3.1.2-8], retained as asked [${spec(f, 'MQTT-3.1.2-17', 'MQTT-3.1.2-15')}]`, async () => {
        const id = clientId('pwill');
        const topic = `interop/will/${id}`;
        const watcher = await connectClient(b.port, f.mqttjs);
        const inbox = new Inbox(watcher);
        await subscribe(watcher, topic, { qos: 1 });

        const closed = nextDisconnect(b.aviary, id);
        const p = paho(b.port, {
          protocol: f.paho,
          id,
          will: { topic, payload: 'gone', qos: 1, retain: true },
          stay: true,
        });
        await p.ready();
        p.kill('SIGKILL');
        await closed;

        const [will] = await inbox.count(1);
        assert.equal(will!.topic, topic);
        assert.equal(will!.payload.toString(), 'gone');
        assert.equal(will!.packet.qos, 1);

        // Published as retained: a subscriber that comes later still gets it, flagged retained.
        const later = await connectClient(b.port, f.mqttjs);
        const laterInbox = new Inbox(later);
        await subscribe(later, topic, { qos: 1 });
        const [kept] = await laterInbox.count(1);
        assert.equal(kept!.payload.toString(), 'gone');
        assert.equal(kept!.packet.retain, true);
      });

      test(`paho's normal DISCONNECT discards its will [MQTT-3.1.2-10]`, async () => {
        const id = clientId('pwill');
        const base = `interop/no-will/${id}`;
        const watcher = await connectClient(b.port, f.mqttjs);
        const inbox = new Inbox(watcher);
        await subscribe(watcher, `${base}/#`, { qos: 1 });

        const closed = nextDisconnect(b.aviary, id);
        await paho(b.port, {
          protocol: f.paho,
          id,
          will: { topic: `${base}/will`, payload: 'gone', qos: 1 },
        }).exit();
        assert.equal(await closed, 'normal');

        // The broker has closed the connection (and would have published a will by then).
        await publish(watcher, `${base}/end`, 'end', { qos: 1 });
        assert.deepEqual(
          (await inbox.until(`${base}/end`)).map((m) => m.topic),
          [`${base}/end`],
        );
      });

      const kept =
        f.mqttjs === 5
          ? 'clean_start=False with a Session Expiry Interval [MQTT-3.1.2-5] [MQTT-3.1.2-23]'
          : 'clean_session=False [MQTT-3.1.2-4] [MQTT-3.1.2-5]';
      test(`persistent session, ${kept}: QoS 1 messages published while paho was away arrive when it reconnects, Session Present 1 [${spec(f, 'MQTT-3.2.2-2', 'MQTT-3.2.2-3')}]`, async () => {
        const id = clientId('ppers');
        const topic = `interop/persist/${id}`;
        const first = paho(b.port, {
          protocol: f.paho,
          id,
          // 5.0: Clean Start 1 the first time, so the session is new whatever ran before.
          ...(f.mqttjs === 5 ? { clean: true, sessionExpiry: 300 } : { clean: false }),
          subscribe: [{ filter: topic, qos: 1 }],
        });
        const left = nextDisconnect(b.aviary, id);
        assert.equal(await first.sessionPresent(), false);
        await first.exit();
        await left;

        const js = await connectClient(b.port, f.mqttjs);
        for (const payload of ['m1', 'm2', 'm3']) await publish(js, topic, payload, { qos: 1 });

        const again = paho(b.port, { protocol: f.paho, id, ...persistent(f), count: 3 });
        assert.equal(await again.sessionPresent(), true);
        const got = (await again.exit()).map((m) => [m.topic, m.payload, m.qos]);
        assert.deepEqual(got, [
          [topic, 'm1', 1],
          [topic, 'm2', 1],
          [topic, 'm3', 1],
        ]);
      });

      const ended =
        f.mqttjs === 5
          ? 'Session Expiry Interval 0 ends the session at disconnect'
          : 'clean_session=True discards the session [MQTT-3.1.2-6]';
      test(`${ended}: a later connection gets Session Present 0 [${spec(f, 'MQTT-3.2.2-1', 'MQTT-3.2.2-3')}] and none of the messages published meanwhile`, async () => {
        const id = clientId('pgone');
        const base = `interop/no-persist/${id}`;
        // 3.1.1: a persistent session, then a reconnection with clean_session=True.
        // 5.0: Session Expiry 0 (absent), then a reconnection with clean_start=False.
        const first = paho(b.port, {
          protocol: f.paho,
          id,
          clean: f.mqttjs === 5,
          subscribe: [{ filter: `${base}/data`, qos: 1 }],
        });
        const left = nextDisconnect(b.aviary, id);
        await first.exit();
        await left;

        const js = await connectClient(b.port, f.mqttjs);
        await publish(js, `${base}/data`, 'lost', { qos: 1 });

        const again = paho(b.port, {
          protocol: f.paho,
          id,
          clean: f.mqttjs !== 5,
          subscribe: [{ filter: `${base}/end`, qos: 1 }],
          until: `${base}/end`,
        });
        assert.equal(await again.sessionPresent(), false);
        await again.ready();
        await publish(js, `${base}/end`, 'end', { qos: 1 });
        assert.deepEqual(
          (await again.exit()).map((m) => m.topic),
          [`${base}/end`],
        );
      });
    });
  }
});

/**
 * 03 shared subscriptions across independent clients: one group `$share/g/<topic>` whose members
 * are two paho clients and one mosquitto_sub, fed by MQTT.js. MQTT 5.0 section 4.8.2: each
 * message matching a shared subscription goes to one session of the group only; which one is the
 * server's choice (EMQX's `mqtt.shared_subscription_strategy`, set to round_robin here so that
 * every member is seen to get a share). 3.1.1 does not define shared subscriptions; EMQX accepts
 * `$share/` from 3.1.1 clients all the same, and so is Aviary meant to.
 *
 * How "exactly one member" is checked without waiting for a time: after the jobs, the publisher
 * sends each member a sentinel on a topic only that member subscribes to (non-shared). A session
 * delivers in the order the broker routed to it, so a member's sentinel comes after every job the
 * group gave it; once every sentinel is in, the jobs received, all members together, must be
 * exactly the jobs published: none missing, none twice.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clientId, connectClient, publish } from '../helpers/broker.js';
import {
  type Flavour,
  interopBroker,
  type MosquittoSub,
  mosquittoSub,
  type Paho,
  paho,
  V5,
  V311,
} from './helpers.js';

/** Jobs published per test: a multiple of the three members, so round robin gives each four. */
const JOBS = 12;

interface Member {
  name: string;
  /** The QoS it asked for, and is granted, on the shared filter. */
  qos: 0 | 1;
  /** Payloads and QoS of the jobs it received, once its sentinel has arrived. */
  jobs(): Promise<Array<{ payload: string; qos: number }>>;
}

describe('03 shared subscriptions: paho and mosquitto_sub members in one group', () => {
  const b = interopBroker({ mqtt: { shared_subscription_strategy: 'round_robin' } });

  /** A paho member subscribed to the shared filter at `qos` and to its own sentinel topic. */
  async function pahoMember(f: Flavour, base: string, name: string, qos: 0 | 1): Promise<Member> {
    const p: Paho = paho(b.port, {
      protocol: f.paho,
      id: clientId(`sh${name}`),
      subscribe: [
        { filter: `$share/g/${base}/jobs`, qos },
        { filter: `${base}/done/${name}`, qos: 1 },
      ],
      stay: true,
    });
    assert.deepEqual(await p.granted(), [[qos], [1]], `${name}: SUBACK for the shared filter`);
    return {
      name,
      qos,
      async jobs() {
        await p.waitFor(
          () => p.messages.find((m) => m.topic === `${base}/done/${name}`),
          `${name}'s sentinel`,
        );
        return p.messages
          .filter((m) => m.topic === `${base}/jobs`)
          .map((m) => ({ payload: m.payload, qos: m.qos }));
      },
    };
  }

  /** A mosquitto_sub member; -q applies to both of its filters. */
  async function mosquittoMember(f: Flavour, base: string, name: string, qos: 0 | 1): Promise<Member> {
    const m: MosquittoSub = mosquittoSub(b.port, f.mosquitto, [
      ...['-i', clientId(`sh${name}`), '-q', String(qos)],
      ...['-t', `$share/g/${base}/jobs`, '-t', `${base}/done/${name}`],
    ]);
    assert.deepEqual(await m.subscribed(), [qos, qos], `${name}: SUBACK for the shared filter`);
    return {
      name,
      qos,
      async jobs() {
        await m.until(`${base}/done/${name}`);
        return m.messages
          .filter((x) => x.topic === `${base}/jobs`)
          .map((x) => ({ payload: x.payload, qos: x.qos }));
      },
    };
  }

  for (const f of [V5, V311]) {
    const why = f === V5 ? 'MQTT 5.0 section 4.8.2' : "EMQX's $share for 3.1.1 clients";
    test(`${f.name}: each of ${JOBS} QoS 1 messages to $share/g/... goes to exactly one of two paho members and one mosquitto_sub member (${why}), at that member's granted QoS [MQTT-4.8.2-3]`, async () => {
      const base = `interop/shared/${f.paho}`;
      // The mosquitto_sub member is granted QoS 0: what the group gives it arrives at QoS 0.
      const members = [
        await pahoMember(f, base, 'a', 1),
        await pahoMember(f, base, 'b', 1),
        await mosquittoMember(f, base, 'm', 0),
      ];

      const js = await connectClient(b.port, f.mqttjs);
      const published = Array.from({ length: JOBS }, (_, i) => `job-${String(i + 1).padStart(2, '0')}`);
      for (const payload of published) await publish(js, `${base}/jobs`, payload, { qos: 1 });
      for (const m of members) await publish(js, `${base}/done/${m.name}`, 'done', { qos: 1 });

      const received: Record<string, Array<{ payload: string; qos: number }>> = {};
      for (const m of members) received[m.name] = await m.jobs();
      const shown = JSON.stringify(received);

      const all = Object.values(received).flatMap((jobs) => jobs.map((j) => j.payload));
      assert.deepEqual(all.sort(), published, `every job exactly once across the group: ${shown}`);
      for (const m of members) {
        const jobs = received[m.name] ?? [];
        assert.ok(jobs.length > 0, `round robin gives member ${m.name} a share: ${shown}`);
        for (const j of jobs)
          assert.equal(j.qos, m.qos, `${m.name} got ${j.payload} at its granted QoS: ${shown}`);
      }
    });
  }
});

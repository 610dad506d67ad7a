/**
 * 40 delayed publish over real sockets (docs/delayed-publish.md): a PUBLISH to
 * `$delayed/<seconds>/<topic>` (or `$delay/...`) is acknowledged at once, held, and published to
 * `<topic>` when the delay has passed; it is never routed to subscribers of the `$delayed/...`
 * topic itself.
 *
 * "Not there yet" is checked without timers: after the delayed message's PUBACK the publisher
 * sends a marker on another topic the subscriber has. Had the broker routed the delayed message
 * at once, it would have reached the subscriber before the marker (one publisher's messages are
 * routed in order [MQTT-4.6.0-5]); so when the marker arrives alone, the message was held.
 * "There later" waits for the message itself (each test waits about one second).
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  clientId,
  closeClients,
  connectClient,
  Inbox,
  publish,
  type Received,
  startBroker,
  subscribe,
  type Version,
  waitUntil,
} from '../helpers/broker.js';
import { brokerForSuite } from '../helpers/suite.js';
import { ReasonCode } from '../../src/protocol/index.js';

/** The PUBACK's reason code (MQTT.js leaves it out when the broker sent the short form, 0x00). */
function pubackCode(packet: unknown): number {
  return (packet as { reasonCode?: number } | undefined)?.reasonCode ?? ReasonCode.Success;
}

async function subscriber(
  port: number,
  filters: string[],
  version: Version = 5,
): Promise<{ client: MqttClient; inbox: Inbox }> {
  const client = await connectClient(port, version, { clientId: clientId('dsub') });
  const inbox = new Inbox(client);
  await subscribe(client, filters, { qos: 1 });
  return { client, inbox };
}

/** Waits until `inbox` holds a message on each of `topics` (in any order); returns those. */
async function waitForTopics(inbox: Inbox, topics: string[]): Promise<Received[]> {
  await waitUntil(
    () => topics.every((t) => inbox.messages.some((m) => m.topic === t)),
    `messages on ${topics.join(', ')}`,
  );
  return inbox.messages.filter((m) => topics.includes(m.topic));
}

const isDelayedTopic = (m: Received) => m.topic.startsWith('$delay');

describe('40 delayed publish', () => {
  const b = brokerForSuite();

  test('$delayed/1/<topic> (5.0) and $delay/1/<topic> (3.1.1) are acknowledged, held, then published to <topic>', async () => {
    const topic = clientId('delayed/a/b');
    const other = clientId('delayed/x');
    const marker = clientId('marker');
    const { inbox } = await subscriber(b.port, [topic, other, marker, '$delayed/#', '$delay/#']);
    const pub5 = await connectClient(b.port, 5, { clientId: clientId('dpub5') });
    const pub4 = await connectClient(b.port, 4, { clientId: clientId('dpub4') });

    const ack = await publish(pub5, `$delayed/1/${topic}`, 'from 5.0', { qos: 1 });
    // Taken by the broker: a success, not 0x10 No matching subscribers.
    assert.equal(pubackCode(ack), ReasonCode.Success);
    await publish(pub4, `$delay/1/${other}`, 'from 3.1.1', { qos: 1 });
    assert.equal(b.aviary.delayed.count, 2);

    await publish(pub5, marker, 'now', { qos: 1 });
    assert.deepEqual(
      (await inbox.until(marker)).map((m) => m.topic),
      [marker],
      'right after the PUBACK the delayed messages are not there',
    );

    const got = await waitForTopics(inbox, [topic, other]);
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload.toString(), m.packet.qos]),
      [
        [topic, 'from 5.0', 1],
        [other, 'from 3.1.1', 1],
      ],
      'published later, in order, with their QoS',
    );
    assert.equal(b.aviary.delayed.count, 0);
    assert.deepEqual(inbox.messages.filter(isDelayedTopic), [], 'nothing routed to $delayed/# or $delay/#');
  });

  test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] the Message Expiry Interval counts from the original publish', async () => {
    const topic = clientId('delayed/expiry');
    const { inbox } = await subscriber(b.port, [topic]);
    const pub = await connectClient(b.port, 5, { clientId: clientId('dpubexp') });
    await publish(pub, `$delayed/1/${topic}`, 'expires on the way', {
      qos: 1,
      properties: { messageExpiryInterval: 1 },
    });
    await publish(pub, `$delayed/1/${topic}`, 'lives', { qos: 1, properties: { messageExpiryInterval: 60 } });
    // The first is due first, so had it been delivered it would be first.
    const [first] = await waitForTopics(inbox, [topic]);
    assert.equal(
      first?.payload.toString(),
      'lives',
      'a message whose expiry is shorter than its delay is not delivered',
    );
    const left = first?.packet.properties?.messageExpiryInterval;
    assert.ok(left !== undefined && left < 60, `the interval left is sent, got ${left}`);
  });

  test('a retained delayed message becomes the retained message of <topic> when published', async () => {
    const topic = clientId('delayed/retained');
    const { inbox } = await subscriber(b.port, [topic, '$delayed/#']);
    const pub = await connectClient(b.port, 5, { clientId: clientId('dpubret') });
    await publish(pub, `$delayed/1/${topic}`, 'kept', { qos: 1, retain: true });
    await waitForTopics(inbox, [topic]);
    const late = await subscriber(b.port, [topic]);
    const [retained] = await waitForTopics(late.inbox, [topic]);
    assert.equal(retained?.payload.toString(), 'kept');
    assert.equal(retained?.packet.retain, true, '[MQTT-3.3.1-8] sent as retained to a new subscriber');
    assert.deepEqual(inbox.messages.filter(isDelayedTopic), []);
  });

  test('a malformed delayed topic is dropped: a success PUBACK, nothing routed, counted', async () => {
    const marker = clientId('marker');
    const { inbox } = await subscriber(b.port, ['$delayed/#', 't', marker]);
    const pub = await connectClient(b.port, 5, { clientId: clientId('dpubbad') });
    const before = b.aviary.delayed.droppedInvalid;
    // The hook cannot choose the PUBACK's reason code (0x90 would fit): the publisher sees success.
    assert.equal(
      pubackCode(await publish(pub, '$delayed/abc/t', 'bad delay', { qos: 1 })),
      ReasonCode.Success,
    );
    assert.equal(pubackCode(await publish(pub, '$delayed/1/', 'no target', { qos: 1 })), ReasonCode.Success);
    assert.equal(
      pubackCode(await publish(pub, '$delayed/4294968/t', 'too long', { qos: 1 })),
      ReasonCode.Success,
    );
    await publish(pub, marker, 'after', { qos: 1 });
    assert.deepEqual(
      (await inbox.until(marker)).map((m) => m.topic),
      [marker],
    );
    assert.equal(b.aviary.delayed.droppedInvalid - before, 3);
    assert.equal(b.aviary.delayed.count, 0, 'not held either');
  });
});

describe('40 delayed publish: configuration', () => {
  afterEach(closeClients);

  test('delayed.max_delayed_messages = 1: a second pending message is dropped', async () => {
    const b = await startBroker({ delayed: { max_delayed_messages: 1 } });
    try {
      const pub = await connectClient(b.port, 5, { clientId: clientId('dpubmax') });
      await publish(pub, '$delayed/600/a', 'held', { qos: 1 });
      const ack = await publish(pub, '$delayed/600/b', 'dropped', { qos: 1 });
      assert.equal(pubackCode(ack), ReasonCode.Success);
      assert.equal(b.aviary.delayed.count, 1);
      assert.equal(b.aviary.delayed.droppedFull, 1);
      assert.equal(b.aviary.broker.metrics.toJSON()['messages.delayed'], 1);
    } finally {
      await closeClients();
      await b.close();
    }
  });

  test('delayed.enable = false: $delayed/... is an ordinary topic', async () => {
    const b = await startBroker({ delayed: { enable: false } });
    try {
      const { inbox } = await subscriber(b.port, ['$delayed/#']);
      const pub = await connectClient(b.port, 4, { clientId: clientId('dpuboff') });
      await publish(pub, '$delayed/60/x', 'at once', { qos: 1 });
      const [m] = await inbox.count(1);
      assert.equal(m?.topic, '$delayed/60/x');
      assert.equal(b.aviary.delayed.count, 0);
    } finally {
      await closeClients();
      await b.close();
    }
  });
});

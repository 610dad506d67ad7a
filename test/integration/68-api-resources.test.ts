/**
 * 68 api resources: /subscriptions (filters), /topics, the retainer's messages, /stats,
 * /metrics, /nodes, /monitor and /monitor_current, /listeners (the listener registry), /banned
 * (the security module's list) and /status.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { type ApiBroker, startApiBroker } from '../helpers/api.js';
import { closeClients, connectClient, publish, subscribe, waitUntil } from '../helpers/broker.js';

describe('68 api resources', () => {
  let b: ApiBroker;
  before(async () => {
    b = await startApiBroker({ dashboard: { sample_interval: '1s' } });
  });
  afterEach(closeClients);
  after(() => b.close());

  test('/subscriptions with clientid, topic, match_topic, qos and share_group; /topics', async () => {
    const one = await connectClient(b.port, 5, { clientId: 'subs-one' });
    const two = await connectClient(b.port, 5, { clientId: 'subs-two' });
    await subscribe(one, 'sport/+/score', { qos: 1 });
    await subscribe(one, 'news/#', { qos: 0 });
    await subscribe(two, '$share/g1/sport/+/score', { qos: 2 });
    const list = async (q: string) => (await b.get(`/subscriptions?${q}`)).body;
    assert.equal((await list('')).meta.count, 3);
    assert.deepEqual((await list('clientid=subs-one')).data.map((s: { topic: string }) => s.topic).sort(), [
      'news/#',
      'sport/+/score',
    ]);
    assert.equal((await list('topic=news/%23')).data[0].clientid, 'subs-one');
    assert.equal((await list('match_topic=sport/tennis/score')).meta.count, 2);
    assert.equal((await list('qos=2')).data[0].topic, '$share/g1/sport/+/score');
    const shared = (await list('share_group=g1')).data;
    assert.equal(shared.length, 1);
    assert.equal(shared[0].share_group, 'g1');
    assert.deepEqual(Object.keys((await list('clientid=subs-one')).data[0]).sort(), [
      'clientid',
      'durable',
      'nl',
      'node',
      'qos',
      'rap',
      'rh',
      'topic',
    ]);
    const topics = (await b.get('/topics')).body;
    assert.deepEqual(topics.data.map((t: { topic: string }) => t.topic).sort(), ['news/#', 'sport/+/score']);
    assert.equal(topics.meta.count, 2);
    assert.equal((await b.get('/topics?topic=news/%23')).body.meta.count, 1);
    assert.equal((await b.get(`/topics/${encodeURIComponent('news/#')}`)).status, 200);
    assert.equal((await b.get('/topics/none')).status, 404);
  });

  test('retainer: list, read one (payload base64), delete one, delete all', async () => {
    const c = await connectClient(b.port, 4, { clientId: 'retainer-pub' });
    await publish(c, 'ret/a', 'alpha', { retain: true, qos: 1 });
    await publish(c, 'ret/b', 'beta', { retain: true, qos: 1 });
    const all = (await b.get('/mqtt/retainer/messages?topic=ret/%23')).body;
    assert.equal(all.meta.count, 2);
    assert.deepEqual(all.data.map((m: { topic: string }) => m.topic).sort(), ['ret/a', 'ret/b']);
    assert.equal(all.data[0].from_clientid, 'retainer-pub');
    const one = await b.get(`/mqtt/retainer/message/${encodeURIComponent('ret/a')}`);
    assert.equal(one.status, 200);
    assert.equal(Buffer.from(one.body.payload, 'base64').toString(), 'alpha');
    assert.equal(one.body.qos, 1);
    assert.equal(
      (await b.request('DELETE', `/mqtt/retainer/message/${encodeURIComponent('ret/a')}`)).status,
      204,
    );
    assert.equal((await b.get(`/mqtt/retainer/message/${encodeURIComponent('ret/a')}`)).status, 404);
    assert.equal(
      (await b.request('DELETE', `/mqtt/retainer/message/${encodeURIComponent('ret/a')}`)).status,
      404,
    );
    assert.equal((await b.request('DELETE', '/mqtt/retainer/messages')).status, 204);
    assert.equal((await b.get('/mqtt/retainer/messages?topic=ret/%23')).body.meta.count, 0);
    assert.equal(b.aviary.broker.retainedCount, 0);
  });

  test('/stats and /metrics: per node by default, one object with aggregate=true; EMQX names', async () => {
    const c = await connectClient(b.port, 5);
    await subscribe(c, 'stats/x');
    const stats = (await b.get('/stats')).body;
    assert.equal(stats.length, 1);
    assert.equal(stats[0].node, 'aviary@127.0.0.1');
    const agg = (await b.get('/stats?aggregate=true')).body;
    assert.ok(agg['connections.count'] >= 1);
    assert.ok(agg['subscriptions.count'] >= 1);
    assert.equal(typeof agg['retained.count'], 'number');
    const metrics = (await b.get('/metrics?aggregate=true')).body;
    for (const name of [
      'messages.received',
      'packets.publish.received',
      'delivery.dropped.queue_full',
      'session.created',
    ]) {
      assert.equal(typeof metrics[name], 'number', name);
    }
    assert.ok(metrics['session.created'] >= 1);
  });

  test('/nodes and /nodes/:node', async () => {
    const nodes = (await b.get('/nodes')).body;
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].node, 'aviary@127.0.0.1');
    assert.equal(nodes[0].node_status, 'running');
    assert.equal(typeof nodes[0].uptime, 'number');
    assert.equal((await b.get('/nodes/aviary@127.0.0.1')).body.node, 'aviary@127.0.0.1');
    assert.equal((await b.get('/nodes/aviary@127.0.0.1/metrics')).body.node, 'aviary@127.0.0.1');
    assert.equal((await b.get('/nodes/other@host')).status, 404);
  });

  test('/monitor keeps samples every sample_interval; /monitor_current gives rates', async () => {
    await waitUntil(() => b.aviary.broker.metrics !== undefined, 'the broker');
    let samples: Array<Record<string, number>> = [];
    const deadline = Date.now() + 10_000;
    while (samples.length < 2 && Date.now() < deadline) {
      samples = (await b.get('/monitor')).body;
      if (samples.length < 2) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(samples.length >= 2, 'two samples');
    for (const key of [
      'time_stamp',
      'connections',
      'subscriptions',
      'topics',
      'received',
      'sent',
      'dropped',
    ]) {
      assert.equal(typeof samples[0]![key], 'number', key);
    }
    assert.ok(samples[1]!.time_stamp! > samples[0]!.time_stamp!);
    const latest = (await b.get('/monitor?latest=3600')).body;
    assert.ok(latest.length >= 2);
    const current = (await b.get('/monitor_current')).body;
    for (const key of [
      'connections',
      'live_connections',
      'received_msg_rate',
      'sent_msg_rate',
      'dropped_msg_rate',
    ]) {
      assert.equal(typeof current[key], 'number', key);
    }
  });

  test('/listeners reports the MQTT listener from the listener registry', async () => {
    const res = await b.get('/listeners');
    assert.equal(res.status, 200);
    const tcp = res.body.find((l: { id: string }) => l.id === 'tcp:default');
    assert.equal(tcp.type, 'tcp');
    assert.equal(tcp.running, true);
    assert.equal(tcp.bind, `127.0.0.1:${b.port}`);
    assert.equal(typeof tcp.current_connections, 'number');
    assert.equal((await b.post('/listeners/tcp:nope/stop')).status, 404);
  });

  test('/banned: add, list, refuse a duplicate, the banned client is refused, delete', async () => {
    const add = await b.post('/banned', { as: 'clientid', who: 'bad-guy', reason: 'testing' });
    assert.equal(add.status, 200, add.text);
    assert.equal(add.body.until, 'infinity');
    assert.equal((await b.post('/banned', { as: 'clientid', who: 'bad-guy' })).body.code, 'ALREADY_EXISTS');
    const list = (await b.get('/banned')).body;
    assert.equal(list.meta.count, 1);
    assert.deepEqual(
      { as: list.data[0].as, who: list.data[0].who, reason: list.data[0].reason },
      { as: 'clientid', who: 'bad-guy', reason: 'testing' },
    );
    await assert.rejects(connectClient(b.port, 5, { clientId: 'bad-guy' }));
    assert.equal((await b.request('DELETE', '/banned/clientid/bad-guy')).status, 204);
    assert.equal((await b.request('DELETE', '/banned/clientid/bad-guy')).status, 404);
    assert.equal((await b.post('/banned', { as: 'peerhost', who: 'not-an-ip' })).status, 400);
    const c = await connectClient(b.port, 5, { clientId: 'bad-guy' });
    assert.equal(c.connected, true);
  });

  test('/status?format=json while the broker runs; the API closes with the broker', async () => {
    const other = await startApiBroker();
    const ok = await other.get('/status?format=json', { authorization: '' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.broker_status, 'started');
    await other.close();
    await assert.rejects(fetch(`${other.url}/status`), 'closed with the broker');
  });
});

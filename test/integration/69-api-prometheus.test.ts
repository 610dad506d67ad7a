/**
 * 69 api prometheus: GET /api/v5/prometheus/stats parsed with a Prometheus text-format parser
 * (not string matching): EMQX's metric names are there with the right types, Node.js process
 * metrics are there, and the counters move as messages flow.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';
import { type ApiBroker, startApiBroker } from '../helpers/api.js';
import { closeClients, connectClient, Inbox, publish, subscribe } from '../helpers/broker.js';

async function scrape(b: ApiBroker): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${b.url}/api/v5/prometheus/stats`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
}

function value(families: Map<string, PromFamily>, name: string): number {
  const f = families.get(name);
  assert.ok(f !== undefined, `${name} is scraped`);
  return Number(f.metrics[0]?.value);
}

describe('69 api prometheus', () => {
  let b: ApiBroker;
  before(async () => {
    b = await startApiBroker();
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('EMQX names with their types, and Node.js process metrics', async () => {
    const f = await scrape(b);
    for (const name of [
      'emqx_connections_count',
      'emqx_live_connections_count',
      'emqx_topics_count',
      'emqx_retained_count',
    ]) {
      assert.equal(f.get(name)?.type, 'GAUGE', name);
    }
    for (const name of [
      'emqx_messages_received',
      'emqx_messages_sent',
      'emqx_packets_publish_received',
      'emqx_delivery_dropped_queue_full',
      'emqx_session_takenover',
      'emqx_session_created',
      'emqx_bytes_received',
    ]) {
      assert.equal(f.get(name)?.type, 'COUNTER', name);
    }
    assert.equal(value(f, 'emqx_cluster_nodes_running'), 1);
    for (const name of [
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
      'process_resident_memory_bytes',
      'nodejs_gc_duration_seconds',
    ]) {
      assert.ok(f.has(name), name);
    }
    // Left out: each scrape of these walks every open socket (about 90 ms at 19,500 connections).
    for (const name of ['process_open_fds', 'nodejs_active_handles', 'nodejs_active_resources']) {
      assert.ok(!f.has(name), name);
    }
  });

  test('the counters and gauges move as clients connect and messages flow', async () => {
    const before = await scrape(b);
    const sub = await connectClient(b.port, 5, { clientId: 'prom-sub' });
    const inbox = new Inbox(sub);
    await subscribe(sub, 'prom/#', { qos: 1 });
    const pub = await connectClient(b.port, 4, { clientId: 'prom-pub' });
    for (let i = 0; i < 5; i++) await publish(pub, `prom/${i}`, 'x', { qos: 1 });
    await inbox.count(5);
    // A takeover of the subscriber's client id.
    await connectClient(b.port, 5, { clientId: 'prom-sub' });
    const now = await scrape(b);
    const moved = (name: string): number => value(now, name) - value(before, name);
    assert.equal(moved('emqx_messages_received'), 5);
    assert.equal(moved('emqx_packets_publish_received'), 5);
    assert.equal(moved('emqx_messages_sent'), 5);
    assert.equal(moved('emqx_messages_qos1_received'), 5);
    assert.equal(moved('emqx_session_takenover'), 1);
    assert.ok(moved('emqx_bytes_received') > 0);
    assert.equal(value(now, 'emqx_live_connections_count'), 2);
    assert.ok(
      value(now, 'emqx_subscriptions_max') >= 1,
      'the takeover with Clean Start dropped the subscription; its mark stays',
    );
  });
});

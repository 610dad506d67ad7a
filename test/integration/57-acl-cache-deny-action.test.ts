/**
 * 57 the authorization cache (per client, max_size, ttl, excludes, explicit clearing), metrics,
 * superusers, `no_match = deny`, `deny_action = disconnect` (DISCONNECT 0x87 in 5.0, the will is
 * published), and the target topic of `$delayed/<seconds>/<topic>` publishes.
 */

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { AclRuleRecord } from '../../src/persistence/acl.js';
import { PacketType } from '../../src/protocol/index.js';
import {
  closeClients,
  connectClient,
  Inbox,
  type StartedBroker,
  startBroker,
  subscribe,
} from '../helpers/broker.js';
import { publishFrame, subscribeFrame } from '../helpers/mqtt5.js';
import { aclBroker, canPublish, canSubscribe, client, NOT_AUTHORIZED, pubCode } from './55-acl.helpers.js';

const allow = (topic: string): AclRuleRecord => ({ permission: 'allow', action: 'all', topic });
const deny = (topic: string): AclRuleRecord => ({ permission: 'deny', action: 'all', topic });

describe('57 cache and metrics', () => {
  let b: StartedBroker;
  before(async () => {
    b = await startBroker({
      authorization: {
        no_match: 'deny',
        cache: { max_size: 4, ttl: '1m', excludes: ['nocache/#'] },
        sources: [{ type: 'built_in_database' }],
      },
    });
    // A superuser, as authentication would mark one.
    b.aviary.hooks.add(
      'client.authenticate',
      (_acc, c) => (c.username === 'root' ? { stop: { result: 'allow', isSuperuser: true } } : undefined),
      2000,
    );
  });
  afterEach(() => closeClients());
  after(() => b.close());

  const metrics = (): Record<string, number> => b.aviary.broker.metrics.toJSON();
  const put = (rules: AclRuleRecord[]): void => b.aviary.authz.builtIn!.put({ kind: 'all' }, rules);

  test('answers are cached per client; a changed rule is seen at once after clearCache()', async () => {
    put([allow('cached/#')]);
    const c = await client(b.port, { clientId: 'k1' });
    const before = metrics();
    assert.equal(await canPublish(c, 'cached/a'), true);
    assert.equal(await canPublish(c, 'cached/a'), true);
    const mid = metrics();
    assert.equal(mid['authorization.cache_miss']! - before['authorization.cache_miss']!, 1);
    assert.equal(mid['authorization.cache_hit']! - before['authorization.cache_hit']!, 1);
    assert.equal(mid['authorization.allow']! - before['authorization.allow']!, 2);
    assert.equal(mid['authorization.matched.allow']! - before['authorization.matched.allow']!, 1);

    put([deny('cached/#')]);
    b.aviary.authz.clearCache();
    assert.equal(await canPublish(c, 'cached/a'), false, 'cleared: the new rule applies');

    put([allow('cached/#')]);
    assert.equal(await canPublish(c, 'cached/a'), false, 'the denial is cached (ttl 1m)');
  });

  test('answers are per QoS and retain flag; excluded topics are never cached; nomatch is counted', async () => {
    put([{ permission: 'allow', action: 'publish', topic: 'q/#', qos: [1] }, allow('nocache/#')]);
    b.aviary.authz.clearCache();
    const c = await client(b.port, { clientId: 'k2' });
    assert.equal(await canPublish(c, 'q/a', { qos: 1 }), true);
    assert.equal(await canPublish(c, 'q/a', { qos: 2 }), false, 'not the cached QoS 1 answer');
    const before = metrics();
    await canPublish(c, 'nocache/a');
    await canPublish(c, 'nocache/a');
    const after = metrics();
    assert.equal(after['authorization.cache_miss'], before['authorization.cache_miss']);
    assert.equal(after['authorization.cache_hit'], before['authorization.cache_hit']);
    assert.equal(after['authorization.matched.allow']! - before['authorization.matched.allow']!, 2);
    assert.equal(await canPublish(c, 'nowhere/x'), false);
    assert.equal(metrics()['authorization.nomatch']! - after['authorization.nomatch']!, 1);
  });

  test('a superuser skips the ACL', async () => {
    put([deny('#')]);
    b.aviary.authz.clearCache();
    const before = metrics()['authorization.superuser']!;
    const root = await client(b.port, { clientId: 'r1', username: 'root' });
    assert.equal(await canPublish(root, 'anything'), true);
    assert.equal(await canSubscribe(root, '#'), true);
    assert.equal(metrics()['authorization.superuser']! - before, 2);
    const user = await client(b.port, { clientId: 'u1', username: 'user' });
    assert.equal(await canPublish(user, 'anything'), false);
  });

  test('a $delayed publish is checked for its target topic', async () => {
    put([deny('secret/#'), allow('#')]);
    b.aviary.authz.clearCache();
    const c = await client(b.port, { clientId: 'd1' });
    assert.equal(await pubCode(c, '$delayed/1/secret/x'), NOT_AUTHORIZED);
    assert.equal(await pubCode(c, '$delay/1/secret/x'), NOT_AUTHORIZED);
    assert.equal(await pubCode(c, '$delayed/10'), NOT_AUTHORIZED, 'no target topic');
    assert.notEqual(await pubCode(c, '$delayed/1/open/x'), NOT_AUTHORIZED);
  });
});

describe('57 cache ttl', () => {
  let b: StartedBroker;
  before(async () => {
    b = await startBroker({
      authorization: { cache: { ttl: '100ms' }, sources: [{ type: 'built_in_database' }] },
    });
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('a changed rule is seen once the cached answer is older than the ttl', async () => {
    const builtIn = b.aviary.authz.builtIn!;
    builtIn.put({ kind: 'all' }, [deny('t/#')]);
    const c = await client(b.port, { clientId: 't1' });
    assert.equal(await canPublish(c, 't/a'), false);
    builtIn.put({ kind: 'all' }, [allow('t/#')]);
    // Polls until the answer flips (the deadline only turns a hang into a failure).
    const deadline = Date.now() + 5000;
    let allowed = false;
    while (!allowed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      allowed = await canPublish(c, 't/a');
    }
    assert.equal(allowed, true);
  });
});

describe('57 deny_action = disconnect', () => {
  let b: StartedBroker;
  before(async () => {
    b = await aclBroker('{deny, all, all, ["forbidden/#"]}.\n', { deny_action: 'disconnect' });
  });
  afterEach(() => closeClients());
  after(() => b.close());

  test('a denied 5.0 publish gets DISCONNECT 0x87 and the will is published', async () => {
    const watcher = await connectClient(b.port, 5);
    const inbox = new Inbox(watcher);
    await subscribe(watcher, 'wills/#');
    const c = await client(b.port, { clientId: 'x1', will: { topic: 'wills/x1', payload: 'gone' } });
    assert.equal(await canPublish(c, 'allowed/x'), true);
    c.send(publishFrame({ topic: 'forbidden/x', props: [] })); // QoS 0 too
    const p = await c.readPacket();
    assert.equal(p.type, PacketType.Disconnect);
    assert.equal((p as { reasonCode: number }).reasonCode, NOT_AUTHORIZED);
    await c.expectClose();
    const [will] = await inbox.count(1);
    assert.equal(will!.topic, 'wills/x1');
  });

  test('a denied 5.0 subscription gets DISCONNECT 0x87 instead of a SUBACK', async () => {
    const c = await client(b.port, { clientId: 'x2' });
    c.send(subscribeFrame(7, 'forbidden/#', 0, true));
    const p = await c.readPacket();
    assert.equal(p.type, PacketType.Disconnect);
    assert.equal((p as { reasonCode: number }).reasonCode, NOT_AUTHORIZED);
    await c.expectClose();
  });

  test('a 3.1.1 client is disconnected without a packet', async () => {
    const c = await client(b.port, { clientId: 'x3', version: 4 });
    c.send(publishFrame({ topic: 'forbidden/x', qos: 1, packetId: 1 }));
    await c.expectClose();
  });
});

describe('57 no_match = deny', () => {
  let b: StartedBroker;
  before(async () => {
    b = await aclBroker('{allow, all, publish, ["ok/#"]}.\n', { no_match: 'deny' });
  });
  after(async () => {
    await closeClients();
    await b.close();
  });

  test('what no rule covers is denied, publish and subscribe', async () => {
    const c = await client(b.port, { clientId: 'n1' });
    assert.equal(await canPublish(c, 'ok/1'), true);
    assert.equal(await canPublish(c, 'other/1'), false);
    assert.equal(await canSubscribe(c, 'ok/#'), false);
  });
});

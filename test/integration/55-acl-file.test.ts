/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are ACL placeholders, written as in acl.conf and the configuration. */
/**
 * 55 the ACL file (EMQX's acl.conf) over real sockets: each Who form (username, user, regex,
 * clientid, ipaddr, CIDR, ipaddrs, 'and', 'or'), actions with QoS and retain conditions, `eq`
 * topics, placeholders, first match wins, `no_match`, and `$SYS`.
 *
 * A denied PUBLISH gets PUBACK 0x87 in 5.0 and is not routed [MQTT-3.3.4 / 5.0 section 3.4.2.1];
 * a 3.1.1 client gets its plain PUBACK and the message is dropped; a denied SUBSCRIBE filter gets
 * SUBACK 0x87 (3.1.1: 0x80) [MQTT-3.9.3-1].
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { PacketType, ProtocolVersion } from '../../src/protocol/index.js';
import {
  closeClients,
  Inbox,
  RawClient,
  type StartedBroker,
  connectClient,
  publish,
  startBroker,
  subscribe,
  waitFor,
} from '../helpers/broker.js';
import { connectFrame, publishFrame } from '../helpers/mqtt5.js';
import { aclBroker, canPublish, canSubscribe, client, NOT_AUTHORIZED, subCode } from './55-acl.helpers.js';

const WHO_RULES = `
%% Who forms
{allow, {username, "alice"}, publish, ["alice/#"]}.
{allow, {user, {re, "^dev-[0-9]+$"}}, publish, ["devices/#"]}.
{allow, {clientid, "c-1"}, publish, ["c1/#"]}.
{allow, {client, {re, "^grp-"}}, publish, ["group/#"]}.
{allow, {ipaddr, "127.0.0.1"}, publish, ["exact-ip/#"]}.
{allow, {ipaddr, "127.0.0.0/8"}, publish, ["loopback/#"]}.
{allow, {ipaddr, "10.0.0.0/8"}, publish, ["ten/#"]}.
{allow, {ipaddrs, ["192.168.0.0/16", "127.0.0.2"]}, publish, ["two/#"]}.
{allow, {'and', [{username, "bob"}, {clientid, {re, "^bob-"}}]}, publish, ["bob/#"]}.
{allow, {'or', [{username, "carol"}, {clientid, "carol-phone"}]}, publish, ["carol/#"]}.
`;

describe('55 ACL file: Who', () => {
  let b: StartedBroker;
  before(async () => {
    b = await aclBroker(WHO_RULES, { no_match: 'deny' });
  });
  afterEach(() => closeClients());
  after(() => b.close());

  test('{username, "alice"} (and the {user, ...} alias with a regex) match the username only', async () => {
    const alice = await client(b.port, { clientId: 'a1', username: 'alice' });
    assert.equal(await canPublish(alice, 'alice/x'), true);
    assert.equal(await canPublish(alice, 'devices/1'), false, 'no_match = deny for other topics');
    const dev = await client(b.port, { clientId: 'd1', username: 'dev-42' });
    assert.equal(await canPublish(dev, 'devices/42'), true);
    const notDev = await client(b.port, { clientId: 'd2', username: 'dev-x' });
    assert.equal(await canPublish(notDev, 'devices/x'), false);
    const anonymous = await client(b.port, { clientId: 'alice' });
    assert.equal(await canPublish(anonymous, 'alice/x'), false, 'a client id is not a username');
  });

  test('{clientid, "c-1"} and {client, {re, "^grp-"}} match the client id', async () => {
    const c1 = await client(b.port, { clientId: 'c-1', username: 'whoever' });
    assert.equal(await canPublish(c1, 'c1/a'), true);
    const c2 = await client(b.port, { clientId: 'c-2' });
    assert.equal(await canPublish(c2, 'c1/a'), false);
    const g = await client(b.port, { clientId: 'grp-7' });
    assert.equal(await canPublish(g, 'group/x'), true);
    const ng = await client(b.port, { clientId: 'xgrp-7' });
    assert.equal(await canPublish(ng, 'group/x'), false, 'the regex is anchored with ^');
  });

  test('{ipaddr, "127.0.0.1"}, CIDR blocks and {ipaddrs, [...]} match the peer address', async () => {
    const local = await client(b.port, { clientId: 'ip1' });
    assert.equal(await canPublish(local, 'exact-ip/x'), true);
    assert.equal(await canPublish(local, 'loopback/x'), true, '127.0.0.1 is in 127.0.0.0/8');
    assert.equal(await canPublish(local, 'ten/x'), false, '127.0.0.1 is not in 10.0.0.0/8');
    assert.equal(await canPublish(local, 'two/x'), false);
    // Another loopback address (Linux routes all of 127.0.0.0/8 to lo).
    const socket = netConnect({ host: '127.0.0.1', port: b.port, localAddress: '127.0.0.2' });
    const other = new RawClient(socket, ProtocolVersion.V5);
    await waitFor(socket, 'connect');
    other.send(connectFrame({ clientId: 'ip2' }));
    assert.equal((await other.readPacket()).type, PacketType.Connack);
    assert.equal(await canPublish(other, 'two/x'), true, '127.0.0.2 is listed in ipaddrs');
    assert.equal(await canPublish(other, 'exact-ip/x'), false, '127.0.0.2 is not 127.0.0.1');
    assert.equal(await canPublish(other, 'loopback/x'), true);
    await other.destroy();
  });

  test("{'and', [...]} needs every condition, {'or', [...]} one", async () => {
    const bob = await client(b.port, { clientId: 'bob-1', username: 'bob' });
    assert.equal(await canPublish(bob, 'bob/x'), true);
    const bobElsewhere = await client(b.port, { clientId: 'laptop', username: 'bob' });
    assert.equal(await canPublish(bobElsewhere, 'bob/x'), false);
    const carolByName = await client(b.port, { clientId: 'x1', username: 'carol' });
    assert.equal(await canPublish(carolByName, 'carol/x'), true);
    const carolById = await client(b.port, { clientId: 'carol-phone' });
    assert.equal(await canPublish(carolById, 'carol/x'), true);
    const dave = await client(b.port, { clientId: 'dave' });
    assert.equal(await canPublish(dave, 'carol/x'), false);
  });
});

const ACTION_RULES = `
{allow, {username, "sensor"}, {publish, [{qos, [0, 1]}, {retain, false}]}, ["sensors/#"]}.
{allow, {username, "sensor"}, {subscribe, [{qos, 0}]}, ["cmd/#"]}.
{allow, {username, "keeper"}, {all, [{retain, true}]}, ["kept/#"]}.
{deny, all, publish, ["ro/#"]}.
{allow, all, subscribe, ["ro/#"]}.
{deny, all, all, ["secret/#"]}.
{allow, all, all, ["secret/#", "open/#"]}.
`;

describe('55 ACL file: actions, first match', () => {
  let b: StartedBroker;
  before(async () => {
    b = await aclBroker(ACTION_RULES, { no_match: 'deny' });
  });
  afterEach(() => closeClients());
  after(() => b.close());

  test('{publish, [{qos, [0, 1]}, {retain, false}]}: only QoS 0/1 publishes without retain', async () => {
    const s = await client(b.port, { clientId: 's1', username: 'sensor' });
    assert.equal(await canPublish(s, 'sensors/t', { qos: 1 }), true);
    assert.equal(await canPublish(s, 'sensors/t', { qos: 2 }), false, 'QoS 2 is not in [0, 1]');
    assert.equal(await canPublish(s, 'sensors/t', { qos: 1, retain: true }), false, 'retain must be false');
  });

  test('{subscribe, [{qos, 0}]}: a subscription at QoS 0 only; a publish is not covered', async () => {
    const s = await client(b.port, { clientId: 's2', username: 'sensor' });
    assert.equal(await subCode(s, 'cmd/+', 0), 0);
    assert.equal(await subCode(s, 'cmd/+', 1), NOT_AUTHORIZED);
    assert.equal(await canPublish(s, 'cmd/x'), false);
  });

  test('{all, [{retain, true}]}: retained publishes, and subscriptions (which have no retain flag)', async () => {
    const k = await client(b.port, { clientId: 'k1', username: 'keeper' });
    assert.equal(await canPublish(k, 'kept/a', { retain: true }), true);
    assert.equal(await canPublish(k, 'kept/a'), false);
    assert.equal(await canSubscribe(k, 'kept/#'), true);
  });

  test('a publish-only deny leaves subscribing to the next rule; first match wins', async () => {
    const c = await client(b.port, { clientId: 'r1' });
    assert.equal(await canPublish(c, 'ro/x'), false);
    assert.equal(await canSubscribe(c, 'ro/#'), true);
    assert.equal(await canPublish(c, 'secret/x'), false, 'the deny comes before the allow');
    assert.equal(await canSubscribe(c, 'secret/x'), false);
    assert.equal(await canPublish(c, 'open/x'), true);
  });
});

const TOPIC_RULES = `
{deny, all, subscribe, [{eq, "#"}, "eq +/#"]}.
{allow, all, subscribe, ["#"]}.
{allow, all, publish, ["users/\${username}/#", "clients/\${clientid}/#", "%u/legacy", "zone/\${zone}"]}.
`;

describe('55 ACL file: topics', () => {
  let b: StartedBroker;
  before(async () => {
    b = await aclBroker(TOPIC_RULES, { no_match: 'deny' });
  });
  afterEach(() => closeClients());
  after(() => b.close());

  test('{eq, "#"} denies only the literal # subscription; "eq +/#" is the string form', async () => {
    const c = await client(b.port, { clientId: 'e1' });
    assert.equal(await canSubscribe(c, '#'), false);
    assert.equal(await canSubscribe(c, '+/#'), false);
    assert.equal(await canSubscribe(c, 'a/#'), true, 'a/# is not the literal filter #');
    assert.equal(await canSubscribe(c, '+/+'), true);
  });

  test('${username}, ${clientid}, ${zone} and EMQX 4 %u are filled per client', async () => {
    const u = await client(b.port, { clientId: 'cid-9', username: 'uma' });
    assert.equal(await canPublish(u, 'users/uma/x'), true);
    assert.equal(await canPublish(u, 'users/other/x'), false);
    assert.equal(await canPublish(u, 'clients/cid-9/y'), true);
    assert.equal(await canPublish(u, 'clients/cid-8/y'), false);
    assert.equal(await canPublish(u, 'uma/legacy'), true);
    assert.equal(await canPublish(u, 'zone/default'), true);
  });

  test('a placeholder that cannot be filled (no username) makes its topic match nothing', async () => {
    const anon = await client(b.port, { clientId: 'anon-1' });
    assert.equal(await canPublish(anon, 'users//x'), false, '${username} is not rendered as empty');
    assert.equal(await canPublish(anon, 'users/undefined/x'), false);
    assert.equal(await canPublish(anon, '%u/legacy'), false);
    assert.equal(
      await canPublish(anon, 'clients/anon-1/x'),
      true,
      'the other topics of the rule still apply',
    );
  });

  test('a username holding a wildcard does not widen ${username}/# (Aviary guard)', async () => {
    const plus = await client(b.port, { clientId: 'w1', username: '+' });
    assert.equal(await canPublish(plus, 'users/+/x'.replace('+', 'someone')), false);
  });
});

describe('55 ACL file: 3.1.1 clients and routing', () => {
  let b: StartedBroker;
  before(async () => {
    b = await aclBroker('{deny, all, publish, ["blocked/#"]}.\n{deny, all, subscribe, ["hidden/#"]}.\n');
  });
  afterEach(() => closeClients());
  after(() => b.close());

  test('a denied 3.1.1 publish is acknowledged but not routed; a denied filter gets SUBACK 0x80', async () => {
    const raw = await client(b.port, { clientId: 'v4', version: 4, props: [] });
    assert.equal(await subCode(raw, 'hidden/x'), 0x80, 'SUBACK failure 0x80 [MQTT-3.9.3-2]');
    const sub = await connectClient(b.port, 4);
    const inbox = new Inbox(sub);
    assert.deepEqual(await subscribe(sub, ['blocked/#', 'ok/#']), [0, 0]);
    const pub = await connectClient(b.port, 4);
    await publish(pub, 'blocked/1', 'no', { qos: 1 });
    await publish(pub, 'ok/1', 'yes', { qos: 1 });
    const got = await inbox.until('ok/1');
    assert.deepEqual(
      got.map((m) => m.topic),
      ['ok/1'],
    );
  });

  test('a denied 5.0 QoS 0 publish is dropped silently; the connection stays', async () => {
    const sub = await connectClient(b.port, 5);
    const inbox = new Inbox(sub);
    await subscribe(sub, '#');
    const raw = await client(b.port, { clientId: 'q0' });
    raw.send(publishFrame({ topic: 'blocked/q0', props: [] }));
    raw.send(publishFrame({ topic: 'ok/q0', props: [] }));
    const got = await inbox.until('ok/q0');
    assert.deepEqual(
      got.map((m) => m.topic),
      ['ok/q0'],
    );
    assert.equal(raw.isClosed, false);
  });
});

describe('55 ACL file: $SYS and the default acl.conf', () => {
  let dir: string;
  let b: StartedBroker;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aviary-acl-'));
    // EMQX's shipped etc/acl.conf rules, read from a file (docs/authorization.md).
    writeFileSync(
      join(dir, 'acl.conf'),
      [
        '%%-------------- Default ACL rules ----------------',
        '{allow, {username, {re, "^dashboard$"}}, subscribe, ["$SYS/#"]}.',
        '{allow, {ipaddr, "127.0.0.1"}, all, ["$SYS/#", "#"]}.',
        '{deny, all, subscribe, ["$SYS/#", {eq, "#"}]}.',
        '{allow, all}.',
      ].join('\n\n'),
    );
    b = await startBroker({
      sys_topics: { sys_heartbeat_interval: '1s' },
      authorization: { sources: [{ type: 'file', path: join(dir, 'acl.conf') }] },
    });
  });
  afterEach(() => closeClients());
  after(async () => {
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('$SYS is governed by the ACL: the dashboard user subscribes, others (not from 127.0.0.1) do not', async () => {
    // All test clients come from 127.0.0.1, which the second rule allows; one from 127.0.0.2 is
    // an ordinary remote client.
    const socket = netConnect({ host: '127.0.0.1', port: b.port, localAddress: '127.0.0.2' });
    const remote = new RawClient(socket, ProtocolVersion.V5);
    await waitFor(socket, 'connect');
    remote.send(connectFrame({ clientId: 'remote', props: [] }));
    await remote.readPacket();
    assert.equal(await subCode(remote, '$SYS/#'), NOT_AUTHORIZED);
    assert.equal(await subCode(remote, '#'), NOT_AUTHORIZED, '{eq, "#"}');
    assert.equal(await subCode(remote, 'a/#'), 0, '{allow, all}');
    await remote.destroy();

    const socket2 = netConnect({ host: '127.0.0.1', port: b.port, localAddress: '127.0.0.2' });
    const dashboard = new RawClient(socket2, ProtocolVersion.V5);
    await waitFor(socket2, 'connect');
    dashboard.send(connectFrame({ clientId: 'dash', username: 'dashboard', props: [] }));
    await dashboard.readPacket();
    assert.equal(await subCode(dashboard, '$SYS/#'), 0);
    await dashboard.destroy();

    const local = await client(b.port, { clientId: 'local' });
    assert.equal(await subCode(local, '$SYS/brokers/+/uptime'), 0);
    const beat = await local.readPacket();
    assert.equal(beat.type, PacketType.Publish);
  });
});

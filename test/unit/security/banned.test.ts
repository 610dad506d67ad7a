/**
 * The banned list without sockets (src/security/banned.ts, src/security/ip.ts): matching by every
 * kind, expiry, validation, paging, replacing, and loading a store left by an earlier run.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidBanError } from '../../../src/errors.js';
import { MemoryBannedStore } from '../../../src/persistence/memory/banned.js';
import { Banned } from '../../../src/security/banned.js';
import { Cidr, ipKey } from '../../../src/security/ip.js';

const client = (clientId: string, username: string | null = null, peerHost = '192.0.2.7') => ({
  clientId,
  username,
  peerHost,
});

function fixture(start = 1_000_000) {
  let now = start;
  const added: string[] = [];
  const store = new MemoryBannedStore();
  const banned = new Banned(store, { now: () => now, onAdded: (ban) => added.push(`${ban.as}:${ban.who}`) });
  return { banned, store, added, tick: (ms: number) => (now += ms), now: () => now };
}

describe('Banned', () => {
  test('matches by client id, user name, address, patterns and ranges', () => {
    const { banned } = fixture();
    assert.equal(banned.check(client('a')), null);
    banned.add({ as: 'clientid', who: 'a' });
    banned.add({ as: 'username', who: 'eve' });
    banned.add({ as: 'peerhost', who: '198.51.100.1' });
    banned.add({ as: 'clientid_re', who: '^dev-\\d+$' });
    banned.add({ as: 'username_re', who: 'admin' });
    banned.add({ as: 'peerhost_net', who: '203.0.113.0/24' });
    assert.equal(banned.check(client('a'))?.as, 'clientid');
    assert.equal(banned.check(client('b', 'eve'))?.as, 'username');
    assert.equal(banned.check(client('b', null, '::ffff:198.51.100.1'))?.as, 'peerhost');
    assert.equal(banned.check(client('dev-12'))?.as, 'clientid_re');
    assert.equal(banned.check(client('dev-x')), null);
    assert.equal(banned.check(client('b', 'sysadmin'))?.as, 'username_re');
    assert.equal(banned.check(client('b', null, '203.0.113.200'))?.as, 'peerhost_net');
    assert.equal(banned.check(client('b', 'bob', '203.0.114.1')), null);
  });

  test('an entry stops matching at its until, and sweep removes it from the store', () => {
    const { banned, store, tick } = fixture();
    banned.add({ as: 'clientid', who: 'a', until: 1_000_100 });
    banned.add({ as: 'peerhost_net', who: '10.0.0.0/8', until: 1_000_100 });
    assert.ok(banned.check(client('a')));
    tick(99);
    assert.ok(banned.check(client('x', null, '10.1.2.3')));
    tick(1);
    assert.equal(banned.check(client('a')), null);
    assert.equal(banned.check(client('x', null, '10.1.2.3')), null);
    assert.equal(store.size, 2);
    assert.equal(banned.sweep(), 2);
    assert.equal(store.size, 0);
  });

  test('refuses entries that cannot work', () => {
    const { banned } = fixture();
    const bad = [
      { as: 'ip', who: 'x' },
      { as: 'clientid', who: '' },
      { as: 'peerhost', who: '300.1.1.1' },
      { as: 'peerhost_net', who: '10.0.0.0/33' },
      { as: 'peerhost_net', who: 'example.com/8' },
      { as: 'clientid_re', who: '(' },
      { as: 'clientid', who: 'a', at: 10, until: 10 },
    ];
    for (const input of bad) assert.throws(() => banned.add(input), InvalidBanError, JSON.stringify(input));
    assert.equal(banned.size, 0);
  });

  test('defaults (by mgmt_api, reason "", at now, until never), replace, delete, clear', () => {
    const { banned, added, now } = fixture();
    const ban = banned.add({ as: 'clientid', who: 'a' });
    assert.deepEqual(ban, { as: 'clientid', who: 'a', by: 'mgmt_api', reason: '', at: now(), until: null });
    banned.add({ as: 'clientid', who: 'a', reason: 'again' });
    assert.equal(banned.size, 1);
    assert.equal(banned.get('clientid', 'a')?.reason, 'again');
    assert.deepEqual(added, ['clientid:a', 'clientid:a']);
    banned.add({ as: 'clientid_re', who: '^z' });
    assert.equal(banned.delete('clientid_re', '^z'), true);
    assert.equal(banned.check(client('zz')), null);
    assert.equal(banned.delete('clientid_re', '^z'), false);
    banned.clear();
    assert.equal(banned.check(client('a')), null);
    assert.equal(banned.size, 0);
  });

  test('list pages like EMQX: { data, meta: { page, limit, count, hasnext } }', () => {
    const { banned } = fixture();
    for (let i = 0; i < 5; i++) banned.add({ as: 'clientid', who: `c${i}` });
    const p1 = banned.list(1, 2);
    assert.deepEqual(
      p1.data.map((b) => b.who),
      ['c0', 'c1'],
    );
    assert.deepEqual(p1.meta, { page: 1, limit: 2, count: 5, hasnext: true });
    const p3 = banned.list(3, 2);
    assert.deepEqual(
      p3.data.map((b) => b.who),
      ['c4'],
    );
    assert.equal(p3.meta.hasnext, false);
  });

  test('loads the entries a durable store kept, dropping the expired ones', () => {
    const store = new MemoryBannedStore();
    store.put({ as: 'username', who: 'kept', by: 'x', reason: '', at: 1, until: null });
    store.put({ as: 'username', who: 'gone', by: 'x', reason: '', at: 1, until: 5 });
    const banned = new Banned(store, { now: () => 10 });
    assert.ok(banned.check(client('c', 'kept')));
    assert.equal(banned.check(client('c', 'gone')), null);
    assert.equal(store.size, 1);
  });
});

describe('IP addresses and CIDR ranges', () => {
  test('IPv4, IPv4-mapped IPv6 and IPv6 forms', () => {
    assert.equal(ipKey('127.0.0.1'), ipKey('::ffff:127.0.0.1'));
    assert.equal(ipKey('::1'), ipKey('0:0:0:0:0:0:0:1'));
    assert.equal(ipKey('2001:db8::1'), ipKey('2001:0db8:0:0:0:0:0:1'));
    assert.notEqual(ipKey('2001:db8::1'), ipKey('2001:db8::2'));
  });

  test('ranges match on their prefix bits, across both spellings of IPv4', () => {
    const net = Cidr.parse('10.1.0.0/16')!;
    assert.ok(net.contains('10.1.255.1'));
    assert.ok(net.contains('::ffff:10.1.0.9'));
    assert.ok(!net.contains('10.2.0.1'));
    const odd = Cidr.parse('192.168.0.0/23')!;
    assert.ok(odd.contains('192.168.1.200'));
    assert.ok(!odd.contains('192.168.2.1'));
    const v6 = Cidr.parse('2001:db8::/32')!;
    assert.ok(v6.contains('2001:db8:ffff::1'));
    assert.ok(!v6.contains('2001:db9::1'));
    assert.ok(!v6.contains('10.0.0.1'));
    assert.ok(Cidr.parse('0.0.0.0/0')!.contains('8.8.8.8'));
    assert.ok(Cidr.parse('1.2.3.4')!.contains('1.2.3.4'));
    assert.equal(Cidr.parse('1.2.3.4/'), null);
    assert.equal(Cidr.parse('::/129'), null);
  });
});

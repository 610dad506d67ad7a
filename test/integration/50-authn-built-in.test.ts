/**
 * 50 authentication: the chain and the password-based built-in database, over raw sockets.
 *
 * Anonymous access with no provider; the bootstrap file (plain and hash types) and every hash
 * algorithm; a wrong or missing password (5.0 CONNACK 0x86, 3.1.1 0x04); a user no provider
 * knows (every provider ignores: 0x87, 3.1.1 0x05); user_id_type = clientid; is_superuser; a
 * disabled provider; a listener with its own chain; a bad bootstrap file stops the start.
 */

import assert from 'node:assert/strict';
import { createHash, pbkdf2Sync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { ClientInfo } from '../../src/broker/types.js';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { createBroker } from '../../src/main.js';
import { ReasonCode } from '../../src/protocol/index.js';
import { closeClients, rawClient, type StartedBroker, startBroker } from '../helpers/broker.js';
import { type ConnectSpec, connectFrame, rawOpen } from '../helpers/mqtt5.js';

const dir = mkdtempSync(join(tmpdir(), 'aviary-authn-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The CONNACK reason code (5.0) or return code (3.1.1) for a CONNECT. */
async function connack(port: number, c: ConnectSpec): Promise<number> {
  const { raw, connack } = await rawOpen(port, c);
  await raw.destroy();
  return connack.reasonCode;
}

const sha256hex = (text: string) => createHash('sha256').update(text).digest('hex');

describe('50 authentication: chain and built-in database', () => {
  after(closeClients);

  describe('no provider configured', () => {
    let b: StartedBroker;
    before(async () => {
      b = await startBroker();
    });
    after(() => b.close());

    test('clients are allowed anonymously, with or without credentials (the default)', async () => {
      assert.equal(await connack(b.port, { clientId: 'anon1' }), ReasonCode.Success);
      assert.equal(
        await connack(b.port, { clientId: 'anon2', username: 'x', password: 'y' }),
        ReasonCode.Success,
      );
      assert.equal(b.aviary.hooks.has('client.authenticate'), false, 'no hook: authentication costs nothing');
    });
  });

  describe('bootstrap_type = plain, sha256 with a prefix salt (EMQX default)', () => {
    let b: StartedBroker;
    const superusers: Record<string, boolean> = {};
    before(async () => {
      const users = file(
        'plain.csv',
        'user_id,password,is_superuser\nalice,wonder,false\nroot,toor,true\n\nbob,builder\n',
      );
      b = await startBroker({
        authentication: [
          { mechanism: 'password_based', backend: 'built_in_database', bootstrap_file: users },
        ],
      });
      await b.aviary.authn.ready;
      b.aviary.hooks.add('client.connected', (c: ClientInfo) => {
        superusers[c.clientId] = c.isSuperuser;
      });
    });
    after(() => b.close());

    test('the right password connects (5.0 and 3.1.1); is_superuser from the file', async () => {
      assert.equal(await connack(b.port, { clientId: 'a5', username: 'alice', password: 'wonder' }), 0);
      assert.equal(
        await connack(b.port, { version: 4, clientId: 'a4', username: 'bob', password: 'builder' }),
        0,
      );
      assert.equal(await connack(b.port, { clientId: 'r5', username: 'root', password: 'toor' }), 0);
      assert.equal(superusers.a5, false);
      assert.equal(superusers.r5, true);
    });

    test('passwords are stored hashed: sha256 of salt + password, a 32-hex salt', () => {
      const user = b.aviary.authn.builtInUsers!.store.get('password_based:built_in_database', 'alice')!;
      assert.match(user.salt, /^[0-9a-f]{32}$/);
      assert.equal(user.passwordHash, sha256hex(user.salt + 'wonder'));
    });

    test('a wrong password: 5.0 CONNACK 0x86, 3.1.1 CONNACK 0x04 (exact bytes), then the close', async () => {
      assert.equal(await connack(b.port, { clientId: 'w5', username: 'alice', password: 'wrong' }), 0x86);
      const raw = await rawClient(b.port, 4);
      raw.send(connectFrame({ version: 4, clientId: 'w4', username: 'alice', password: 'wrong' }));
      assert.equal(await raw.readHex(4), '20020004');
      await raw.expectClose();
    });

    test('a known user without a password is a bad password (0x86)', async () => {
      assert.equal(
        await connack(b.port, { clientId: 'np', username: 'alice' }),
        ReasonCode.BadUserNameOrPassword,
      );
    });

    test('an unknown user or no username: every provider ignores, so 0x87 not authorized (3.1.1: 0x05)', async () => {
      assert.equal(
        await connack(b.port, { clientId: 'u5', username: 'mallory', password: 'x' }),
        ReasonCode.NotAuthorized,
      );
      assert.equal(await connack(b.port, { clientId: 'n5' }), ReasonCode.NotAuthorized);
      const raw = await rawClient(b.port, 4);
      raw.send(connectFrame({ version: 4, clientId: 'u4', username: 'mallory', password: 'x' }));
      assert.equal(await raw.readHex(4), '20020005');
      await raw.expectClose();
    });

    test('users added at run time (the administration) authenticate at once; deleted ones no longer', async () => {
      const users = b.aviary.authn.builtInUsers!;
      await users.put('carol', 'c4rol', false);
      assert.equal(await connack(b.port, { clientId: 'c1', username: 'carol', password: 'c4rol' }), 0);
      assert.equal(users.delete('carol'), true);
      assert.equal(await connack(b.port, { clientId: 'c2', username: 'carol', password: 'c4rol' }), 0x87);
      assert.deepEqual(
        users.list({ limit: 10 }).map((u) => u.userId),
        ['alice', 'bob', 'root'],
      );
    });

    test('the failure is counted by the provider', () => {
      const m = b.aviary.authn.global.metrics[0]!;
      assert.ok(m.failed >= 2 && m.nomatch >= 2 && m.success >= 3, JSON.stringify(m));
    });
  });

  describe('bootstrap_type = hash: every algorithm, with EMQX-compatible hashes made here', () => {
    const cases: { name: string; algorithm: Record<string, unknown>; hash: string; salt: string }[] = [
      { name: 'plain', algorithm: { name: 'plain', salt_position: 'disable' }, hash: 'secret', salt: '' },
      {
        name: 'md5 suffix',
        algorithm: { name: 'md5', salt_position: 'suffix' },
        hash: createHash('md5').update('secretNaCl').digest('hex'),
        salt: 'NaCl',
      },
      {
        name: 'sha prefix',
        algorithm: { name: 'sha', salt_position: 'prefix' },
        hash: createHash('sha1').update('NaClsecret').digest('hex'),
        salt: 'NaCl',
      },
      {
        name: 'sha256 disable',
        algorithm: { name: 'sha256', salt_position: 'disable' },
        hash: sha256hex('secret'),
        salt: '',
      },
      {
        name: 'sha512 suffix',
        algorithm: { name: 'sha512', salt_position: 'suffix' },
        hash: createHash('sha512').update('secretNaCl').digest('hex'),
        salt: 'NaCl',
      },
      {
        name: 'pbkdf2 sha256',
        algorithm: { name: 'pbkdf2', mac_fun: 'sha256', iterations: 100 },
        hash: pbkdf2Sync('secret', 'NaCl', 100, 32, 'sha256').toString('hex'),
        salt: 'NaCl',
      },
      {
        name: 'bcrypt',
        algorithm: { name: 'bcrypt' },
        hash: bcrypt.hashSync('secret', '$2b$05$abcdefghijklmnopqrstuu'),
        salt: '$2b$05$abcdefghijklmnopqrstuu',
      },
    ];
    for (const c of cases) {
      test(`${c.name}: the right password connects, a wrong one gets 0x86`, async () => {
        const users = file(
          `hash-${c.name.replace(/ /g, '-')}.csv`,
          `user_id,password_hash,salt,is_superuser\ndev,${c.hash},${c.salt},false\n`,
        );
        const b = await startBroker({
          authentication: [
            {
              mechanism: 'password_based',
              backend: 'built_in_database',
              bootstrap_file: users,
              bootstrap_type: 'hash',
              password_hash_algorithm: c.algorithm,
            },
          ],
        } as AviaryConfigInput);
        try {
          await b.aviary.authn.ready;
          assert.equal(await connack(b.port, { clientId: 'h1', username: 'dev', password: 'secret' }), 0);
          assert.equal(await connack(b.port, { clientId: 'h2', username: 'dev', password: 'secreT' }), 0x86);
        } finally {
          await b.close();
        }
      });
    }
  });

  describe('user_id_type = clientid, a disabled provider, a listener with its own chain', () => {
    let b: StartedBroker;
    let openPort = 0;
    before(async () => {
      const users = file('ids.csv', 'user_id,password\nsensor-1,k3y\n');
      b = await startBroker({
        listeners: { tcp: { open: { bind: '127.0.0.1:0', authentication: [] } } },
        authentication: [
          { mechanism: 'password_based', backend: 'built_in_database', enable: false },
          {
            mechanism: 'password_based',
            backend: 'built_in_database',
            user_id_type: 'clientid',
            bootstrap_file: users,
            password_hash_algorithm: { name: 'sha512', salt_position: 'suffix' },
          },
        ],
      } as AviaryConfigInput);
      await b.aviary.authn.ready;
      openPort = b.aviary.addresses().find((a) => a.id === 'tcp:open')!.port;
    });
    after(() => b.close());

    test('the client id is the user id; the username is not looked at', async () => {
      assert.equal(await connack(b.port, { clientId: 'sensor-1', username: 'anything', password: 'k3y' }), 0);
      assert.equal(await connack(b.port, { clientId: 'sensor-1', password: 'bad' }), 0x86);
      assert.equal(await connack(b.port, { clientId: 'sensor-2', password: 'k3y' }), 0x87);
    });

    test('a disabled provider is not in the chain', () => {
      assert.equal(b.aviary.authn.global.providers.length, 1);
    });

    test('listeners.tcp.open.authentication = [] overrides the global chain: anonymous there', async () => {
      assert.equal(await connack(openPort, { clientId: 'who-knows' }), 0);
      assert.equal(await connack(b.port, { clientId: 'who-knows' }), 0x87);
    });
  });

  test('a bootstrap file that is missing or malformed stops the start with a configuration error', () => {
    const auth = (bootstrap_file: string) =>
      ({
        listeners: { tcp: { default: { bind: '127.0.0.1:0' } } },
        log: { console: { enable: false } },
        authentication: [{ mechanism: 'password_based', backend: 'built_in_database', bootstrap_file }],
      }) as AviaryConfigInput;
    assert.throws(() => createBroker(auth(join(dir, 'nope.csv'))), { code: 'AVY_ERR_CONFIG' });
    const bad = file('bad.csv', 'user_id,password,is_superuser\nalice,pw,maybe\n');
    assert.throws(() => createBroker(auth(bad)), /bad\.csv:2: is_superuser must be true or false/);
    const noHeader = file('noheader.csv', 'alice,pw\n');
    assert.throws(() => createBroker(auth(noHeader)), /noheader\.csv:1: the header must name the columns/);
  });
});

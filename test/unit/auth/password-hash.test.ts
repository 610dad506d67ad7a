/**
 * Password hashing against known vectors: EMQX's semantics (emqx_passwd: hex of the digest of
 * salt+password for prefix, password+salt for suffix), PBKDF2 from RFC 6070, bcrypt from
 * OpenBSD's test vectors. The simple-hash vectors were computed with Python's hashlib; the
 * sha256/suffix one is the example of EMQX's Redis authentication documentation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPassword, generateSalt, hashPassword, hashSimple } from '../../../src/auth/password-hash.js';
import type { PasswordHashConfig } from '../../../src/config/authn-schema.js';

function alg(over: Partial<PasswordHashConfig>): PasswordHashConfig {
  return {
    name: 'sha256',
    salt_position: 'prefix',
    salt_rounds: 10,
    mac_fun: 'sha256',
    iterations: 4096,
    ...over,
  };
}

const SIMPLE: Record<string, { prefix: string; suffix: string; disable: string }> = {
  md5: {
    prefix: 'a9e9d4e7b4a75ec2d70947c214e94946',
    suffix: 'd1324a8b9831a4b20d542cd4be9393fa',
    disable: '195f19b835efe9f0b7b4e276ef1a8515',
  },
  sha: {
    prefix: 'd47932e12045435e8f061ac8d0ec752043486fc3',
    suffix: '9207b1102eedccbb5dfad70649e73700207a28dd',
    disable: '480bfd9805c2b8b0885af2eb82e25ff39b02bf81',
  },
  sha256: {
    prefix: '7298660eff52aff87463c478fda939f26291762c5ea379da0eb55be9f4053d36',
    suffix: '6ef0198f80fc34d51a8458da29d7571b2f229ad8b8efc0285dceb15c12fe1659',
    disable: 'a4048cba70dad0be0b01a8bb00027c775386c3f6194943ad3bf37204781edbc5',
  },
  sha512: {
    prefix:
      'a12f0e50894901aa641400155dd8338eda954ffd2e21c497b85427b0d61ee89028bb5b5670b45678ba0c08c98b07a5dd96d526e7b4329fad1cac93d9f124d75b',
    suffix:
      '66deda08bd594c6a613df23ce30c13a20bad6b9e81338b84c82256153d549139f9062a9e09195e65767387d45d6e362342db6789820a7b662e31b7d318a475e7',
    disable:
      '0fe65d82d9d6dd00b7408ef93268f7738178a80fcba1fe5581be030ad43e0c3e9efcbc66c499baf4c4c0b3acbdece69453ebe728c7b07da87c976554ac9bd977',
  },
};

describe('password hashing (EMQX emqx_passwd)', () => {
  for (const [name, vectors] of Object.entries(SIMPLE)) {
    for (const position of ['prefix', 'suffix', 'disable'] as const) {
      test(`${name} with salt_position = ${position}`, async () => {
        const a = alg({ name: name as PasswordHashConfig['name'], salt_position: position });
        assert.equal(hashSimple(name, position, 'salt123', 'p@ss'), vectors[position]);
        assert.equal(await hashPassword(a, Buffer.from('p@ss'), 'salt123'), vectors[position]);
        assert.equal(await checkPassword(a, vectors[position], 'salt123', Buffer.from('p@ss')), true);
        assert.equal(await checkPassword(a, vectors[position], 'salt123', Buffer.from('p@sS')), false);
      });
    }
  }

  test("EMQX's documented example: sha256, suffix, salt slat_foo123, password public", async () => {
    const a = alg({ salt_position: 'suffix' });
    const hash = '44edc2d57cde8d79c98145003e105b90a14f1460b79186ea9cfe83942fc5abb5';
    assert.equal(await checkPassword(a, hash, 'slat_foo123', Buffer.from('public')), true);
  });

  test('plain: the password itself, salted as configured', async () => {
    assert.equal(await hashPassword(alg({ name: 'plain', salt_position: 'disable' }), 'pw', 'x'), 'pw');
    assert.equal(await hashPassword(alg({ name: 'plain', salt_position: 'suffix' }), 'pw', 'x'), 'pwx');
    assert.equal(
      await checkPassword(alg({ name: 'plain', salt_position: 'disable' }), 'pw', '', Buffer.from('pw')),
      true,
    );
    assert.equal(generateSalt(alg({ name: 'plain' })), '');
  });

  test('pbkdf2: RFC 6070 vector (HMAC-SHA1, 2 iterations, 20 bytes) and sha256/sha512 vectors', async () => {
    const rfc = alg({ name: 'pbkdf2', mac_fun: 'sha', iterations: 2, dk_length: 20 });
    assert.equal(await hashPassword(rfc, 'password', 'salt'), 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957');
    const a = alg({ name: 'pbkdf2', mac_fun: 'sha256', iterations: 1000 });
    const hash = '1f2438f501007f756c6204981d2b160fcb1ef48348bff4d00ae798fd2f5afdc2';
    assert.equal(await hashPassword(a, 'p@ss', 'salt123'), hash, 'dk_length defaults to the digest length');
    assert.equal(await checkPassword(a, hash, 'salt123', Buffer.from('p@ss')), true);
    assert.equal(await checkPassword(a, hash, 'salt124', Buffer.from('p@ss')), false);
    const short = alg({ name: 'pbkdf2', mac_fun: 'sha512', iterations: 10, dk_length: 16 });
    assert.equal(await hashPassword(short, 'p@ss', 'salt123'), 'f6181e52904a0732a2922dd9b0e9adfc');
  });

  test("bcrypt: OpenBSD's vector, with the salt column and without", async () => {
    const a = alg({ name: 'bcrypt', salt_rounds: 5 });
    const hash = '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW';
    assert.equal(await hashPassword(a, 'U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.'), hash);
    assert.equal(await checkPassword(a, hash, '$2a$05$CCCCCCCCCCCCCCCCCCCCC.', Buffer.from('U*U')), true);
    assert.equal(await checkPassword(a, hash, '', Buffer.from('U*U')), true);
    assert.equal(await checkPassword(a, hash, '', Buffer.from('U*V')), false);
    assert.equal(await checkPassword(a, hash, 'not-a-salt', Buffer.from('U*U')), false);
  });

  test('generated salts: 32 hex characters (EMQX), bcrypt salts with the configured rounds', async () => {
    assert.match(generateSalt(alg({})), /^[0-9a-f]{32}$/);
    assert.notEqual(generateSalt(alg({})), generateSalt(alg({})));
    const salt = generateSalt(alg({ name: 'bcrypt', salt_rounds: 5 }));
    assert.match(salt, /^\$2[ab]\$05\$.{22}$/);
    const a = alg({ name: 'bcrypt', salt_rounds: 5 });
    const hash = await hashPassword(a, 'secret', salt);
    assert.equal(await checkPassword(a, hash, salt, Buffer.from('secret')), true);
  });

  test('a password of any bytes (MQTT passwords are binary) hashes and checks', async () => {
    const a = alg({ name: 'sha512', salt_position: 'suffix' });
    const pw = Buffer.from([0x00, 0xff, 0x80, 0x41]);
    const hash = await hashPassword(a, pw, 's');
    assert.equal(await checkPassword(a, hash, 's', pw), true);
    assert.equal(await checkPassword(a, hash, 's', Buffer.from([0x00, 0xff, 0x80])), false);
  });
});

/**
 * Secrets (src/config/secrets.ts, src/observability/logger.ts): a secret may be kept in a file
 * (`file:///path`, EMQX 5's form) or an environment variable (HOCON `${VAR}`), and the broker's
 * logs never show one.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, test } from 'node:test';
import type { ErrorWithReasonCode } from 'mqtt';
import type { AuthResult } from '../../src/broker/hooks.js';
import { ConfigError } from '../../src/errors.js';
import { parseHocon, REDACTED, redactSecrets, resolveSecret } from '../../src/config/index.js';
import { ReasonCode } from '../../src/protocol/index.js';
import {
  closeClients,
  connectClient,
  connected,
  openClient,
  startBroker,
  waitUntil,
} from '../helpers/broker.js';

const dir = mkdtempSync(join(tmpdir(), 'aviary-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 's3cr3t-Value-4711';

describe('secrets from files and the environment', () => {
  test('file:///path reads the file, trimmed; a plain value is itself', () => {
    const path = join(dir, 'pw');
    writeFileSync(path, `${SECRET}\n`);
    assert.equal(resolveSecret(pathToFileURL(path).href, 'authentication.1.password'), SECRET);
    assert.equal(resolveSecret(`file://${path}`, 'k'), SECRET);
    assert.equal(resolveSecret('plain', 'k'), 'plain');
    assert.equal(resolveSecret(undefined, 'k'), undefined);
  });

  test('a missing secret file is a ConfigError naming the key, without any secret', () => {
    assert.throws(
      () => resolveSecret(`file://${join(dir, 'missing')}`, 'authorization.sources.1.headers.authorization'),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.key === 'authorization.sources.1.headers.authorization' &&
        /ENOENT/.test(error.message),
    );
  });

  test('HOCON substitution of an environment variable takes a secret from the environment', () => {
    const hocon = ['db { password = $', '{MQTT_DB_PASSWORD} }'].join('');
    const parsed = parseHocon(hocon, { env: { MQTT_DB_PASSWORD: SECRET } });
    assert.deepEqual(parsed, { db: { password: SECRET } });
  });

  test('a password kept in a file authenticates clients over a real socket', async () => {
    const path = join(dir, 'device-password');
    writeFileSync(path, `  ${SECRET}  \n`);
    const expected = resolveSecret(pathToFileURL(path).href, 'plugin.password');
    const b = await startBroker();
    try {
      // A plugin-style provider whose password comes from the file.
      b.aviary.hooks.add('client.authenticate', (_acc: AuthResult, _client, password) => ({
        stop: { result: password?.toString() === expected ? 'allow' : 'deny' },
      }));
      await connectClient(b.port, 5, { username: 'device', password: SECRET });
      const wrong = openClient(b.port, 5, { username: 'device', password: 'guess' });
      const error = (await connected(wrong).catch((e: unknown) => e)) as ErrorWithReasonCode;
      assert.equal(error.code, ReasonCode.BadUserNameOrPassword);
    } finally {
      await closeClients();
      await b.close();
    }
  });
});

describe('logs never show secrets', () => {
  test("the broker's logger censors passwords, secrets and authorization headers at any depth", async () => {
    const file = join(dir, 'aviary.log');
    const b = await startBroker({
      log: { console: { enable: false }, file: { enable: true, level: 'info', path: file } },
    });
    try {
      b.aviary.log.info(
        {
          config: {
            authentication: [{ mechanism: 'password_based', password: SECRET }],
            authorization: { sources: [{ type: 'http', headers: { authorization: `Bearer ${SECRET}` } }] },
            jwt: { secret: SECRET },
          },
          packet: { username: 'u', password: Buffer.from(SECRET) },
          password: SECRET,
        },
        'marker-line',
      );
      const written = (): string => {
        try {
          return readFileSync(file, 'utf8');
        } catch {
          return ''; // the file is opened asynchronously
        }
      };
      await waitUntil(() => written().includes('marker-line'), 'the log line to be written');
      const text = readFileSync(file, 'utf8');
      assert.ok(!text.includes(SECRET), `the log shows the secret: ${text}`);
      assert.ok(text.includes(REDACTED));
      assert.ok(text.includes('"username":"u"'), 'other fields are kept');
    } finally {
      await b.close();
    }
  });

  test('redactSecrets censors a copy of a configuration, keeping file:// references', () => {
    const config = {
      authentication: [{ password: SECRET, user_id_type: 'username' }],
      authorization: { no_match: 'allow', sources: [{ headers: { Authorization: SECRET, accept: 'json' } }] },
      jwt: { secret: 'file:///run/secrets/jwt' },
    };
    assert.deepEqual(redactSecrets(config), {
      authentication: [{ password: REDACTED, user_id_type: 'username' }],
      authorization: {
        no_match: 'allow',
        sources: [{ headers: { Authorization: REDACTED, accept: 'json' } }],
      },
      jwt: { secret: 'file:///run/secrets/jwt' },
    });
    assert.equal(config.authentication[0]!.password, SECRET, 'the original is untouched');
  });
});

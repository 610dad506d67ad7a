/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are authentication placeholders, written as in the configuration. */
/**
 * The small parsers of authentication: bootstrap CSV files (EMQX's columns, found by header
 * name), `${...}` templates and the client variables they read, WebSocket cookies.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatBootstrap, parseBootstrap } from '../../../src/auth/bootstrap.js';
import { cookiesOf } from '../../../src/auth/client-extras.js';
import { clientVariable, Template } from '../../../src/auth/template.js';
import type { ClientInfo } from '../../../src/broker/types.js';

function client(extra: Partial<ClientInfo> = {}): ClientInfo {
  return {
    clientId: 'dev-1',
    username: 'alice',
    peerHost: '10.0.0.7',
    peerPort: 50000,
    listener: 'ssl:default',
    zone: 'external',
    protocolVersion: 5,
    isSuperuser: false,
    connectedAt: 0,
    ...extra,
  };
}

describe('bootstrap files', () => {
  test('plain: header, users, is_superuser optional, blank lines and a BOM skipped, CRLF accepted', () => {
    const text = '\uFEFFuser_id,password,is_superuser\r\nalice,pw1,true\r\n\r\nbob,pw2\r\n';
    assert.deepEqual(parseBootstrap(text, 'plain', 'f.csv'), [
      { userId: 'alice', password: 'pw1', salt: '', isSuperuser: true },
      { userId: 'bob', password: 'pw2', salt: '', isSuperuser: false },
    ]);
  });

  test('hash: columns by name, in any order', () => {
    const text = 'salt,user_id,is_superuser,password_hash\ns1,alice,false,abc\n';
    assert.deepEqual(parseBootstrap(text, 'hash', 'f.csv'), [
      { userId: 'alice', password: 'abc', salt: 's1', isSuperuser: false },
    ]);
  });

  test('errors name the file and line', () => {
    assert.throws(() => parseBootstrap('user_id,password\n,pw\n', 'plain', 'u.csv'), /u\.csv:2: expected/);
    assert.throws(
      () => parseBootstrap('user_id,password\n', 'hash', 'u.csv'),
      /u\.csv:1: the header must name/,
    );
    assert.throws(
      () => parseBootstrap('user_id,password,is_superuser\na,b,yes\n', 'plain', 'u.csv'),
      /u\.csv:2/,
    );
  });

  test('format then parse gives the users back; a comma in a value is refused', () => {
    const users = [{ userId: 'a', password: 'h', salt: 's', isSuperuser: true }];
    assert.deepEqual(parseBootstrap(formatBootstrap(users, 'hash'), 'hash', 'x'), users);
    assert.throws(() =>
      formatBootstrap([{ userId: 'a,b', password: 'p', salt: '', isSuperuser: false }], 'plain'),
    );
  });
});

describe('templates', () => {
  const c = client({
    peerCert: { cn: 'dev-1', dn: 'O=Acme,CN=dev-1' },
    pskIdentity: 'psk-id',
    clientAttrs: { tenant: 't9' },
    upgradeHeaders: { cookie: 'a=1; sid=x%20y; a=2' },
  });
  const render = (t: string) => new Template(t).render((v) => clientVariable(c, Buffer.from('s3cret'), v));

  test('every variable EMQX documents, plus cookies and client attributes', () => {
    assert.equal(
      render('${username}|${clientid}|${password}|${peerhost}|${peerport}|${zone}|${listener}'),
      'alice|dev-1|s3cret|10.0.0.7|50000|external|ssl:default',
    );
    assert.equal(
      render('${cert_common_name}|${cert_subject}|${psk_identity}'),
      'dev-1|O=Acme,CN=dev-1|psk-id',
    );
    assert.equal(render('${client_attrs.tenant}/${cookie.sid}/${cookie.a}'), 't9/x y/1');
  });

  test('unknown or absent variables render empty; literal text stays', () => {
    assert.equal(render('x-${nope}-${client_attrs.none}-y'), 'x---y');
    assert.equal(
      new Template('${ username }').render((v) => clientVariable(client(), null, v)),
      'alice',
    );
    assert.equal(
      new Template('${password}').render((v) => clientVariable(client(), null, v)),
      '',
    );
    assert.equal(new Template('plain').usesPassword, false);
    assert.equal(new Template('p=${password}').usesPassword, true);
  });

  test('no cookies for clients that did not come over WebSocket', () => {
    assert.equal(cookiesOf(client()).size, 0);
    assert.deepEqual(
      [...cookiesOf(client({ upgradeHeaders: { cookie: ['k="v"', 'bad', 'n=%E0%A4%A'] } }))],
      [
        ['k', 'v'],
        ['n', '%E0%A4%A'],
      ],
    );
  });
});

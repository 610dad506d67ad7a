/**
 * Listener machinery without sockets' I/O: the ConnectionGate (max_connections and the
 * max_conn_rate token bucket, on a fake clock), `max_conn_rate` parsing, the PSK file format and
 * the certificate subject as PeerCert.
 */

import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { parseRate } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';
import { ConnectionGate } from '../../../src/transport/listener.js';
import { parsePskFile } from '../../../src/transport/psk.js';
import { peerCertOf } from '../../../src/transport/tls.js';

describe('ConnectionGate', () => {
  test('max_connections: refuses beyond the limit, admits again after a close', () => {
    const gate = new ConnectionGate({ maxConnections: 2, maxConnRate: Number.POSITIVE_INFINITY });
    const sockets = [new Socket(), new Socket(), new Socket()];
    assert.equal(gate.admit(sockets[0]!), null);
    assert.equal(gate.admit(sockets[1]!), null);
    assert.equal(gate.admit(sockets[2]!), 'max_connections');
    assert.equal(sockets[2]!.destroyed, true);
    assert.equal(gate.size, 2);
    sockets[0]!.emit('close');
    assert.equal(gate.size, 1);
    assert.equal(gate.admit(new Socket()), null);
    assert.deepEqual(gate.counters, {
      accepted: 3,
      refusedMaxConnections: 1,
      refusedRate: 0,
      handshakeFailed: 0,
    });
  });

  test('max_conn_rate: a burst of one second, then the rate', () => {
    let now = 0;
    const gate = new ConnectionGate({
      maxConnections: Number.POSITIVE_INFINITY,
      maxConnRate: 2,
      now: () => now,
    });
    assert.equal(gate.admit(new Socket()), null);
    assert.equal(gate.admit(new Socket()), null);
    assert.equal(gate.admit(new Socket()), 'max_conn_rate');
    now = 499; // 0.998 of a token
    assert.equal(gate.admit(new Socket()), 'max_conn_rate');
    now = 500; // one token
    assert.equal(gate.admit(new Socket()), null);
    now = 60_000; // refills to the burst only
    assert.equal(gate.admit(new Socket()), null);
    assert.equal(gate.admit(new Socket()), null);
    assert.equal(gate.admit(new Socket()), 'max_conn_rate');
    assert.equal(gate.counters.refusedRate, 3);
  });
});

describe('max_conn_rate values', () => {
  test('EMQX forms, normalised to connections per second', () => {
    assert.equal(parseRate('1000/s'), 1000);
    assert.equal(parseRate('100/10s'), 10);
    assert.equal(parseRate('60/m'), 1);
    assert.equal(parseRate('1/10m'), 1 / 600);
    assert.equal(parseRate(50), 50);
    assert.equal(parseRate('50'), 50);
    assert.equal(parseRate('infinity'), Number.POSITIVE_INFINITY);
    for (const bad of ['', 'fast', '0/s', '-1/s', '10/0s', '10/parsec', 0, -5]) {
      assert.equal(parseRate(bad), undefined, `rejects ${JSON.stringify(bad)}`);
    }
  });
});

describe('PSK file', () => {
  test('identity:hexkey lines; comments and blank lines ignored; a custom separator', () => {
    const table = parsePskFile('# c\n\ndev-1:0a0B\r\ndev-2:00ff\n', ':', 'psk.txt');
    assert.deepEqual([...table.keys()], ['dev-1', 'dev-2']);
    assert.deepEqual(table.get('dev-1'), Buffer.from([0x0a, 0x0b]));
    assert.deepEqual(parsePskFile('a::b|cafe', '|', 'f').get('a::b'), Buffer.from('cafe', 'hex'));
  });

  test('a bad line is a ConfigError naming the file, the line and the key', () => {
    for (const [text, pattern] of [
      ['ok:00\nno-separator\n', /psk\.txt:2: expected "identity:hexkey"/],
      [':00\n', /psk\.txt:1/],
      ['dev:xyz\n', /psk\.txt:1: the key of "dev" is not hexadecimal/],
      ['dev:abc\n', /not hexadecimal/],
    ] as const) {
      assert.throws(
        () => parsePskFile(text, ':', 'psk.txt'),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.key === 'psk_authentication.init_file' &&
          pattern.test(error.message),
      );
    }
  });
});

describe('peer certificate subject', () => {
  test('CN and DN from the subject text Node gives', () => {
    assert.deepEqual(peerCertOf('C=SE\nO=Aviary\nCN=device-1'), {
      cn: 'device-1',
      dn: 'C=SE,O=Aviary,CN=device-1',
    });
    assert.deepEqual(peerCertOf('O=NoName'), { cn: null, dn: 'O=NoName' });
  });
});

/**
 * SCRAM: the test client against RFC 7677's example, and the broker's provider (without sockets)
 * against the client: success with the server's proof, a wrong password, an unknown user (which
 * still gets a salt, the same one each time), channel binding refused, a foreign CONNECT user name.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ScramProvider } from '../../../src/auth/scram.js';
import type { EnhancedAuthResult } from '../../../src/broker/hooks.js';
import type { ClientInfo } from '../../../src/broker/types.js';
import { MemoryUserStore } from '../../../src/persistence/memory/users.js';
import { ScramClient } from '../../helpers/scram-client.js';

describe('SCRAM', () => {
  test('the test client reproduces the example of RFC 7677 section 3', () => {
    const c = new ScramClient('sha256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
    assert.equal(c.first(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const serverFirst =
      'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
    assert.equal(
      c.final(serverFirst),
      'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    );
    assert.equal(c.verify('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='), true);
  });

  function client(username: string | null = null): ClientInfo {
    return {
      clientId: 'c1',
      username,
      peerHost: '127.0.0.1',
      peerPort: 1,
      listener: 'tcp:default',
      zone: 'default',
      protocolVersion: 5,
      isSuperuser: false,
      connectedAt: 0,
    };
  }

  function provider(alg: 'sha256' | 'sha512'): ScramProvider {
    const p = new ScramProvider(
      { enable: true, mechanism: 'scram', backend: 'built_in_database', algorithm: alg, iteration_count: 64 },
      new MemoryUserStore(),
    );
    p.users.put('alice', 'wonderland', true);
    return p;
  }

  function run(
    p: ScramProvider,
    ci: ClientInfo,
    c: ScramClient,
  ): { first: EnhancedAuthResult; last: EnhancedAuthResult } {
    const method = p.methods[0]!;
    const first = p.enhancedAuth(ci, {
      method,
      data: Buffer.from(c.first()),
      phase: 'connect',
    }) as EnhancedAuthResult;
    if (first.result !== 'continue') return { first, last: first };
    const last = p.enhancedAuth(ci, {
      method,
      data: Buffer.from(c.final(first.data!.toString())),
      phase: 'continue',
    }) as EnhancedAuthResult;
    return { first, last };
  }

  for (const alg of ['sha256', 'sha512'] as const) {
    test(`${alg}: the right password succeeds and the server proves itself; a wrong one fails`, () => {
      const p = provider(alg);
      const c = new ScramClient(alg, 'alice', 'wonderland');
      const { last } = run(p, client(), c);
      assert.equal(last.result, 'success');
      assert.equal(last.isSuperuser, true);
      assert.equal(c.verify(last.data!.toString()), true);
      assert.equal(run(p, client(), new ScramClient(alg, 'alice', 'Wonderland')).last.result, 'failure');
    });
  }

  test('an unknown user gets a stable made-up salt, then fails at the proof', () => {
    const p = provider('sha256');
    const a = run(p, client(), new ScramClient('sha256', 'bob', 'x'));
    const b = run(p, client(), new ScramClient('sha256', 'bob', 'y'));
    assert.equal(a.first.result, 'continue');
    const salt = (r: EnhancedAuthResult) => /,s=([^,]+),/.exec(r.data!.toString())![1];
    assert.equal(salt(a.first), salt(b.first));
    assert.equal(a.last.result, 'failure');
  });

  test('channel binding (p=) and a CONNECT user name other than the SCRAM one fail', () => {
    const p = provider('sha256');
    const method = p.methods[0]!;
    const r = p.enhancedAuth(client(), {
      method,
      data: Buffer.from('p=tls-unique,,n=alice,r=abc'),
      phase: 'connect',
    });
    assert.equal((r as EnhancedAuthResult).result, 'failure');
    assert.equal(
      run(p, client('mallory'), new ScramClient('sha256', 'alice', 'wonderland')).last.result,
      'failure',
    );
    assert.equal(
      run(p, client('alice'), new ScramClient('sha256', 'alice', 'wonderland')).last.result,
      'success',
    );
  });

  test('a continue step without a started exchange fails', () => {
    const p = provider('sha256');
    const r = p.enhancedAuth(client(), {
      method: p.methods[0]!,
      data: Buffer.from('c=biws,r=x,p=AAAA'),
      phase: 'continue',
    });
    assert.equal((r as EnhancedAuthResult).result, 'failure');
  });
});

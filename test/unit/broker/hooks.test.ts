/**
 * The hook registry (src/broker/hooks.ts): priorities, fold semantics (ok / stop / undefined),
 * error isolation of run hooks, foldAsync with sync and async callbacks, remove and has(), and
 * that the registry is closed: an unknown hookpoint does not compile (STYLE habit 4).
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuthResult, HookName } from '../../../src/broker/hooks.js';
import { Hooks } from '../../../src/broker/hooks.js';
import { Message } from '../../../src/broker/message.js';
import type { ClientInfo } from '../../../src/broker/types.js';

const client: ClientInfo = {
  clientId: 'c1',
  username: 'alice',
  peerHost: '127.0.0.1',
  peerPort: 50_000,
  listener: 'tcp:default',
  zone: 'default',
  protocolVersion: 5,
  isSuperuser: false,
  connectedAt: 0,
};

const message = (topic = 't') => new Message(topic, Buffer.from('x'), 0, false, null, 'c1');

/** A registry that records what its onError saw. */
function hooksWithErrors(): { hooks: Hooks; errors: Array<[HookName, unknown]> } {
  const errors: Array<[HookName, unknown]> = [];
  return { hooks: new Hooks((name, error) => errors.push([name, error])), errors };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('hooks: order', () => {
  test('higher priority runs first; equal priorities run in insertion order', () => {
    const hooks = new Hooks();
    const calls: string[] = [];
    hooks.add('client.connected', () => calls.push('p0-a'));
    hooks.add('client.connected', () => calls.push('p10'), 10);
    hooks.add('client.connected', () => calls.push('p0-b'), 0);
    hooks.add('client.connected', () => calls.push('p-5'), -5);
    hooks.add('client.connected', () => calls.push('p10-b'), 10);
    hooks.add('client.connected', () => calls.push('p0-c'));
    hooks.run('client.connected', client);
    assert.deepEqual(calls, ['p10', 'p10-b', 'p0-a', 'p0-b', 'p0-c', 'p-5']);
  });

  test('fold callbacks see the accumulator in priority order', () => {
    const hooks = new Hooks();
    hooks.add('client.authorize', (acc) => ({ ok: acc === 'allow' ? 'deny' : 'allow' }), 1);
    hooks.add('client.authorize', (acc) => ({ stop: acc }), 100);
    const request = { action: 'publish', topic: 't', qos: 0, retain: false } as const;
    assert.equal(hooks.fold('client.authorize', 'allow', client, request), 'allow', 'the stop ran first');
  });

  test('run passes the arguments to every callback', () => {
    const hooks = new Hooks();
    const seen: unknown[][] = [];
    hooks.add('client.disconnected', (c, reason) => seen.push([c.clientId, reason]));
    hooks.add('client.disconnected', (...args) => seen.push([args.length]));
    hooks.run('client.disconnected', client, 'normal');
    assert.deepEqual(seen, [['c1', 'normal'], [2]]);
  });
});

describe('hooks: fold', () => {
  const request = { action: 'subscribe', topic: 'a/b', qos: 1, retain: false } as const;

  test('no callbacks: the initial accumulator comes back', () => {
    const hooks = new Hooks();
    assert.equal(hooks.fold('client.authorize', 'deny', client, request), 'deny');
  });

  test('{ ok } passes a new accumulator on', () => {
    const hooks = new Hooks();
    const seen: string[] = [];
    hooks.add('client.authorize', (acc) => {
      seen.push(acc);
      return { ok: 'allow' };
    });
    hooks.add('client.authorize', (acc) => {
      seen.push(acc);
      return { ok: 'deny' };
    });
    assert.equal(hooks.fold('client.authorize', 'allow', client, request), 'deny');
    assert.deepEqual(seen, ['allow', 'allow']);
  });

  test('undefined passes the accumulator on unchanged', () => {
    const hooks = new Hooks();
    const seen: string[] = [];
    hooks.add('client.authorize', () => ({ ok: 'deny' }));
    hooks.add('client.authorize', (acc) => {
      seen.push(acc);
      return undefined;
    });
    hooks.add('client.authorize', (acc) => {
      seen.push(acc);
      return undefined;
    });
    assert.equal(hooks.fold('client.authorize', 'allow', client, request), 'deny');
    assert.deepEqual(seen, ['deny', 'deny']);
  });

  test('{ stop } ends the chain with its value', () => {
    const hooks = new Hooks();
    let later = false;
    hooks.add('client.authorize', () => ({ stop: 'deny' }));
    hooks.add('client.authorize', () => {
      later = true;
      return { ok: 'allow' };
    });
    assert.equal(hooks.fold('client.authorize', 'allow', client, request), 'deny');
    assert.equal(later, false, 'callbacks after a stop do not run');
  });

  test('message.publish: { stop: null } drops, { ok } rewrites', () => {
    const hooks = new Hooks();
    const rewritten = message('rewritten');
    hooks.add('message.publish', (m) => (m?.topic === 'drop' ? { stop: null } : undefined));
    hooks.add('message.publish', (m) => (m?.topic === 'rewrite' ? { ok: rewritten } : undefined));
    assert.equal(hooks.fold('message.publish', message('drop'), client), null);
    assert.equal(hooks.fold('message.publish', message('rewrite'), client), rewritten);
    const plain = message('plain');
    assert.equal(hooks.fold('message.publish', plain, null), plain);
  });

  test('fold arguments reach the callbacks', () => {
    const hooks = new Hooks();
    hooks.add('client.authorize', (acc, c, req) =>
      c.clientId === 'c1' && req.topic === 'a/b' && req.action === 'subscribe'
        ? { ok: 'allow' }
        : { ok: acc },
    );
    assert.equal(hooks.fold('client.authorize', 'deny', client, request), 'allow');
  });

  test('a Promise from a callback of a sync fold is reported and the accumulator passes on unchanged', async () => {
    // message.publish is folded synchronously on the hot path: an async callback there is a
    // plugin bug, which must not turn the message into undefined.
    const { hooks, errors } = hooksWithErrors();
    const other = message('other');
    hooks.add('message.publish', async () => ({ ok: other }));
    hooks.add('message.publish', async () => {
      throw new Error('async failure');
    });
    const m = message('t');
    assert.equal(hooks.fold('message.publish', m, client), m);
    await tick();
    assert.equal(errors.length, 3, 'two Promises reported, and the rejection of the second');
    assert.ok(errors.every(([name]) => name === 'message.publish'));
    assert.match(String(errors[0]![1]), /Promise/);
    assert.match(String(errors[2]![1]), /async failure/);
  });

  test('an exception in a fold callback propagates to the caller', () => {
    const { hooks, errors } = hooksWithErrors();
    hooks.add('client.authorize', () => {
      throw new Error('acl source down');
    });
    assert.throws(() => hooks.fold('client.authorize', 'allow', client, request), /acl source down/);
    assert.deepEqual(errors, []);
  });
});

describe('hooks: run', () => {
  test('a throwing callback is reported through onError and the others still run', () => {
    const { hooks, errors } = hooksWithErrors();
    const calls: string[] = [];
    const boom = new Error('boom');
    hooks.add('message.delivered', () => calls.push('first'), 10);
    hooks.add('message.delivered', () => {
      throw boom;
    });
    hooks.add('message.delivered', () => calls.push('last'), -10);
    hooks.run('message.delivered', client, message());
    assert.deepEqual(calls, ['first', 'last']);
    assert.deepEqual(errors, [['message.delivered', boom]]);
  });

  test('without an onError a throwing callback is swallowed', () => {
    const hooks = new Hooks();
    let ran = false;
    hooks.add('client.connected', () => {
      throw new Error('ignored');
    });
    hooks.add('client.connected', () => {
      ran = true;
    });
    assert.doesNotThrow(() => hooks.run('client.connected', client));
    assert.equal(ran, true);
  });

  test('a rejected promise from an async run callback is reported through onError', async () => {
    const { hooks, errors } = hooksWithErrors();
    const boom = new Error('async boom');
    hooks.add('client.connected', async () => {
      throw boom;
    });
    hooks.run('client.connected', client);
    await tick();
    assert.deepEqual(errors, [['client.connected', boom]]);
  });

  test('run on a hookpoint with no callbacks does nothing', () => {
    const { hooks, errors } = hooksWithErrors();
    hooks.run('message.dropped', message(), 'no_subscribers');
    assert.deepEqual(errors, []);
  });
});

describe('hooks: foldAsync', () => {
  test('awaits promises and takes sync results, in priority order', async () => {
    const hooks = new Hooks();
    const calls: string[] = [];
    hooks.add(
      'client.authenticate',
      async (acc) => {
        calls.push(`async:${acc.result}`);
        await tick();
        return { ok: { result: 'ignore' } };
      },
      10,
    );
    hooks.add('client.authenticate', (acc) => {
      calls.push(`sync:${acc.result}`);
      return { ok: { result: 'allow', isSuperuser: true } };
    });
    hooks.add(
      'client.authenticate',
      async (acc) => {
        calls.push(`late:${acc.result}`);
        return undefined;
      },
      -1,
    );
    const result = await hooks.foldAsync('client.authenticate', { result: 'ignore' }, client, null);
    assert.deepEqual(result, { result: 'allow', isSuperuser: true });
    assert.deepEqual(calls, ['async:ignore', 'sync:ignore', 'late:allow']);
  });

  test('an async { stop } ends the chain', async () => {
    const hooks = new Hooks();
    let later = false;
    const deny: AuthResult = { result: 'deny', reasonCode: 0x87 };
    hooks.add('client.authenticate', async () => ({ stop: deny }));
    hooks.add('client.authenticate', () => {
      later = true;
      return { ok: { result: 'allow' } };
    });
    assert.equal(await hooks.foldAsync('client.authenticate', { result: 'ignore' }, client, null), deny);
    assert.equal(later, false);
  });

  test('with only sync callbacks it still resolves to the folded value', async () => {
    const hooks = new Hooks();
    hooks.add('client.authenticate', (_acc, _c, password) =>
      password?.toString() === 'secret' ? { stop: { result: 'allow' } } : { ok: { result: 'deny' } },
    );
    const ok = await hooks.foldAsync(
      'client.authenticate',
      { result: 'ignore' },
      client,
      Buffer.from('secret'),
    );
    const bad = await hooks.foldAsync('client.authenticate', { result: 'ignore' }, client, Buffer.from('x'));
    assert.deepEqual([ok.result, bad.result], ['allow', 'deny']);
  });

  test('no callbacks: resolves to the initial accumulator', async () => {
    const hooks = new Hooks();
    const acc: AuthResult = { result: 'ignore' };
    assert.equal(await hooks.foldAsync('client.authenticate', acc, client, null), acc);
  });

  test('a rejection propagates to the caller', async () => {
    const hooks = new Hooks();
    hooks.add('client.authenticate', async () => {
      throw new Error('ldap down');
    });
    await assert.rejects(
      hooks.foldAsync('client.authenticate', { result: 'ignore' }, client, null),
      /ldap down/,
    );
  });
});

describe('hooks: remove and has', () => {
  test('has() is false until a callback is added and after the last is removed', () => {
    const hooks = new Hooks();
    const a = () => {};
    const b = () => {};
    assert.equal(hooks.has('client.connected'), false);
    hooks.add('client.connected', a);
    hooks.add('client.connected', b);
    assert.equal(hooks.has('client.connected'), true);
    assert.equal(hooks.has('client.disconnected'), false, 'per hookpoint');
    assert.equal(hooks.remove('client.connected', a), true);
    assert.equal(hooks.has('client.connected'), true);
    assert.equal(hooks.remove('client.connected', b), true);
    assert.equal(hooks.has('client.connected'), false);
  });

  test('remove returns false for a callback that is not there', () => {
    const hooks = new Hooks();
    const a = () => {};
    assert.equal(hooks.remove('client.connected', a), false, 'empty hookpoint');
    hooks.add('client.connected', a);
    assert.equal(
      hooks.remove('client.connected', () => {}),
      false,
      'another function',
    );
    assert.equal(hooks.remove('client.disconnected', a), false, 'another hookpoint');
    assert.equal(hooks.has('client.connected'), true);
  });

  test('a removed callback no longer runs; the others keep their order', () => {
    const hooks = new Hooks();
    const calls: string[] = [];
    const a = () => {
      calls.push('a');
    };
    const b = () => {
      calls.push('b');
    };
    const c = () => {
      calls.push('c');
    };
    hooks.add('client.connected', a, 1);
    hooks.add('client.connected', b, 2);
    hooks.add('client.connected', c, 3);
    hooks.remove('client.connected', b);
    hooks.run('client.connected', client);
    assert.deepEqual(calls, ['c', 'a']);
  });

  test('removing a callback while the hook runs does not disturb that run', () => {
    const hooks = new Hooks();
    const calls: string[] = [];
    const second = () => {
      calls.push('second');
    };
    hooks.add('client.connected', () => {
      calls.push('first');
      hooks.remove('client.connected', second);
    });
    hooks.add('client.connected', second);
    hooks.run('client.connected', client);
    hooks.run('client.connected', client);
    assert.deepEqual(calls, ['first', 'second', 'first']);
  });
});

describe('hooks: the registry is closed (checked by tsc --noEmit)', () => {
  test('unknown hookpoints and wrong callback types do not compile', () => {
    const hooks = new Hooks();
    // @ts-expect-error 'client.unknown' is not a hookpoint
    hooks.add('client.unknown', () => {});
    // @ts-expect-error 'message.publish' is a fold hook: it cannot be run
    hooks.run('message.publish', null);
    // @ts-expect-error 'client.connected' is a run hook: it cannot be folded
    hooks.fold('client.connected', undefined, client);
    // @ts-expect-error a fold callback returns { ok } / { stop } / undefined, not a bare value
    hooks.add('client.authorize', () => 'allow');
    // @ts-expect-error client.authorize folds 'allow' | 'deny'
    hooks.add('client.authorize', () => ({ ok: 'maybe' }));
    // @ts-expect-error client.disconnected takes (client, reason)
    hooks.run('client.disconnected', client);
    assert.equal(hooks.has('client.connected'), false);
  });
});

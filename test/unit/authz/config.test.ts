/**
 * The `authorization` section: EMQX's keys and defaults, sources dispatched on `type`.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';

describe('authorization config', () => {
  test("EMQX's defaults, except sources = [] (no ACL)", () => {
    const a = parseConfig({}).authorization;
    assert.deepEqual(a, {
      no_match: 'allow',
      deny_action: 'ignore',
      cache: { enable: true, max_size: 32, ttl: 60_000, excludes: [] },
      sources: [],
    });
  });

  test('sources get their defaults by type', () => {
    const a = parseConfig({
      authorization: {
        sources: [
          { type: 'file', path: 'acl.conf' },
          { type: 'built_in_database' },
          { type: 'http', url: 'http://127.0.0.1:1/acl' },
        ],
      },
    } as never).authorization;
    assert.deepEqual(a.sources[0], { type: 'file', enable: true, path: 'acl.conf' });
    assert.deepEqual(a.sources[1], { type: 'built_in_database', enable: true, max_rules: 100 });
    assert.deepEqual(a.sources[2], {
      type: 'http',
      enable: true,
      method: 'post',
      url: 'http://127.0.0.1:1/acl',
      headers: {},
      body: {},
      request_timeout: 30_000,
      pool_size: 8,
    });
  });

  test('an unknown type, an unknown key and two sources of one type are refused', () => {
    assert.throws(
      () => parseConfig({ authorization: { sources: [{ type: 'redis' }] } } as never),
      /authorization\.sources\.\d+\.type.*expected one of file, built_in_database, http/s,
    );
    assert.throws(
      () => parseConfig({ authorization: { sources: [{ type: 'file', paht: 'x' }] } } as never),
      /unknown key/,
    );
    assert.throws(
      () =>
        parseConfig({
          authorization: { sources: [{ type: 'built_in_database' }, { type: 'built_in_database' }] },
        } as never),
      /a second source of type built_in_database/,
    );
    assert.throws(() => parseConfig({ authorization: { no_match: 'maybe' } } as never), /no_match/);
  });
});

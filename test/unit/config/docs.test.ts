/**
 * docs/configuration.md documents every key: each key of a fully populated configuration must
 * appear, in backticks, in the key tables (with map names written as <type>, <name>, <key>).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isPlainObject } from '../../../src/config/merge.js';
import { parseConfig } from '../../../src/config/index.js';

const DOC = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
const TLS = { ssl_options: { certfile: 'c.pem', keyfile: 'k.pem', cacertfile: 'ca.pem' } };

/** Every leaf key path, with listener types and names and zone names generalised. */
function documentedForm(value: unknown, path: string[] = []): string[] {
  if (path[0] === 'listeners' && path.length === 3) path = ['listeners', '<type>', '<name>'];
  if (path[0] === 'zones' && path.length === 2) path = ['zones', '<name>'];
  if (path[0] === 'zones' && path.length === 4) return [[...path.slice(0, 3), '<key>'].join('.')];
  if (!isPlainObject(value) || (path.at(-1) === 'bind' && 'port' in value)) return [path.join('.')];
  return Object.entries(value).flatMap(([key, child]) => documentedForm(child, [...path, key]));
}

test('every configuration key is in docs/configuration.md', () => {
  const config = parseConfig({
    listeners: { ssl: { default: TLS }, ws: { default: {} }, wss: { default: TLS } },
    zones: { edge: { mqtt: { max_inflight: 1 } } },
  });
  const keys = [...new Set(documentedForm(config))];
  assert.ok(keys.length > 50, `found only ${keys.length} keys`);
  const missing = keys.filter((key) => !DOC.includes(`\`${key}\``));
  assert.deepEqual(missing, []);
});

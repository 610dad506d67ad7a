/**
 * Conformance 00: docs/conformance.md against the tests it points to.
 *
 * The page has one table per specification (MQTT 5.0, MQTT 3.1.1), a row per normative
 * statement: `| MQTT-x.y.z-n | words | S, C or S+C | covered by |`. The last cell links test
 * files and quotes a phrase of a test's name (`[conformance/02](../test/...) › "phrase"`), or
 * says why no test covers the statement. This file checks that:
 *
 *   - every linked file exists and contains the quoted phrase;
 *   - a conformance test file linked as the sole evidence for a statement cites its id;
 *   - every id a conformance test cites is a row of the page (a typo in a test name shows here);
 *   - each table lists an id once, and a row without a link says why.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DOC = join(ROOT, 'docs/conformance.md');
const HERE = join(ROOT, 'test/conformance');

interface Row {
  table: string;
  id: string;
  applies: string;
  cover: string;
  links: Array<{ file: string; phrase: string }>;
}

const LINK = /\[[^\]]+\]\(\.\.\/(test\/[^)]+\.test\.ts)\) › "([^"]+)"/g;

function rows(): Row[] {
  const out: Row[] = [];
  let table = '';
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    const heading = /^## (MQTT \d\.\d(?:\.\d)?)$/.exec(line);
    if (heading !== null) table = heading[1]!;
    const m = /^\| (MQTT-[\d.]+-\d+) \| [^|]* \| (S|C|S\+C) \| (.*) \|$/.exec(line);
    if (m === null) continue;
    const cover = m[3]!;
    const links = [...cover.matchAll(LINK)].map((l) => ({ file: l[1]!, phrase: l[2]! }));
    out.push({ table, id: m[1]!, applies: m[2]!, cover, links });
  }
  return out;
}

const cache = new Map<string, string>();
function source(file: string): string {
  let text = cache.get(file);
  if (text === undefined) {
    text = readFileSync(join(ROOT, file), 'utf8');
    cache.set(file, text);
  }
  return text;
}

describe('conformance 00: docs/conformance.md matches the tests', () => {
  const all = rows();

  test('both tables are there, with the statements of each specification', () => {
    const count = (t: string) => all.filter((r) => r.table === t).length;
    assert.ok(count('MQTT 5.0') > 240, `MQTT 5.0 rows: ${count('MQTT 5.0')}`);
    assert.ok(count('MQTT 3.1.1') > 130, `MQTT 3.1.1 rows: ${count('MQTT 3.1.1')}`);
  });

  test('each table lists a statement once; a row without a test says why', () => {
    for (const table of ['MQTT 5.0', 'MQTT 3.1.1']) {
      const ids = all.filter((r) => r.table === table).map((r) => r.id);
      assert.deepEqual(
        ids.filter((id, i) => ids.indexOf(id) !== i),
        [],
        `${table}: listed twice`,
      );
    }
    for (const r of all) {
      if (r.links.length === 0)
        assert.ok(r.cover.trim().length > 10, `${r.table} ${r.id}: no test and no reason`);
    }
  });

  test('every linked test file exists and contains the quoted phrase', () => {
    for (const r of all) {
      for (const { file, phrase } of r.links) {
        assert.ok(source(file).includes(phrase), `${r.table} ${r.id}: "${phrase}" is not in ${file}`);
      }
    }
  });

  test('a conformance test file that is the evidence for a statement cites its id', () => {
    for (const r of all) {
      // A cell with words of its own explains a link that does not cite the id (same code path).
      const words = r.cover.replace(LINK, '').replace(/[;\s]/g, '');
      if (words.length > 0) continue;
      for (const { file } of r.links) {
        if (!file.startsWith('test/conformance/')) continue;
        assert.ok(source(file).includes(`[${r.id}]`), `${r.table} ${r.id}: ${file} does not cite it`);
      }
    }
  });

  test('every id a conformance test cites is a row of the page', () => {
    const listed = new Set(all.map((r) => r.id));
    for (const name of readdirSync(HERE)) {
      if (!name.endsWith('.test.ts') || name.startsWith('00-')) continue;
      for (const m of source(`test/conformance/${name}`).matchAll(/\[(MQTT-\d+\.\d+\.\d+-\d+)\]/g)) {
        assert.ok(listed.has(m[1]!), `${name} cites ${m[1]}, which docs/conformance.md does not list`);
      }
    }
  });
});

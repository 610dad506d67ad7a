/**
 * Differential test: Aviary's HOCON parser against @pushcorn/hocon-parser (an independent,
 * asynchronous implementation) on documents that use what emqx.conf uses. Both must produce the
 * same JSON. Only spec-conforming input is used here: where the two differ by design (we allow
 * `@` in unquoted strings; `${?VAR}` over an earlier value) hocon.test.ts covers our behaviour.
 */
/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HOCON, where ${...} is a substitution. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseHocon, parseHoconFile } from '../../../src/config/hocon.js';
import { removeTempDirs, tempDir } from './fixtures.js';

type PushcornParse = (options: { text?: string; url?: string; strict?: boolean }) => Promise<unknown>;
const pushcorn = createRequire(import.meta.url)('@pushcorn/hocon-parser') as PushcornParse;

after(removeTempDirs);

const ENV_NAME = 'AVIARY_HOCON_DIFFERENTIAL_TEST';
process.env[ENV_NAME] = 'from-env';

const DOCUMENTS: Record<string, string> = {
  'emqx.conf style': `
    # Node
    node {
      name = "emqx@127.0.0.1"
      cookie = "emqxsecretcookie"
      data_dir = "data"
    }
    cluster { name = emqxcl, discovery_strategy = manual }
    dashboard { listeners.http { bind = 18083 } }
    log.console.level = warning
    log { console { enable = true } }
  `,
  'listeners with dotted keys and blocks': `
    listeners.tcp.default.bind = "0.0.0.0:1883"
    listeners.tcp.default {
      max_connections = 1024000
      zone = default
    }
    listeners.ssl.default {
      bind = "0.0.0.0:8883"
      ssl_options {
        certfile = "etc/certs/cert.pem"
        versions = ["tlsv1.3", "tlsv1.2"]
        ciphers = []
      }
    }
  `,
  'mqtt values stay strings': `
    mqtt {
      idle_timeout = 15s
      max_packet_size = 1MB
      retry_interval = 30s
      keepalive_multiplier = 1.5
      max_inflight: 32
      server_keepalive = disabled
      response_information = ""
    }
  `,
  'arrays of objects': `
    authentication = [
      { mechanism = password_based, backend = built_in_database, user_id_type = username }
      {
        mechanism = jwt
        from = password
        secret = "abc"
      }
    ]
    authorization.sources = [{ type = file, enable = true, path = "etc/acl.conf" }]
  `,
  substitutions: `
    base { max_inflight = 32, retry_interval = 30s }
    zones.edge.mqtt = \${base} { max_inflight = 8 }
    copy = \${base.retry_interval}
    joined = \${cluster.name}"-"\${node}
    cluster.name = aviary
    node = n1
    from_env = \${${ENV_NAME}}
    missing = \${?AVIARY_HOCON_DIFFERENTIAL_UNSET}
  `,
  'triple quotes, escapes and comments': `
    text = """line one
    "line" two"""
    esc = "tab\\tquote\\" unicode\\u00e9"
    // comment
    after = 1 # comment
  `,
  json: '{"a": {"b": [1, 2.5, -3, 1e2], "c": null, "d": true}, "e": "f"}',
  'duplicate keys merge objects and replace others': `
    a { x = 1, y { z = 2 } }
    a { y { w = 3 } }
    b = [1, 2]
    b = [3]
    c = 1
    c { d = 1 }
  `,
};

describe('hocon differential: Aviary vs @pushcorn/hocon-parser', () => {
  for (const [name, text] of Object.entries(DOCUMENTS)) {
    test(name, async () => {
      const expected = await pushcorn({ text, strict: true });
      assert.deepEqual(parseHocon(text, { env: process.env }), expected);
    });
  }

  test('include', async () => {
    const dir = tempDir({
      'main.conf': 'a = 1\ninclude "part.conf"\nsection { include "inner.conf" }',
      'part.conf': 'b = 2\na = 3',
      'inner.conf': 'c = 4',
    });
    const file = join(dir, 'main.conf');
    const expected = await pushcorn({ url: file, strict: true });
    assert.deepEqual(parseHoconFile(file, { env: {} }).value, expected);
  });
});

/** biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} are ACL placeholders, written as in acl.conf and the configuration. */
/**
 * 56 ACL sources over real sockets: the built-in database (rules per client id, username and all,
 * in EMQX's order) and the HTTP source against a real local HTTP server (allow, deny, ignore,
 * 204, form bodies, errors, timeouts, GET with placeholders), and sources in order: a source
 * without an answer passes to the next.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { AclParseError } from '../../src/authz/index.js';
import { type Packet, PacketType } from '../../src/protocol/index.js';
import { closeClients, type StartedBroker, startBroker } from '../helpers/broker.js';
import { publishFrame } from '../helpers/mqtt5.js';
import {
  canPublish,
  canSubscribe,
  client,
  NO_MATCHING_SUBSCRIBERS,
  NOT_AUTHORIZED,
} from './55-acl.helpers.js';

describe('56 built_in_database source', () => {
  let b: StartedBroker;
  before(async () => {
    b = await startBroker({
      authorization: {
        no_match: 'deny',
        cache: { enable: false },
        sources: [{ type: 'built_in_database', max_rules: 3 }],
      },
    });
    const builtIn = b.aviary.authz.builtIn!;
    builtIn.put({ kind: 'clientid', name: 'cid-1' }, [
      { permission: 'deny', action: 'publish', topic: 'shared/#' },
    ]);
    builtIn.put({ kind: 'username', name: 'ann' }, [
      { permission: 'allow', action: 'all', topic: 'shared/#' },
      { permission: 'allow', action: 'publish', topic: 'ann/${clientid}', qos: [0, 1], retain: false },
    ]);
    builtIn.put({ kind: 'all' }, [
      { permission: 'allow', action: 'subscribe', topic: 'public/#' },
      { permission: 'deny', action: 'subscribe', topic: 'eq #' },
    ]);
  });
  afterEach(() => closeClients());
  after(() => b.close());

  test('client id rules come first, then username rules, then rules for all', async () => {
    const ann = await client(b.port, { clientId: 'cid-2', username: 'ann' });
    assert.equal(await canPublish(ann, 'shared/x'), true);
    const annOnCid1 = await client(b.port, { clientId: 'cid-1', username: 'ann' });
    assert.equal(await canPublish(annOnCid1, 'shared/x'), false, 'the client id rule denies first');
    assert.equal(await canSubscribe(annOnCid1, 'shared/x'), true, 'the deny is for publish only');
    const other = await client(b.port, { clientId: 'cid-3' });
    assert.equal(await canSubscribe(other, 'public/news'), true);
    assert.equal(await canSubscribe(other, '#'), false);
    assert.equal(await canPublish(other, 'shared/x'), false, 'no rule: no_match = deny');
  });

  test('a rule with placeholders and QoS / retain conditions', async () => {
    const ann = await client(b.port, { clientId: 'dev9', username: 'ann' });
    assert.equal(await canPublish(ann, 'ann/dev9'), true);
    assert.equal(await canPublish(ann, 'ann/dev8'), false);
    assert.equal(await canPublish(ann, 'ann/dev9', { qos: 2 }), false);
    assert.equal(await canPublish(ann, 'ann/dev9', { retain: true }), false);
  });

  test('put() checks rules and max_rules; the store keeps what put() stored', () => {
    const builtIn = b.aviary.authz.builtIn!;
    assert.throws(
      () =>
        builtIn.put({ kind: 'username', name: 'x' }, [
          { permission: 'allow', action: 'publish', topic: '${nope}' },
        ]),
      AclParseError,
    );
    const four = Array.from({ length: 4 }, () => ({
      permission: 'allow' as const,
      action: 'all' as const,
      topic: 't',
    }));
    assert.throws(() => builtIn.put({ kind: 'username', name: 'x' }, four), /max_rules/);
    assert.equal(builtIn.store.get({ kind: 'username', name: 'x' }), undefined);
    assert.equal(builtIn.store.count('username'), 1);
  });
});

interface Seen {
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
}

/** A local authorization service: its answer depends on the topic. */
function startService(seen: Seen[]): Promise<Server> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        body,
        contentType: req.headers['content-type'],
      });
      const topic =
        req.method === 'GET'
          ? (new URL(req.url ?? '', 'http://x').searchParams.get('topic') ?? '')
          : (JSON.parse(body) as { topic: string }).topic;
      const json = (result: string): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ result }));
      };
      if (topic.startsWith('http/allow')) json('allow');
      else if (topic.startsWith('http/deny')) json('deny');
      else if (topic.startsWith('http/ignore')) json('ignore');
      else if (topic.startsWith('http/204')) res.writeHead(204).end();
      else if (topic.startsWith('http/form')) {
        res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' });
        res.end('result=deny');
      } else if (topic.startsWith('http/garbage')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{not json');
      } else if (topic.startsWith('http/error')) res.writeHead(500).end('boom');
      else if (topic.startsWith('http/slow')) {
        // Never answers: the broker's request_timeout ends the wait.
      } else json('deny');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('56 http source', () => {
  let b: StartedBroker;
  let server: Server;
  const seen: Seen[] = [];
  before(async () => {
    server = await startService(seen);
    const port = (server.address() as AddressInfo).port;
    b = await startBroker({
      authorization: {
        no_match: 'deny',
        cache: { enable: false },
        sources: [
          {
            type: 'http',
            url: `http://127.0.0.1:${port}/acl`,
            body: {
              username: '${username}',
              clientid: '${clientid}',
              peerhost: '${peerhost}',
              topic: '${topic}',
              action: '${action}',
              qos: '${qos}',
              retain: '${retain}',
            },
            request_timeout: '300ms',
          },
          // What the HTTP service leaves open (ignore, errors, timeouts) falls to the file.
          { type: 'file', rules: '{allow, all, publish, ["http/#"]}.' },
        ],
      },
    });
  });
  afterEach(async () => {
    seen.length = 0;
    await closeClients();
  });
  after(async () => {
    await b.close();
    server.closeAllConnections();
    server.close();
  });

  test('the request carries the placeholders; {"result": "allow"} allows, "deny" denies', async () => {
    const c = await client(b.port, { clientId: 'h1', username: 'hu' });
    assert.equal(await canPublish(c, 'http/allow/1', { qos: 2, retain: true }), true);
    assert.equal(await canPublish(c, 'http/deny/1'), false, 'the service denies before the file allows');
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.contentType, 'application/json');
    assert.deepEqual(JSON.parse(seen[0]!.body), {
      username: 'hu',
      clientid: 'h1',
      peerhost: '127.0.0.1',
      topic: 'http/allow/1',
      action: 'publish',
      qos: '2',
      retain: 'true',
    });
    assert.equal(await canSubscribe(c, 'http/allow/#', 1), true);
    assert.equal(JSON.parse(seen.at(-1)!.body).action, 'subscribe');
  });

  test('204 allows; a form body result=deny denies', async () => {
    const c = await client(b.port, { clientId: 'h2' });
    assert.equal(await canPublish(c, 'http/204'), true);
    assert.equal(await canPublish(c, 'http/form'), false);
  });

  test('"ignore", a 500, an unreadable body and a timeout pass to the next source', async () => {
    const c = await client(b.port, { clientId: 'h3' });
    assert.equal(await canPublish(c, 'http/ignore'), true, 'the file allows http/#');
    assert.equal(await canPublish(c, 'http/error'), true);
    assert.equal(await canPublish(c, 'http/garbage'), true);
    assert.equal(await canPublish(c, 'http/slow'), true);
    assert.equal(await canPublish(c, 'other/slow'), false, 'the service denies other topics');
  });

  test('checks answered asynchronously keep the order of the packets behind them', async () => {
    const c = await client(b.port, { clientId: 'h4' });
    // Three publishes sent at once; each waits for the service, yet the acknowledgements come
    // back in order with their own verdicts.
    c.send(publishFrame({ topic: 'http/allow/a', qos: 1, packetId: 11, props: [] }));
    c.send(publishFrame({ topic: 'http/deny/b', qos: 1, packetId: 12, props: [] }));
    c.send(publishFrame({ topic: 'http/204/c', qos: 1, packetId: 13, props: [] }));
    const acks: Array<[number, number]> = [];
    for (let i = 0; i < 3; i++) {
      const p = (await c.readPacket()) as Packet & { packetId: number; reasonCode: number };
      assert.equal(p.type, PacketType.Puback);
      acks.push([p.packetId, p.reasonCode]);
    }
    assert.deepEqual(acks, [
      [11, NO_MATCHING_SUBSCRIBERS],
      [12, NOT_AUTHORIZED],
      [13, NO_MATCHING_SUBSCRIBERS],
    ]);
  });
});

describe('56 http source: GET', () => {
  let b: StartedBroker;
  let server: Server;
  const seen: Seen[] = [];
  before(async () => {
    server = await startService(seen);
    const port = (server.address() as AddressInfo).port;
    b = await startBroker({
      authorization: {
        cache: { enable: false },
        sources: [
          {
            type: 'http',
            method: 'get',
            url: `http://127.0.0.1:${port}/acl/\${clientid}?from=aviary`,
            body: { topic: '${topic}', action: '${action}' },
          },
        ],
      },
    });
  });
  after(async () => {
    await closeClients();
    await b.close();
    server.closeAllConnections();
    server.close();
  });

  test('url placeholders are percent-encoded; body fields go to the query string', async () => {
    const c = await client(b.port, { clientId: 'a b/c' });
    assert.equal(await canPublish(c, 'http/allow/x'), true);
    assert.equal(seen[0]!.method, 'GET');
    assert.equal(seen[0]!.url, '/acl/a%20b%2Fc?from=aviary&topic=http%2Fallow%2Fx&action=publish');
  });
});

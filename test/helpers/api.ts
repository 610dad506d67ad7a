/** biome-ignore-all lint/suspicious/noExplicitAny: response bodies are JSON the tests read field by field. */
/**
 * Helpers for the management API tests (65-72): a broker with its HTTP API on an ephemeral port,
 * an API key loaded from a bootstrap file (so every test is authenticated from the first request,
 * as automation would be), and fetch wrappers.
 *
 *   const b = await startApiBroker();
 *   const res = await b.get('/clients?limit=10');   // Basic auth with the bootstrap key
 *   assert.equal(res.status, 200);
 *   ...
 *   await b.close();
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { type AviaryBroker, createBroker } from '../../src/main.js';

export const TEST_KEY = 'test-key';
export const TEST_SECRET = 'test-secret-0123456789';
export const BASIC = `Basic ${Buffer.from(`${TEST_KEY}:${TEST_SECRET}`).toString('base64')}`;

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);
function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlain(b) && isPlain(v) ? merge(b, v) : v;
  }
  return out;
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface ApiBroker {
  aviary: AviaryBroker;
  /** MQTT port. */
  port: number;
  /** http://127.0.0.1:<port> of the API (no path). */
  url: string;
  /** A request to `/api/v5<path>` with the bootstrap key unless `headers.authorization` says otherwise. */
  request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
  get<T = any>(path: string, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/** Starts a broker (MQTT and API on 127.0.0.1, ephemeral ports) with the test API key. */
export async function startApiBroker(config: AviaryConfigInput = {}): Promise<ApiBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-api-'));
  const keyFile = join(dir, 'api_keys');
  writeFileSync(keyFile, `${TEST_KEY}:${TEST_SECRET}\n`);
  const base: Plain = {
    listeners: { tcp: { default: { bind: '127.0.0.1:0' } }, ws: { default: { enable: false } } },
    log: { console: { enable: false } },
    dashboard: { listeners: { http: { enable: true, bind: '127.0.0.1:0' } } },
    api_key: { bootstrap_file: keyFile },
    // Durable state (sessions, retained, ...) of this broker alone, removed by close().
    node: { data_dir: join(dir, 'data') },
  };
  const aviary = createBroker(merge(base, config as Plain) as AviaryConfigInput);
  const addresses = await aviary.listen();
  const mqtt = addresses.find((a) => a.id === 'tcp:default');
  const http = addresses.find((a) => a.id === 'http:dashboard');
  if (mqtt === undefined || http === undefined)
    throw new Error(`unexpected addresses ${JSON.stringify(addresses)}`);
  const url = `http://127.0.0.1:${http.port}`;
  const request = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> => {
    const h: Record<string, string> = { authorization: BASIC, ...headers };
    if (h.authorization === '') delete h.authorization;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(`${url}/api/v5${path}`, {
      method,
      headers: h,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('application/json') && text !== '')
      parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
  let closing: Promise<void> | null = null;
  return {
    aviary,
    port: mqtt.port,
    url,
    request,
    get: (path, headers) => request('GET', path, undefined, headers),
    post: (path, body, headers) => request('POST', path, body, headers),
    close: () => (closing ??= aviary.close().finally(() => rmSync(dir, { recursive: true, force: true }))),
  };
}

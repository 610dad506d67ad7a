/**
 * The HTTP provider (EMQX's `password_based` + `http`, emqx_authn_http.erl): an HTTP service
 * decides. For each CONNECT it sends one request, built from templates with placeholders
 * (template.ts: `${username}`, `${clientid}`, `${password}`, `${peerhost}`,
 * `${cert_common_name}`, `${cert_subject}`, `${cookie.NAME}`, ...):
 *
 *   method = post   the `body` map as JSON (default content-type application/json) or as a form
 *                   (headers."content-type" = "application/x-www-form-urlencoded")
 *   method = get    the `body` map as the query string
 *
 * `url` may hold placeholders too (values percent-encoded), and so may `headers`. The answer:
 *
 *   204                                             -> allow (not a superuser)
 *   200 with a JSON or form body {result = allow, is_superuser, client_attrs, acl} -> allow
 *   200 {result = deny}                              -> deny, CONNACK 0x87 not authorized (3.1.1: 0x05)
 *   200 {result = ignore}, any other status, a body we cannot read, a timeout or a refused
 *   connection                                       -> ignore (the next provider is asked)
 *
 * Requests go through one undici Pool per provider: `pool_size` keep-alive connections to the
 * service's origin. `request_timeout` bounds the whole request. The password is never logged.
 */

import { Pool } from 'undici';
import type { HttpAuthnConfig } from '../config/authn-schema.js';
import { ReasonCode } from '../protocol/index.js';
import { type AuthAnswer, type AuthProvider, type Credentials, IGNORE } from './provider.js';
import { FORM_TYPE, JSON_TYPE, parseBody, readLimited } from './http-body.js';
import { clientVariable, Template } from './template.js';

const STATUS_OK = 200;
const STATUS_NO_CONTENT = 204;
/** Answers larger than this are not read (an auth answer is a few hundred bytes). */
const MAX_BODY_BYTES = 1024 * 1024;

const DENY: AuthAnswer = Object.freeze({ result: 'deny', reasonCode: ReasonCode.NotAuthorized });

/** What went wrong with a request, for the log (never the password). */
export type HttpFailure = (info: { url: string; status?: number; error?: string }) => void;

function isTrue(v: unknown): boolean {
  return v === true || v === 'true';
}

export class HttpProvider implements AuthProvider {
  readonly id = 'password_based:http';
  private readonly pool: Pool;
  private readonly origin: string;
  /** The path and query of `url`, a template. */
  private readonly path: Template;
  private readonly headers: [string, Template][];
  private readonly body: [string, Template][];
  private readonly form: boolean;

  constructor(
    private readonly config: HttpAuthnConfig,
    private readonly onFailure: HttpFailure = () => {},
  ) {
    // The origin may not hold placeholders; the path and query may. Split before the first '/'
    // after the scheme's '//'.
    const slash = config.url.indexOf('/', config.url.indexOf('//') + 2);
    this.origin = slash < 0 ? config.url : config.url.slice(0, slash);
    this.path = new Template(slash < 0 ? '/' : config.url.slice(slash));
    const headers = Object.entries(config.headers).map(([k, v]): [string, string] => [k.toLowerCase(), v]);
    if (config.method === 'post' && !headers.some(([k]) => k === 'content-type')) {
      headers.push(['content-type', JSON_TYPE]);
    }
    this.form = headers.some(([k, v]) => k === 'content-type' && v.toLowerCase().startsWith(FORM_TYPE));
    this.headers = headers.map(([k, v]) => [k, new Template(v)]);
    this.body = Object.entries(config.body).map(([k, v]) => [k, new Template(v)]);
    this.pool = new Pool(this.origin, { connections: config.pool_size, pipelining: 1 });
  }

  async authenticate({ client, password }: Credentials): Promise<AuthAnswer> {
    const vars = (name: string): string => clientVariable(client, password, name);
    const fields = this.body.map(([k, t]): [string, string] => [k, t.render(vars)]);
    let path = this.path.render((name) => encodeURIComponent(vars(name)));
    const headers: Record<string, string> = {};
    for (const [k, t] of this.headers) headers[k] = t.render(vars);
    let body: string | undefined;
    if (this.config.method === 'get') {
      const query = new URLSearchParams(fields).toString();
      if (query !== '') path += (path.includes('?') ? '&' : '?') + query;
    } else {
      body = this.form ? new URLSearchParams(fields).toString() : JSON.stringify(Object.fromEntries(fields));
    }
    const url = this.origin + this.path.source;
    const signal = AbortSignal.timeout(this.config.request_timeout);
    let status: number;
    let text: string;
    let contentType: string;
    try {
      const response = await this.pool.request({
        method: this.config.method === 'get' ? 'GET' : 'POST',
        path,
        headers,
        body,
        signal,
      });
      status = response.statusCode;
      const ct = response.headers['content-type'];
      contentType = (Array.isArray(ct) ? ct[0] : ct)?.toLowerCase() ?? '';
      if (status !== STATUS_OK) {
        await response.body.dump();
        if (status === STATUS_NO_CONTENT) return { result: 'allow', isSuperuser: false };
        this.onFailure({ url, status });
        return IGNORE;
      }
      text = await readLimited(response.body, MAX_BODY_BYTES);
    } catch (error) {
      this.onFailure({ url, error: signal.aborted ? 'timeout' : (error as Error).message });
      return IGNORE;
    }
    const answer = parseAnswer(contentType, text);
    if (answer === undefined) this.onFailure({ url, status, error: 'unreadable response body' });
    return answer ?? IGNORE;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** A 200 answer's body, as EMQX reads it; undefined when it cannot be read. */
export function parseAnswer(contentType: string, text: string): AuthAnswer | undefined {
  const body = parseBody(contentType, text);
  if (body === undefined) return undefined;
  switch (body.result) {
    case 'allow': {
      const attrs = body.client_attrs;
      const clientAttrs: Record<string, string> = {};
      if (typeof attrs === 'object' && attrs !== null && !Array.isArray(attrs)) {
        for (const [k, v] of Object.entries(attrs)) if (typeof v === 'string') clientAttrs[k] = v;
      }
      return {
        result: 'allow',
        isSuperuser: isTrue(body.is_superuser),
        ...(Object.keys(clientAttrs).length > 0 ? { clientAttrs } : {}),
        ...(body.acl !== undefined ? { acl: body.acl } : {}),
      };
    }
    case 'deny':
      return DENY;
    default:
      return IGNORE;
  }
}

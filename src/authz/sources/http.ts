/**
 * The `http` source (EMQX's emqx_authz_http.erl): an HTTP service decides each check that misses
 * the cache. The request is built from templates whose placeholders are filled per check:
 *
 *   ${username} ${clientid} ${peerhost} ${proto_name} ${mountpoint} ${zone}
 *   ${topic} ${action} (publish | subscribe) ${qos} (0..2) ${retain} (true | false)
 *   ${cert_common_name} ${cert_subject} ${client_attrs.NAME}
 *
 * (a value the client does not have is the empty string). `url` may hold them in its path and
 * query (values percent-encoded); `body` is a map of templates sent as JSON (post, or as a form
 * when `headers."content-type"` says application/x-www-form-urlencoded) or appended to the query
 * string (get). The answer, as EMQX reads it:
 *
 *   204                                        -> allow
 *   200 with {"result": "allow" | "deny"}      -> allow / deny (JSON, or a form body result=...)
 *   200 with {"result": "ignore"}              -> nomatch: the next source decides
 *   200 with a body that cannot be read, any other status, a refused connection, a timeout
 *   (`request_timeout`)                        -> nomatch (logged)
 *
 * Requests go through one undici Pool (`pool_size` keep-alive connections to the service).
 */

import { Pool } from 'undici';

import type { AuthzRequest } from '../../broker/hooks.js';
import type { ClientInfo } from '../../broker/types.js';
import type { HttpSourceConfig } from '../../config/authz-schema.js';
import { FORM_TYPE, JSON_TYPE, parseBody, readLimited } from '../../auth/http-body.js';
import type { AuthzSource, SourceAnswer } from './source.js';

const STATUS_OK = 200;
const STATUS_NO_CONTENT = 204;
/** Answers larger than this are not read (an authorization answer is a few bytes). */
const MAX_BODY_BYTES = 64 * 1024;
const PLACEHOLDER = /\$\{([^}]+)\}/g;

/** A request that failed or got an answer we cannot use, for the log. */
export type HttpSourceFailure = (info: { url: string; status?: number; error: string }) => void;

/** The value of a placeholder for one check ('' when the client has none). */
export function requestVariable(client: ClientInfo, request: AuthzRequest, name: string): string {
  switch (name) {
    case 'username':
      return client.username ?? '';
    case 'clientid':
      return client.clientId;
    case 'peerhost':
      return client.peerHost;
    case 'proto_name':
      return client.protoName ?? 'MQTT';
    case 'zone':
      return client.zone;
    case 'topic':
      return request.topic;
    case 'action':
      return request.action;
    case 'qos':
      return String(request.qos);
    case 'retain':
      return String(request.retain);
    default:
      if (name.startsWith('client_attrs.'))
        return client.clientAttrs?.[name.slice('client_attrs.'.length)] ?? '';
      // mountpoint, cert_common_name, cert_subject: not on Aviary's ClientInfo (yet).
      return '';
  }
}

function render(template: string, value: (name: string) => string): string {
  return template.replace(PLACEHOLDER, (_, name: string) => value(name.trim()));
}

/** Renders every string of a JSON-like value. */
function renderDeep(value: unknown, vars: (name: string) => string): unknown {
  if (typeof value === 'string') return render(value, vars);
  if (Array.isArray(value)) return value.map((v) => renderDeep(v, vars));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, vars)]));
  }
  return value;
}

export class HttpSource implements AuthzSource {
  readonly type = 'http';
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly form: boolean;

  constructor(
    private readonly config: HttpSourceConfig,
    private readonly onFailure: HttpSourceFailure = () => {},
  ) {
    // The origin may not hold placeholders; the path and query may.
    const slash = config.url.indexOf('/', config.url.indexOf('//') + 2);
    this.origin = slash < 0 ? config.url : config.url.slice(0, slash);
    this.path = slash < 0 ? '/' : config.url.slice(slash);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(config.headers)) headers[k.toLowerCase()] = v;
    if (config.method === 'post' && headers['content-type'] === undefined)
      headers['content-type'] = JSON_TYPE;
    this.form = (headers['content-type'] ?? '').toLowerCase().startsWith(FORM_TYPE);
    this.headers = headers;
    this.pool = new Pool(this.origin, { connections: config.pool_size, pipelining: 1 });
  }

  authorize(client: ClientInfo, request: AuthzRequest): Promise<SourceAnswer> {
    return this.ask(client, request);
  }

  private async ask(client: ClientInfo, request: AuthzRequest): Promise<SourceAnswer> {
    const vars = (name: string): string => requestVariable(client, request, name);
    let path = render(this.path, (name) => encodeURIComponent(vars(name)));
    const fields = renderDeep(this.config.body, vars) as Record<string, unknown>;
    let body: string | undefined;
    if (this.config.method === 'get' || this.form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(fields))
        params.append(k, typeof v === 'string' ? v : JSON.stringify(v));
      const query = params.toString();
      if (this.config.method === 'get') {
        if (query !== '') path += (path.includes('?') ? '&' : '?') + query;
      } else {
        body = query;
      }
    } else {
      body = JSON.stringify(fields);
    }
    const url = this.origin + this.path;
    const signal = AbortSignal.timeout(this.config.request_timeout);
    try {
      const response = await this.pool.request({
        method: this.config.method === 'get' ? 'GET' : 'POST',
        path,
        headers: this.headers,
        body,
        signal,
      });
      const status = response.statusCode;
      if (status !== STATUS_OK) {
        await response.body.dump();
        if (status === STATUS_NO_CONTENT) return 'allow';
        this.onFailure({ url, status, error: 'unexpected status' });
        return 'nomatch';
      }
      const ct = response.headers['content-type'];
      const contentType = (Array.isArray(ct) ? ct[0] : ct)?.toLowerCase() ?? '';
      const text = await readLimited(response.body, MAX_BODY_BYTES);
      const answer = parseAnswer(contentType, text);
      if (answer === undefined) {
        this.onFailure({ url, status, error: 'unreadable response body' });
        return 'nomatch';
      }
      return answer;
    } catch (error) {
      this.onFailure({ url, error: signal.aborted ? 'timeout' : (error as Error).message });
      return 'nomatch';
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** The result of a 200 answer's body, as EMQX reads it; undefined when it cannot be read. */
export function parseAnswer(contentType: string, text: string): SourceAnswer | undefined {
  const body = parseBody(contentType, text);
  if (body === undefined) return undefined;
  const result = body.result;
  if (result === 'allow' || result === 'deny') return result;
  if (result === 'ignore') return 'nomatch';
  return undefined;
}

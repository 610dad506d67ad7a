/**
 * `aviary ctl`: manage a running broker through its HTTP API (docs/cli.md), after EMQX's
 * `emqx ctl`. It is an HTTP client and nothing else: any broker reachable over HTTP can be
 * managed, and every command is one or two API calls.
 *
 *   aviary ctl [--url URL] [--api-key KEY --api-secret SECRET | --username U --password P] [--json] <command>
 *
 * The URL and credentials come from the flags, else from AVIARY_CTL_URL, AVIARY_CTL_API_KEY /
 * AVIARY_CTL_API_SECRET or AVIARY_CTL_USERNAME / AVIARY_CTL_PASSWORD; the URL defaults to
 * http://127.0.0.1:18083. With a username and password, ctl logs in (POST /login) and uses the
 * token. `admins` needs a user (the API refuses API keys on /users, as EMQX does).
 *
 * Output is a table or `key: value` lines for people, the API's JSON with --json for scripts.
 * The exit status is 0 on success, 1 when the API answered with an error (its code and message on
 * stderr) or could not be reached, and commander's 1 for a usage error.
 */

import { Command, Option } from 'commander';

const DEFAULT_URL = 'http://127.0.0.1:18083';
const API = '/api/v5';

interface CtlOptions {
  url?: string;
  apiKey?: string;
  apiSecret?: string;
  username?: string;
  password?: string;
  json?: boolean;
}

/** An error the API answered with, or a failure to reach it. */
class CtlError extends Error {}

class Client {
  private auth: string | null = null;

  constructor(private readonly options: CtlOptions) {}

  /** The user ctl logs in as, if any (for changing one's own password). */
  get login(): { username: string; password: string } | null {
    const username = this.options.username ?? process.env.AVIARY_CTL_USERNAME;
    const password = this.options.password ?? process.env.AVIARY_CTL_PASSWORD;
    return username !== undefined && password !== undefined ? { username, password } : null;
  }

  private get url(): string {
    return (this.options.url ?? process.env.AVIARY_CTL_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  }

  private async authorization(): Promise<string> {
    if (this.auth !== null) return this.auth;
    const o = this.options;
    const key = o.apiKey ?? process.env.AVIARY_CTL_API_KEY;
    const secret = o.apiSecret ?? process.env.AVIARY_CTL_API_SECRET;
    const username = o.username ?? process.env.AVIARY_CTL_USERNAME;
    const password = o.password ?? process.env.AVIARY_CTL_PASSWORD;
    if (username !== undefined && password !== undefined) {
      const res = await this.call<{ token: string }>('POST', '/login', { username, password }, false);
      this.auth = `Bearer ${res.token}`;
    } else if (key !== undefined && secret !== undefined) {
      this.auth = `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
    } else {
      this.auth = '';
    }
    return this.auth;
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, authenticate = true): Promise<T> {
    const headers: Record<string, string> = {};
    if (authenticate) {
      const auth = await this.authorization();
      if (auth !== '') headers.authorization = auth;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.url}${API}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? String(error);
      throw new CtlError(`cannot reach ${this.url}: ${cause}`);
    }
    const text = await res.text();
    const json =
      text !== '' && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
    if (res.status >= 400) {
      const e = json as { code?: string; message?: string; reason_code?: number };
      const what =
        e.code ?? (e.reason_code !== undefined ? `reason code ${e.reason_code}` : `HTTP ${res.status}`);
      throw new CtlError(`${what}: ${e.message ?? text}`);
    }
    return json as T;
  }
}

// ---- output ------------------------------------------------------------------------------

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** A plain text table: a header row, then one row per item. */
export function table(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): string {
  const cells = [columns.map((c) => c), ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return `${cells
    .map((row) =>
      row
        .map((v, i) => v.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

function keyValues(o: Record<string, unknown>): string {
  const keys = Object.keys(o);
  const width = Math.max(0, ...keys.map((k) => k.length));
  return `${keys.map((k) => `${`${k}:`.padEnd(width + 1)} ${cell(o[k])}`).join('\n')}\n`;
}

interface Paged {
  data: Array<Record<string, unknown>>;
  meta: { page: number; limit: number; count: number; hasnext: boolean };
}

function pagedFooter(p: Paged): string {
  const more = p.meta.hasnext ? ` (more: --page ${p.meta.page + 1})` : '';
  return `${p.data.length} of ${p.meta.count} shown, page ${p.meta.page}${more}\n`;
}

// ---- commands ----------------------------------------------------------------------------

type Run = (client: Client, json: boolean, out: (text: string) => void) => Promise<void>;

/** Registers `aviary ctl` and its commands on the `aviary` program. */
export function registerCtlCommand(program: Command): void {
  const ctl = program
    .command('ctl')
    .description('manage a running broker through its HTTP API (docs/cli.md)')
    .option('--url <url>', `API address (AVIARY_CTL_URL; default ${DEFAULT_URL})`)
    .option('--api-key <key>', 'API key (AVIARY_CTL_API_KEY)')
    .option('--api-secret <secret>', 'API secret (AVIARY_CTL_API_SECRET)')
    .option('-u, --username <name>', 'dashboard user, instead of an API key (AVIARY_CTL_USERNAME)')
    .option('-p, --password <password>', "the user's password (AVIARY_CTL_PASSWORD)")
    .option('--json', "print the API's JSON answer");

  /** Wraps a command body: credentials, output, exit status. */
  const run =
    (body: (...args: never[]) => Run) =>
    async (...args: unknown[]): Promise<void> => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals() as CtlOptions;
      const client = new Client(options);
      try {
        await (body as (...a: unknown[]) => Run)(...args.slice(0, -1))(client, options.json === true, (t) =>
          process.stdout.write(t),
        );
      } catch (error) {
        if (!(error instanceof CtlError)) throw error;
        process.stderr.write(`aviary ctl: ${error.message}\n`);
        process.exitCode = 1;
      }
    };
  const print = (json: boolean, out: (t: string) => void, value: unknown, human: () => string): void =>
    out(json ? `${JSON.stringify(value, null, 2)}\n` : human());
  const done = (json: boolean, out: (t: string) => void, what: string): void =>
    out(json ? `${JSON.stringify({ result: 'ok' })}\n` : `${what}\n`);
  const enc = encodeURIComponent;

  ctl
    .command('status')
    .description('is the broker running (exit 1 if not)')
    .action(
      run(() => async (c, json, out) => {
        const s = await c.call<Record<string, unknown>>('GET', '/status?format=json');
        print(
          json,
          out,
          s,
          () => `Node ${cell(s.node_name)} is ${cell(s.broker_status)}\naviary is ${cell(s.app_status)}\n`,
        );
      }),
    );

  // clients
  const clients = ctl.command('clients').description('connected clients and persistent sessions');
  clients
    .command('list')
    .description('list clients (a page at a time)')
    .option('--page <n>', 'page', '1')
    .option('--limit <n>', 'clients per page', '100')
    .action(
      run((opts: { page: string; limit: string }) => async (c, json, out) => {
        const p = await c.call<Paged>('GET', `/clients?page=${enc(opts.page)}&limit=${enc(opts.limit)}`);
        print(
          json,
          out,
          p,
          () =>
            table(
              p.data.map((d) => ({ ...d, peer: `${cell(d.ip_address)}:${cell(d.port)}` })),
              [
                'clientid',
                'username',
                'peer',
                'proto_ver',
                'connected',
                'keepalive',
                'subscriptions_cnt',
                'connected_at',
              ],
            ) + pagedFooter(p),
        );
      }),
    );
  clients
    .command('show <clientid>')
    .description("a client's details")
    .action(
      run((id: string) => async (c, json, out) => {
        const d = await c.call<Record<string, unknown>>('GET', `/clients/${enc(id)}`);
        print(json, out, d, () => keyValues(d));
      }),
    );
  clients
    .command('kick <clientid>')
    .description('disconnect a client and end its session')
    .action(
      run((id: string) => async (c, json, out) => {
        await c.call('DELETE', `/clients/${enc(id)}`);
        done(json, out, 'ok');
      }),
    );

  // subscriptions
  const subscriptions = ctl.command('subscriptions').description('subscriptions');
  const subColumns = ['clientid', 'topic', 'qos', 'nl', 'rap', 'rh'];
  subscriptions
    .command('list')
    .description('every subscription (a page at a time)')
    .option('--page <n>', 'page', '1')
    .option('--limit <n>', 'subscriptions per page', '100')
    .action(
      run((opts: { page: string; limit: string }) => async (c, json, out) => {
        const p = await c.call<Paged>(
          'GET',
          `/subscriptions?page=${enc(opts.page)}&limit=${enc(opts.limit)}`,
        );
        print(json, out, p, () => table(p.data, subColumns) + pagedFooter(p));
      }),
    );
  subscriptions
    .command('show <clientid>')
    .description("a client's subscriptions")
    .action(
      run((id: string) => async (c, json, out) => {
        const s = await c.call<Array<Record<string, unknown>>>('GET', `/clients/${enc(id)}/subscriptions`);
        print(json, out, s, () => table(s, subColumns));
      }),
    );
  subscriptions
    .command('add <clientid> <topic> <qos>')
    .description('subscribe a client')
    .action(
      run((id: string, topic: string, qos: string) => async (c, json, out) => {
        const q = Number(qos);
        if (![0, 1, 2].includes(q)) throw new CtlError('qos must be 0, 1 or 2');
        const r = await c.call('POST', `/clients/${enc(id)}/subscribe`, { topic, qos: q });
        print(json, out, r, () => 'ok\n');
      }),
    );
  subscriptions
    .command('del <clientid> <topic>')
    .description('unsubscribe a client')
    .action(
      run((id: string, topic: string) => async (c, json, out) => {
        await c.call('POST', `/clients/${enc(id)}/unsubscribe`, { topic });
        done(json, out, 'ok');
      }),
    );

  // topics
  ctl
    .command('topics')
    .description('routes')
    .command('list')
    .description('the subscribed topic filters (routes)')
    .option('--page <n>', 'page', '1')
    .option('--limit <n>', 'topics per page', '100')
    .action(
      run((opts: { page: string; limit: string }) => async (c, json, out) => {
        const p = await c.call<Paged>('GET', `/topics?page=${enc(opts.page)}&limit=${enc(opts.limit)}`);
        print(json, out, p, () => table(p.data, ['topic', 'node']) + pagedFooter(p));
      }),
    );

  // retainer
  const retainer = ctl.command('retainer').description('retained messages');
  retainer
    .command('info')
    .description('how many retained messages are stored')
    .action(
      run(() => async (c, json, out) => {
        const s = await c.call<Record<string, number>>('GET', '/stats?aggregate=true');
        const info = { retained: s['retained.count'] ?? 0, retained_max: s['retained.max'] ?? 0 };
        print(json, out, info, () => keyValues(info));
      }),
    );
  retainer
    .command('topics')
    .description('the topics with a retained message')
    .option('--page <n>', 'page', '1')
    .option('--limit <n>', 'topics per page', '100')
    .action(
      run((opts: { page: string; limit: string }) => async (c, json, out) => {
        const p = await c.call<Paged>(
          'GET',
          `/mqtt/retainer/messages?page=${enc(opts.page)}&limit=${enc(opts.limit)}`,
        );
        print(
          json,
          out,
          p,
          () => table(p.data, ['topic', 'qos', 'publish_at', 'from_clientid']) + pagedFooter(p),
        );
      }),
    );
  retainer
    .command('clean [topic]')
    .description("delete one topic's retained message, or all of them")
    .action(
      run((topic: string | undefined) => async (c, json, out) => {
        if (topic === undefined) await c.call('DELETE', '/mqtt/retainer/messages');
        else await c.call('DELETE', `/mqtt/retainer/message/${enc(topic)}`);
        done(json, out, 'ok');
      }),
    );

  // publish
  ctl
    .command('publish <topic> <payload>')
    .description('publish a message')
    .addOption(new Option('-q, --qos <qos>', 'QoS').choices(['0', '1', '2']).default('0'))
    .option('-r, --retain', 'retain the message', false)
    .action(
      run(
        (topic: string, payload: string, opts: { qos: string; retain: boolean }) => async (c, json, out) => {
          const r = await c.call<Record<string, unknown>>('POST', '/publish', {
            topic,
            payload,
            qos: Number(opts.qos),
            retain: opts.retain,
          });
          print(json, out, r, () =>
            r.id !== undefined
              ? `ok ${cell(r.id)}\n`
              : `${cell(r.message)} (reason code ${cell(r.reason_code)})\n`,
          );
        },
      ),
    );

  // banned
  const banned = ctl.command('banned').description('the banned list');
  banned
    .command('list')
    .description('banned clients, users and addresses')
    .option('--page <n>', 'page', '1')
    .option('--limit <n>', 'entries per page', '100')
    .action(
      run((opts: { page: string; limit: string }) => async (c, json, out) => {
        const p = await c.call<Paged>('GET', `/banned?page=${enc(opts.page)}&limit=${enc(opts.limit)}`);
        print(
          json,
          out,
          p,
          () => table(p.data, ['as', 'who', 'by', 'reason', 'at', 'until']) + pagedFooter(p),
        );
      }),
    );
  banned
    .command('add <as> <who>')
    .description('ban (as: clientid, username, peerhost, clientid_re, username_re, peerhost_net)')
    .option('--reason <text>', 'why')
    .option('--until <time>', 'RFC 3339 time when the ban ends (default: never)')
    .action(
      run((as: string, who: string, opts: { reason?: string; until?: string }) => async (c, json, out) => {
        const r = await c.call('POST', '/banned', {
          as,
          who,
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
          ...(opts.until === undefined ? {} : { until: opts.until }),
        });
        print(json, out, r, () => 'ok\n');
      }),
    );
  banned
    .command('del <as> <who>')
    .description('lift a ban')
    .action(
      run((as: string, who: string) => async (c, json, out) => {
        await c.call('DELETE', `/banned/${enc(as)}/${enc(who)}`);
        done(json, out, 'ok');
      }),
    );

  // listeners
  const listeners = ctl
    .command('listeners')
    .description('MQTT listeners (and: listeners start|stop|restart <id>)')
    .action(
      run(() => async (c, json, out) => {
        const l = await c.call<Array<Record<string, unknown>>>('GET', '/listeners');
        print(json, out, l, () =>
          table(l, ['id', 'bind', 'running', 'current_connections', 'max_connections']),
        );
      }),
    );
  for (const op of ['start', 'stop', 'restart'] as const) {
    listeners
      .command(`${op} <id>`)
      .description(`${op} a listener, e.g. tcp:default`)
      .action(
        run((id: string) => async (c, json, out) => {
          await c.call('POST', `/listeners/${enc(id)}/${op}`);
          done(json, out, 'ok');
        }),
      );
  }

  // metrics and stats
  for (const [name, path, what] of [
    ['metrics', '/metrics?aggregate=true', 'counters (messages, packets, bytes, ...)'],
    ['stats', '/stats?aggregate=true', 'gauges (connections, sessions, topics, ...)'],
  ] as const) {
    ctl
      .command(name)
      .description(what)
      .action(
        run(() => async (c, json, out) => {
          const m = await c.call<Record<string, unknown>>('GET', path);
          print(json, out, m, () => keyValues(m));
        }),
      );
  }

  // admins (dashboard users)
  const admins = ctl.command('admins').description('dashboard users (needs --username/--password)');
  admins
    .command('add <username> <password>')
    .description('create a user')
    .option('--role <role>', 'administrator or viewer', 'administrator')
    .option('--description <text>', 'a note', '')
    .action(
      run(
        (username: string, password: string, opts: { role: string; description: string }) =>
          async (c, json, out) => {
            const r = await c.call('POST', '/users', {
              username,
              password,
              role: opts.role,
              description: opts.description,
            });
            print(json, out, r, () => 'ok\n');
          },
      ),
    );
  admins
    .command('passwd <username> <password>')
    .description("set a user's password")
    .action(
      run((username: string, password: string) => async (c, json, out) => {
        // One's own password needs the old one, which ctl logged in with.
        const self = c.login?.username === username ? { old_pwd: c.login.password } : {};
        await c.call('POST', `/users/${enc(username)}/change_pwd`, { ...self, new_pwd: password });
        done(json, out, 'ok');
      }),
    );
  admins
    .command('del <username>')
    .description('delete a user')
    .action(
      run((username: string) => async (c, json, out) => {
        await c.call('DELETE', `/users/${enc(username)}`);
        done(json, out, 'ok');
      }),
    );
}

/**
 * `aviary ctl ...` on its own: bin/aviary.js calls this for `ctl` so that the HTTP client starts
 * without loading the broker (a few hundred milliseconds less per command, which scripts notice).
 */
export async function runCtl(argv: string[]): Promise<void> {
  const program = new Command('aviary');
  registerCtlCommand(program);
  await program.parseAsync(argv);
}

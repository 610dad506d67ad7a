/**
 * The management API's sections, with EMQX's keys and defaults (emqx_dashboard_schema.erl,
 * emqx_mgmt_api_key_schema.erl, emqx_prometheus_schema.erl):
 *
 *   dashboard.listeners.http    the HTTP API on port 18083 (enable, bind)
 *   dashboard.listeners.https   the same over TLS on 18084, off unless enabled (+ ssl_options)
 *   dashboard.default_username  the user created at start (admin) with
 *   dashboard.default_password  its password (public; AVIARY_DASHBOARD__DEFAULT_PASSWORD)
 *   dashboard.token_expired_time  lifetime of a login token (60m)
 *   dashboard.sample_interval   how often /monitor keeps a sample (10s)
 *   api_key.bootstrap_file      `key:secret[:role]` lines loaded as API keys at start
 *   prometheus.enable_basic_auth  require credentials on /api/v5/prometheus/stats (false)
 *
 * The API itself is in src/api (docs/api.md).
 */
import { bind, bool, duration, section, str } from './fields.js';

/** EMQX's dashboard ports. */
export const DASHBOARD_HTTP_PORT = 18083;
export const DASHBOARD_HTTPS_PORT = 18084;

const httpListener = section({
  enable: bool().prefault(true),
  bind: bind().prefault(`0.0.0.0:${DASHBOARD_HTTP_PORT}`),
}).prefault({});

const httpsListener = section({
  enable: bool().prefault(false),
  bind: bind().prefault(`0.0.0.0:${DASHBOARD_HTTPS_PORT}`),
  ssl_options: section({
    certfile: str('a file path', (path) => path !== '').optional(),
    keyfile: str('a file path', (path) => path !== '').optional(),
  }).prefault({}),
})
  .superRefine((https, ctx) => {
    if (!https.enable) return;
    for (const key of ['certfile', 'keyfile'] as const) {
      if (https.ssl_options[key] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['ssl_options', key],
          message: 'required for the https listener (or set enable = false)',
        });
      }
    }
  })
  .prefault({});

const dashboardSchema = section({
  listeners: section({ http: httpListener, https: httpsListener }).prefault({}),
  default_username: str('a user name', (name) => name !== '').prefault('admin'),
  default_password: str('a password', (password) => password !== '').prefault('public'),
  token_expired_time: duration({ check: { test: (ms) => ms >= 1000, expected: 'at least 1s' } }).prefault(
    '60m',
  ),
  sample_interval: duration({ check: { test: (ms) => ms >= 1000, expected: 'at least 1s' } }).prefault('10s'),
  swagger_support: bool().prefault(true),
}).prefault({});

const apiKeySchema = section({
  bootstrap_file: str().prefault(''),
}).prefault({});

const prometheusSchema = section({
  enable_basic_auth: bool().prefault(false),
}).prefault({});

/** The root sections this file adds to the configuration (spread into schema.ts's configShape). */
export const apiConfigShape = {
  dashboard: dashboardSchema,
  api_key: apiKeySchema,
  prometheus: prometheusSchema,
};

import crypto from 'node:crypto';
import type pg from 'pg';
import type { Config } from '../../config/config';
import type { WindowState, WindowType } from '../../domain/maintenance';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { startGate, type StartGateOptions } from '../../gate/server';
import type { TestStack } from '../helpers/env';
export { freePort } from '../helpers/net';

/**
 * Shared by the gate tests: a gate listening on a free loopback port (real HTTP: fastify's inject pulls
 * an ESM-only cookie module that Jest cannot load on Node 20), windows written straight into the table
 * (as the workflow would), logins, snapshots of every row the gate can change.
 */

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface TestGate {
  base: string;
  metricsAddress: string;
  /** the secret of the key the gate was started with (R-SE-4), sent by call() unless options.key says otherwise */
  key: string;
  keyId: string;
  /** options.key: another secret, or null to send no key at all */
  call(method: string, path: string, options?: { headers?: Record<string, string>; body?: unknown; raw?: string; key?: string | null }): Promise<Reply>;
  close(): Promise<void>;
}

/** Test config of a gate: any port, metrics on any loopback port, limits out of the way unless a test sets them. */
export function testGateConfig(config: Config, gate: Partial<Config['gate']> = {}): Config {
  return {
    ...config,
    gateHost: '127.0.0.1',
    gatePort: 0,
    // refusals are logged at warn (auth.test.ts reads them with its own logger): the tests' output shows errors only
    logLevel: 'error',
    gate: { ...config.gate, metricsPort: 0, loginRatePerAddress: 1_000_000, loginRatePerKey: 1_000_000, ...gate },
  };
}

/** A gate on the stack's target `main` with a fresh key (heartbeats read the window row in every batch: tests change it and heartbeat at once). */
export async function startTestGate(
  stack: TestStack,
  gateSettings: Partial<Config['gate']> = {},
  options: StartGateOptions = {},
): Promise<TestGate> {
  const { key, secret } = await issueKey(stack.pools.get('main'), `test-${crypto.randomBytes(3).toString('hex')}`);
  const gate = await startGate(testGateConfig(stack.config, gateSettings), stack.pools, options);
  return {
    base: gate.address,
    metricsAddress: gate.metricsAddress,
    key: secret,
    keyId: key.id,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const k = options.key === undefined ? secret : options.key;
      if (k !== null) headers[KEY_HEADER] ??= k;
      let body: string | undefined = options.raw;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${gate.address}${path}`, { method, headers, body });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
    },
    close: () => gate.close(),
  };
}

export interface WindowSpec {
  type?: WindowType;
  state?: WindowState;
  startsAt: Date | string;
  endsAt: Date | string;
  preventLoginsFrom?: Date | string | null;
  message?: string | null;
}

export async function setWindow(pool: pg.Pool, w: WindowSpec): Promise<void> {
  await pool.query(`DELETE FROM nightshift.maintenance_window`);
  await pool.query(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, prevent_logins_from, message)
     VALUES ($1, 'maintenance/main', $2, $3, $3, $4, $5, $6, $7)`,
    [crypto.randomUUID(), w.type ?? 'database', w.state ?? 'scheduled', w.startsAt, w.endsAt, w.preventLoginsFrom ?? null, w.message ?? null],
  );
}

export async function clearWindow(pool: pg.Pool): Promise<void> {
  await pool.query(`DELETE FROM nightshift.maintenance_window`);
}

export const minutesFromNow = (m: number): Date => new Date(Date.now() + m * 60_000);

export interface Login {
  sessionId: string;
  token: string;
  expiresAt: string;
  announcement?: string;
}

export async function loginOk(gate: TestGate, user = 'alice', target = 'main'): Promise<Login> {
  const res = await gate.call('POST', `/v1/targets/${target}/sessions`, { body: { user } });
  if (res.status !== 201) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.json<Login>();
}

export function auth(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

export async function heartbeat(gate: TestGate, s: Login, headers: Record<string, string> = {}): Promise<Reply> {
  return gate.call('POST', `/v1/sessions/${s.sessionId}/heartbeat`, { headers: auth(s.token, headers) });
}

/** Everything the gate can change, to show that a refused request changed nothing (keys without last_used_at, written in the background). */
export async function snapshot(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query(
    `SELECT (SELECT json_agg(s ORDER BY id) FROM nightshift.session s) AS sessions,
            (SELECT json_agg(d ORDER BY session_id, dossier_code) FROM nightshift.session_dossier d) AS dossiers,
            (SELECT json_agg(w ORDER BY id) FROM nightshift.maintenance_window w) AS windows,
            (SELECT json_agg(json_build_object('id', k.id, 'name', k.name, 'revoked_at', k.revoked_at) ORDER BY k.id) FROM nightshift.gate_key k) AS keys`,
  );
  return JSON.stringify(rows[0]);
}

export async function insertDossier(pool: pg.Pool, code: string): Promise<void> {
  await pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ($1, $1, $2)`, [code, `d_${code}`]);
}


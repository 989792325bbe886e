import crypto from 'node:crypto';
import type pg from 'pg';
import type { WindowState, WindowType } from '../../domain/maintenance';
import { startGate } from '../../gate/server';
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
  call(method: string, path: string, options?: { headers?: Record<string, string>; body?: unknown; raw?: string }): Promise<Reply>;
  close(): Promise<void>;
}

/** windowCacheMs 0 by default: tests change the window row and heartbeat at once. */
export async function startTestGate(stack: TestStack, windowCacheMs = 0): Promise<TestGate> {
  const gate = await startGate({ ...stack.config, gateHost: '127.0.0.1', gatePort: 0, logLevel: 'warn' }, stack.pools, { windowCacheMs });
  return {
    base: gate.address,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
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

/** Everything the gate can change, to show that a refused request changed nothing. */
export async function snapshot(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query(
    `SELECT (SELECT json_agg(s ORDER BY id) FROM nightshift.session s) AS sessions,
            (SELECT json_agg(d ORDER BY session_id, dossier_code) FROM nightshift.session_dossier d) AS dossiers,
            (SELECT json_agg(w ORDER BY id) FROM nightshift.maintenance_window w) AS windows`,
  );
  return JSON.stringify(rows[0]);
}

export async function insertDossier(pool: pg.Pool, code: string): Promise<void> {
  await pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ($1, $1, $2)`, [code, `d_${code}`]);
}


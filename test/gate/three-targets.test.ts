import pg from 'pg';
import { loadConfig, type Config } from '../../config/config';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { startGate, type RunningGate } from '../../gate/server';
import { createTargetPools, type TargetPools } from '../../workers/resources';
import { createTestDatabase, requireEnv, tempDir } from '../helpers/env';
import { auth, insertDossier, testGateConfig } from './gate-helpers';

/**
 * One gate in front of three targets, as an outside tester ran it (paris, lyon, nantes-3): one target's database
 * closed to connections (`ALTER DATABASE … ALLOW_CONNECTIONS false` and its backends terminated, as a maintenance drain
 * does, R-MW-8) must not look like a gate error, nor take the other targets down with it.
 */

const TARGETS = ['paris', 'lyon', 'nantes-3'] as const;
type Target = (typeof TARGETS)[number];

let config: Config;
let pools: TargetPools;
let gate: RunningGate;
const urls = {} as Record<Target, string>;
const keys = {} as Record<Target, string>;
const logLines: string[] = [];

beforeAll(async () => {
  const created = await Promise.all(TARGETS.map((t) => createTestDatabase(t.replace('-', ''))));
  TARGETS.forEach((t, i) => (urls[t] = created[i]!));
  config = loadConfig({
    NIGHTSHIFT_DATA_DIR: tempDir('gate3'),
    NIGHTSHIFT_TARGETS: TARGETS.map((t) => `${t}=${urls[t]}`).join(','),
    NIGHTSHIFT_TIMEZONE: 'Europe/Paris',
  });
  pools = createTargetPools(config);
  for (const t of TARGETS) keys[t] = (await issueKey(pools.get(t), `app-${t}`)).secret;
  await insertDossier(pools.get('nantes-3'), 'ACME');
  gate = await startGate(testGateConfig(config), pools, { logger: { level: 'warn', stream: { write: (line) => void logLines.push(line) } } });
});
afterAll(async () => {
  await Promise.all(TARGETS.map((t) => openDatabase(t)));
  await gate?.close();
  await pools?.end();
});

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const dbName = (t: Target) => new URL(urls[t]).pathname.slice(1);

/** The tester's outage: the database refuses new connections and its open ones are cut. */
async function closeDatabase(t: Target): Promise<void> {
  await admin(async (c) => {
    await c.query(`ALTER DATABASE ${dbName(t)} ALLOW_CONNECTIONS false`);
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName(t)]);
  });
}

async function openDatabase(t: Target): Promise<void> {
  await admin((c) => c.query(`ALTER DATABASE ${dbName(t)} ALLOW_CONNECTIONS true`));
}

async function call(method: string, path: string, o: { key?: Target | null; headers?: Record<string, string>; body?: unknown } = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.key !== null) headers[KEY_HEADER] = keys[o.key ?? 'paris'];
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gate.address}${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function login(t: Target, user = 'alice') {
  const r = await call('POST', `/v1/targets/${t}/sessions`, { key: t, body: { user } });
  if (r.status !== 201) throw new Error(`login on ${t}: ${r.status} ${r.text}`);
  return r.json() as { sessionId: string; token: string };
}

describe('one target database down', () => {
  test("R-SE-1 R-SE-4 every /v1 route of the target whose database refuses connections answers 503 {error} (the tester got 500 'internal error'); the other targets serve; the log names the target and no secret", async () => {
    const s = await login('nantes-3');
    expect((await call('POST', `/v1/sessions/${s.sessionId}/dossiers/ACME`, { key: 'nantes-3', headers: auth(s.token) })).status).toBe(200);
    await closeDatabase('nantes-3');
    try {
      const routes: [string, string, unknown?][] = [
        ['GET', '/v1/targets/nantes-3/status'],
        ['POST', '/v1/targets/nantes-3/sessions', { user: 'bob' }],
        ['POST', `/v1/sessions/${s.sessionId}/heartbeat`],
        ['POST', `/v1/sessions/${s.sessionId}/dossiers/ACME`],
        ['DELETE', `/v1/sessions/${s.sessionId}/dossiers/ACME`],
        ['POST', `/v1/sessions/${s.sessionId}/dossiers/ACME/backup`, { event: 'closing' }],
        ['DELETE', `/v1/sessions/${s.sessionId}`],
      ];
      for (const [method, path, body] of routes) {
        const r = await call(method, path, { key: 'nantes-3', headers: auth(s.token), body });
        expect({ route: `${method} ${path}`, status: r.status, body: r.json() }).toEqual({ route: `${method} ${path}`, status: 503, body: { error: 'target database unavailable' } });
      }
      // the other firms log in as before
      for (const t of ['paris', 'lyon'] as const) {
        await login(t);
        expect((await call('GET', `/v1/targets/${t}/status`, { key: t })).json()).toMatchObject({ target: t, state: 'open' });
      }
      const outages = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'target database unavailable');
      expect(outages.length).toBeGreaterThanOrEqual(routes.length);
      for (const l of outages) expect(l).toMatchObject({ level: 40, target: 'nantes-3', outage: expect.stringMatching(/^(55000|57P01|terminated)$/) });
      expect(outages.some((l) => l.outage === '55000')).toBe(true);
      const all = logLines.join('\n');
      expect(all).not.toContain('internal error');
      for (const secret of [...Object.values(keys), s.token, ...Object.values(urls).map((u) => new URL(u).password).filter(Boolean)]) {
        expect(all).not.toContain(secret);
      }
    } finally {
      await openDatabase('nantes-3');
    }
    // back as soon as the database answers: the session was never closed by the outage
    const back = await call('POST', `/v1/sessions/${s.sessionId}/heartbeat`, { key: 'nantes-3', headers: auth(s.token) });
    expect({ status: back.status, body: back.json() }).toEqual({ status: 200, body: { action: 'continue' } });
    await login('nantes-3', 'bob');
  });
});

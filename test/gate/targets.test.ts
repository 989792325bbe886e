import { spawn } from 'node:child_process';
import pg from 'pg';
import { readMigrationFiles } from '../../db/migrate';
import path from 'node:path';
import { loadConfig } from '../../config/config';
import { startGate, type RunningGate } from '../../gate/server';
import { createTargetPools, type TargetPools } from '../../workers/resources';
import { createTestDatabase, tempDir } from '../helpers/env';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { auth, freePort, insertDossier, minutesFromNow, setWindow, testGateConfig } from './gate-helpers';

/** One gate, two targets, over a real socket; and `nightshift gate` as a process. */

let pools: TargetPools;
let gate: RunningGate;
let mainUrl: string;
let otherUrl: string;
const keys: Record<string, string> = {};

beforeAll(async () => {
  [mainUrl, otherUrl] = await Promise.all([createTestDatabase('gm'), createTestDatabase('go')]);
  const config = loadConfig({
    NIGHTSHIFT_DATA_DIR: tempDir('gate'),
    NIGHTSHIFT_TARGETS: `main=${mainUrl},other=${otherUrl}`,
    NIGHTSHIFT_TIMEZONE: 'Europe/Paris',
    NIGHTSHIFT_LOG_LEVEL: 'warn',
  });
  pools = createTargetPools(config);
  keys.main = (await issueKey(pools.get('main'), 'app-main')).secret;
  keys.other = (await issueKey(pools.get('other'), 'app-other')).secret;
  gate = await startGate(testGateConfig(config), pools);
});
afterAll(async () => {
  await gate?.close();
  await pools?.end();
});

/** With the key of the path's target (or of `other` on session routes when the headers say so). */
async function call(method: string, p: string, headers: Record<string, string> = {}, body?: unknown) {
  const key = keys[/^\/v1\/targets\/([a-z]+)\//.exec(p)?.[1] ?? 'main'];
  const h = { [KEY_HEADER]: key ?? '', ...headers };
  const res = await fetch(`${gate.address}${p}`, {
    method,
    headers: body === undefined ? h : { ...h, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('listens on loopback by default and reports its address', () => {
  expect(gate.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
});

test('each target has its own window: main closed (R-MW-6) while other accepts logins', async () => {
  await setWindow(pools.get('main'), { startsAt: minutesFromNow(-5), endsAt: minutesFromNow(40), state: 'in_progress' });
  expect((await call('POST', '/v1/targets/main/sessions', {}, { user: 'a' })).status).toBe(423);
  const login = await call('POST', '/v1/targets/other/sessions', {}, { user: 'a' });
  expect(login.status).toBe(201);
  expect((await call('GET', '/v1/targets/main/status')).body).toMatchObject({ state: 'closed', openSessions: 0 });
  expect((await call('GET', '/v1/targets/other/status')).body).toMatchObject({ state: 'open', openSessions: 1 });
  // the public page of a gate serving several targets: each target's notices on its own page (three-targets.test.ts)
  const page = await (await fetch(`${gate.address}/?target=main`)).text();
  expect(page).toContain('Une phase de maintenance de la base de données est actuellement en cours.');
  expect(page).not.toMatch(/\bother\b/);
  expect(await (await fetch(`${gate.address}/?target=other`)).text()).toContain('Aucune maintenance annoncée.');
});

test('session routes find the session in its own target, and a token never crosses sessions', async () => {
  await pools.get('main').query('DELETE FROM nightshift.maintenance_window');
  const m = (await call('POST', '/v1/targets/main/sessions', {}, { user: 'm' })).body as { sessionId: string; token: string };
  const o = (await call('POST', '/v1/targets/other/sessions', {}, { user: 'o' })).body as { sessionId: string; token: string };
  const asOther = { [KEY_HEADER]: keys.other! };
  expect((await call('POST', `/v1/sessions/${o.sessionId}/heartbeat`, { ...auth(o.token), ...asOther })).body).toEqual({ action: 'continue' });
  expect((await call('POST', `/v1/sessions/${m.sessionId}/heartbeat`, auth(m.token))).body).toEqual({ action: 'continue' });
  expect((await call('POST', `/v1/sessions/${o.sessionId}/heartbeat`, { ...auth(m.token), ...asOther })).status).toBe(401);
  // R-SE-4: main's key does not reach other's sessions (an unknown session to it: see below), nor other's target routes
  expect((await call('POST', `/v1/sessions/${o.sessionId}/heartbeat`, auth(o.token))).status).toBe(404);
  expect((await call('GET', '/v1/targets/other/status', { [KEY_HEADER]: keys.main! })).status).toBe(403);
  const inOther = await pools.get('other').query('SELECT count(*)::int AS n FROM nightshift.session WHERE id = $1', [o.sessionId]);
  const inMain = await pools.get('main').query('SELECT count(*)::int AS n FROM nightshift.session WHERE id = $1', [o.sessionId]);
  expect([inOther.rows[0].n, inMain.rows[0].n]).toEqual([1, 0]);
  expect((await call('DELETE', `/v1/sessions/${o.sessionId}`, { ...auth(o.token), ...asOther })).body).toEqual({ closed: true, reason: 'logout' });
});

test("R-SE-4 the caller learns nothing: another target's live session answers exactly as an unknown id, on every session route", async () => {
  await insertDossier(pools.get('other'), 'ACME');
  const o = (await call('POST', '/v1/targets/other/sessions', {}, { user: 'o' })).body as { sessionId: string; token: string };
  const garbage = auth('A'.repeat(43));
  const unknown = '11111111-1111-1111-1111-111111111111';
  const before = await pools.get('other').query('SELECT * FROM nightshift.session WHERE id = $1', [o.sessionId]);
  for (const [method, suffix, body] of [
    ['POST', '/heartbeat', undefined],
    ['DELETE', '', undefined],
    ['POST', '/dossiers/ACME', undefined],
    ['DELETE', '/dossiers/ACME', undefined],
    ['POST', '/dossiers/ACME/backup', { event: 'closing' }],
  ] as const) {
    // main's key, a garbage token and the session's own token: each the same answer as for an id nobody has
    for (const headers of [garbage, auth(o.token)]) {
      const probe = await call(method, `/v1/sessions/${o.sessionId}${suffix}`, headers, body);
      const madeUp = await call(method, `/v1/sessions/${unknown}${suffix}`, headers, body);
      expect({ route: `${method} ${suffix}`, probe }).toEqual({ route: `${method} ${suffix}`, probe: madeUp });
      expect(probe).toEqual({ status: 404, body: { error: 'unknown session', field: 'id' } });
    }
  }
  const after = await pools.get('other').query('SELECT * FROM nightshift.session WHERE id = $1', [o.sessionId]);
  expect(after.rows).toEqual(before.rows);
});

/** `nightshift gate [args]` spawned with these targets: its output so far, its exit, and "listening" awaited. */
async function spawnGate(targets: string, args: string[] = []) {
  const port = await freePort();
  const root = path.resolve(__dirname, '..', '..');
  const child = spawn(process.execPath, [path.join(root, 'bin', 'nightshift.js'), 'gate', ...args], {
    cwd: root,
    env: {
      ...process.env,
      NIGHTSHIFT_DATA_DIR: tempDir('gate-cli'),
      NIGHTSHIFT_TARGETS: targets,
      NIGHTSHIFT_GATE_PORT: String(port),
      NIGHTSHIFT_GATE_METRICS_PORT: String(await freePort()),
      NIGHTSHIFT_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const g = { port, child, out: '', stderr: '', exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
  child.stdout.on('data', (d: Buffer) => (g.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    g.out += d.toString();
    g.stderr += d.toString();
  });
  const listening = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => g.out.includes('listening on') && resolve());
    void g.exited.then((code) => reject(new Error(`gate exited early (${code}): ${g.out}`)));
  });
  return Object.assign(g, { listening });
}

test('`nightshift gate --target other` serves that target only, and stops on SIGTERM', async () => {
  const gate = await spawnGate(`main=${mainUrl},other=${otherUrl}`, ['--target', 'other']);
  const { port } = gate;
  try {
    await gate.listening;
    expect(gate.out).toContain(`listening on http://127.0.0.1:${port} for other`);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(await health.json()).toEqual({ ok: true });
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { headers: { [KEY_HEADER]: keys.other! } });
    expect(await ready.json()).toEqual({ ready: true, target: 'other', database: 'ok' });
    // main is not served: its key is unknown to this gate
    expect((await fetch(`http://127.0.0.1:${port}/v1/targets/main/status`, { headers: { [KEY_HEADER]: keys.main! } })).status).toBe(401);
  } finally {
    gate.child.kill('SIGTERM');
  }
  expect(await gate.exited).toBe(0);
});

test('`nightshift gate` with one target\'s database down serves the others and says which one (drill G: it served none, `connect ECONNREFUSED`); a wrong password is refused naming the target', async () => {
  const deadPort = await freePort();
  const gate = await spawnGate(`main=${mainUrl},dead=postgres://nightshift:x@127.0.0.1:${deadPort}/dead`);
  try {
    await gate.listening;
    expect(gate.out).toContain(`nightshift gate: target dead: its PostgreSQL at 127.0.0.1:${deadPort} (set by NIGHTSHIFT_TARGETS) does not answer (ECONNREFUSED): the other targets are served; dead's calls get 503 (its API keys cannot be read) until it answers`);
    expect((await fetch(`http://127.0.0.1:${gate.port}/v1/targets/main/status`, { headers: { [KEY_HEADER]: keys.main! } })).status).toBe(200);
  } finally {
    gate.child.kill('SIGTERM');
  }
  expect(await gate.exited).toBe(0);

  // a wrong password is a setting, not an outage: refused at start, naming the target
  const wrong = await spawnGate(`main=${mainUrl},bad=${new URL(otherUrl).toString().replace(/\/\/([^:]+):[^@]*@/, '//$1:wrong-password@')}`);
  wrong.listening.catch(() => undefined);
  expect(await wrong.exited).toBe(1);
  expect(wrong.stderr).toMatch(/target bad: its PostgreSQL at \S+ \(set by NIGHTSHIFT_TARGETS\) refused the gate: password authentication failed/);
});

// drill U: a gate of a new release on a database not yet migrated to it accepted logins, then answered 500 to every
// heartbeat (a column of the newest migration missing); an upgrade's order is workers first (they migrate), then gates
test('`nightshift gate` refuses a target whose database lacks a migration of its release (naming it), or was migrated by a newer one', async () => {
  const behind = await createTestDatabase('gbehind');
  const files = readMigrationFiles();
  const last = files.at(-1)!.name;
  const db = new pg.Client({ connectionString: behind });
  await db.connect();
  try {
    await db.query('DELETE FROM nightshift.pgmigrations WHERE name = $1', [last]);
  } finally {
    await db.end();
  }
  const old = await spawnGate(`main=${mainUrl},behind=${behind}`);
  old.listening.catch(() => undefined);
  expect(await old.exited).toBe(1);
  expect(old.stderr).toBe(
    `nightshift: target behind: its database lacks 1 migration(s) of this release (${last}): start a worker of this release first (it applies them at its start; \`nightshift doctor\` says when it is done), then the gate\n`,
  );

  const ahead = await createTestDatabase('gahead');
  const db2 = new pg.Client({ connectionString: ahead });
  await db2.connect();
  try {
    await db2.query(`INSERT INTO nightshift.pgmigrations (name, run_on) VALUES ('9999_from-the-future', now())`);
  } finally {
    await db2.end();
  }
  const newer = await spawnGate(`ahead=${ahead}`);
  newer.listening.catch(() => undefined);
  expect(await newer.exited).toBe(1);
  expect(newer.stderr).toMatch(/^nightshift: target ahead: database ahead was migrated by a newer Nightshift \(9999_from-the-future\): /);
});


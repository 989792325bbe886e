import { loadConfig, type Config } from '../../config/config';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { startGate, type RunningGate } from '../../gate/server';
import { createTargetPools, type TargetPools } from '../../workers/resources';
import { admin, createTestDatabase, tempDir } from '../helpers/env';
import { auth, clearWindow, insertDossier, minutesFromNow, setWindow, testGateConfig } from './gate-helpers';

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
  gate = await startGate(testGateConfig(config), pools, { logger: { level: 'info', stream: { write: (line) => void logLines.push(line) } } });
});
afterAll(async () => {
  await Promise.all(TARGETS.map((t) => openDatabase(t)));
  await gate?.close();
  await pools?.end();
});

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

  // the cluster test alone: a gate started while PostgreSQL was down answered the application's valid key 401 "unknown"
  test("R-SE-4 a gate started while a target's database is down cannot read that target's keys: its key gets 503 (retry), not 401 'unknown API key' (the application would think it revoked); it works as soon as the database answers", async () => {
    await closeDatabase('nantes-3');
    const lines: string[] = [];
    const fresh = await startGate(testGateConfig(config), pools, { logger: { level: 'info', stream: { write: (line) => void lines.push(line) } } });
    const forged = `nsk_${'A'.repeat(43)}`;
    const status = (key: string) => fetch(`${fresh.address}/v1/targets/nantes-3/status`, { headers: { [KEY_HEADER]: key } });
    try {
      const r = await status(keys['nantes-3']);
      expect({ status: r.status, body: await r.json() }).toEqual({ status: 503, body: { error: 'the API key cannot be checked now: a target database does not answer; try again', field: KEY_HEADER } });
      // a key nobody issued cannot be told apart from it meanwhile
      expect((await status(forged)).status).toBe(503);
      // the other targets' keys were read: served
      expect((await fetch(`${fresh.address}/v1/targets/paris/status`, { headers: { [KEY_HEADER]: keys.paris } })).status).toBe(200);
      // each miss reads the keys again (at most once a second): the failed reads are one warn line for the outage
      await new Promise((res) => setTimeout(res, 1100));
      expect((await status(keys['nantes-3'])).status).toBe(503);
      const refreshFailed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'key refresh failed');
      expect(refreshFailed.map((l) => [l.target, l.level])).toEqual([['nantes-3', 40]]);
      await openDatabase('nantes-3');
      // a miss reads the keys again (at most once a second)
      await new Promise((res) => setTimeout(res, 1100));
      expect((await status(keys['nantes-3'])).status).toBe(200);
      const unknown = await status(forged);
      expect({ status: unknown.status, body: await unknown.json() }).toEqual({ status: 401, body: { error: 'unknown API key', field: KEY_HEADER } });
    } finally {
      await openDatabase('nantes-3');
      await fresh.close();
    }
  });

  // the tester: a window under way, the target's database down, and the public page said « Aucune maintenance annoncée. »
  test('R-MW-4 R-SE-4 the notice page of a target whose status cannot be read answers 503 "state unknown" (French, English on Accept-Language en), never "no maintenance", with no error text; the other targets\' pages are served', async () => {
    await setWindow(pools.get('nantes-3'), { startsAt: minutesFromNow(-5), endsAt: minutesFromNow(40), state: 'in_progress' });
    await closeDatabase('nantes-3');
    try {
      const fr = await call('GET', '/?target=nantes-3', { key: null });
      expect(fr.status).toBe(503);
      expect(fr.text).toContain('<strong>nantes-3 - État inconnu</strong>');
      expect(fr.text).toContain('L&#39;état du service ne peut pas être lu pour le moment');
      const en = await call('GET', '/?target=nantes-3', { key: null, headers: { 'accept-language': 'en' } });
      expect(en.status).toBe(503);
      expect(en.text).toContain('The service status cannot be read right now');
      for (const text of [fr.text, en.text]) {
        expect(text).not.toMatch(/Aucune maintenance|No maintenance|Service disponible|Service available/);
        expect(text).not.toMatch(/ECONN|55000|57P01|connection|terminat|postgres|paris|lyon|error/i);
        for (const secret of [...Object.values(keys), ...Object.values(urls).map((u) => new URL(u).password).filter(Boolean)]) expect(text).not.toContain(secret);
      }
      const paris = await call('GET', '/?target=paris', { key: null });
      expect([paris.status, paris.text.includes('Aucune maintenance annoncée.')]).toEqual([200, true]);
      // a name not served still says nothing of which names exist
      expect((await call('GET', '/?target=marseille', { key: null })).status).toBe(200);
    } finally {
      await openDatabase('nantes-3');
      await clearWindow(pools.get('nantes-3'));
    }
    expect((await call('GET', '/?target=nantes-3', { key: null })).status).toBe(200);
  });

  // the tester's balancer: /readyz was 503 for the whole gate with one firm's database down, so it dropped every gate
  test('R-SE-4 /readyz: 200 while one target answers (degraded, naming none), 503 when none does; with a key, its own target; the log names the target once per change', async () => {
    const ready = async (key: Target | null = null) => {
      const r = await call('GET', '/readyz', { key });
      return { status: r.status, body: r.json(), text: r.text };
    };
    const pause = () => new Promise((r) => setTimeout(r, 1100)); // the public answer is re-checked at most once a second
    const changes = () => logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => /^target database (does not answer|answers again)/.test(String(l.msg)));
    const before = changes().length;
    expect(await ready()).toMatchObject({ status: 200, body: { ready: true } });
    await closeDatabase('nantes-3');
    try {
      await pause();
      const degraded = await ready();
      expect({ status: degraded.status, body: degraded.body }).toEqual({ status: 200, body: { ready: true, degraded: true } });
      expect(degraded.text).not.toMatch(/paris|lyon|nantes/);
      expect(await ready('nantes-3')).toMatchObject({ status: 503, body: { ready: false, target: 'nantes-3', database: 'unreachable' } });
      expect(await ready('paris')).toMatchObject({ status: 200, body: { ready: true, target: 'paris', database: 'ok' } });
      await pause();
      await ready();
      expect(changes().slice(before)).toEqual([expect.objectContaining({ level: 40, target: 'nantes-3', msg: expect.stringMatching(/^target database does not answer: its logins and heartbeats get 503, the other targets are served/) })]);
      await Promise.all([closeDatabase('paris'), closeDatabase('lyon')]);
      await pause();
      expect(await ready()).toMatchObject({ status: 503, body: { ready: false } });
    } finally {
      await Promise.all(TARGETS.map((t) => openDatabase(t)));
    }
    await pause();
    expect(await ready()).toMatchObject({ status: 200, body: { ready: true } });
    expect(changes().slice(before).map((l) => [l.target, l.level])).toEqual([
      ['nantes-3', 40],
      ['paris', 40],
      ['lyon', 40],
      ['paris', 30],
      ['lyon', 30],
      ['nantes-3', 30],
    ]);
  });
});

describe('login limits', () => {
  // the tester: 80 quick logins on lyon from one address, and paris's and nantes-3's logins from it got 429 too
  test("R-SE-5 the per-address login budget is per target and address: lyon's storm from an address leaves paris's and nantes-3's logins from it alone", async () => {
    const limited = await startGate(testGateConfig(config, { loginRatePerAddress: 5 }), pools);
    try {
      const loginOn = (t: Target, user: string) =>
        fetch(`${limited.address}/v1/targets/${t}/sessions`, {
          method: 'POST',
          headers: { [KEY_HEADER]: keys[t], 'content-type': 'application/json' },
          body: JSON.stringify({ user }),
        });
      for (let i = 0; i < 5; i++) expect((await loginOn('lyon', `l${i}`)).status).toBe(201);
      const refused = await loginOn('lyon', 'l5');
      expect(refused.status).toBe(429);
      expect(await refused.json()).toEqual({ error: expect.stringMatching(/^too many logins on this target from this client address: at most 5 a minute/), field: 'address' });
      for (const t of ['paris', 'nantes-3'] as const) {
        for (let i = 0; i < 5; i++) expect({ t, i, status: (await loginOn(t, `u${i}`)).status }).toEqual({ t, i, status: 201 });
        expect((await loginOn(t, 'u5')).status).toBe(429);
      }
    } finally {
      await limited.close();
    }
  });
});

describe('the public notice page', () => {
  afterAll(async () => {
    for (const t of TARGETS) await clearWindow(pools.get(t));
  });

  // the tester: paris's notice (« … sera donc indisponible … Travaux Paris seulement ») on the page every firm's users saw
  test("R-MW-4 R-MW-6 R-SE-4 /?target=NAME shows that target's notices only, headed with its name; the bare page of a gate serving several targets shows none; a name not served is a page with no notice, as a target with none", async () => {
    await setWindow(pools.get('paris'), { startsAt: minutesFromNow(-5), endsAt: minutesFromNow(55), state: 'in_progress', message: 'Travaux Paris seulement <b>ici</b>' });
    await setWindow(pools.get('lyon'), { startsAt: minutesFromNow(60), endsAt: minutesFromNow(120), type: 'deployment' });
    const page = async (query: string) => {
      const r = await call('GET', `/${query}`, { key: null });
      expect({ query, status: r.status }).toEqual({ query, status: 200 });
      return r.text;
    };

    const paris = await page('?target=paris');
    expect(paris).toContain('<strong>paris - Maintenance en cours</strong>');
    expect(paris).toContain('Une phase de maintenance de la base de données est actuellement en cours.');
    expect(paris).toContain('Travaux Paris seulement &lt;b&gt;ici&lt;/b&gt;');
    expect(paris).not.toMatch(/lyon|nantes|nouvelle version/);

    const lyon = await page('?target=lyon');
    expect(lyon).toContain('<strong>lyon - Maintenance annoncée</strong>');
    expect(lyon).toContain('Une nouvelle version sera installée entre le');
    expect(lyon).not.toMatch(/paris|Paris|nantes/i);

    const nantes = await page('?target=nantes-3');
    expect(nantes).toContain('Aucune maintenance annoncée.');
    expect(nantes).not.toMatch(/paris|lyon|nantes|Travaux|nouvelle version/i);
    // a name this gate does not serve, a malformed or repeated one: the same page, nothing quoted (R-SE-4)
    for (const q of ['?target=marseille', '?target=%3Cscript%3E', '?target=paris&target=lyon', `?target=${'x'.repeat(500)}`]) {
      expect({ q, text: await page(q) }).toEqual({ q, text: nantes });
    }
    const en = await call('GET', '/?target=paris', { key: null, headers: { 'accept-language': 'en' } });
    expect(en.text).toContain('<strong>paris - Maintenance in progress</strong>');

    // the bare page names no target and shows no firm's notice to another's users
    const bare = await page('');
    expect(bare).not.toMatch(/paris|lyon|nantes|Travaux|maintenance de la base|nouvelle version/i);
    expect(bare).toContain('Les avis de maintenance sont propres à chaque base de données');
  });
});

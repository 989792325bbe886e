import { createTestStack, type TestStack } from '../helpers/env';
import { clearWindow, heartbeat, loginOk, minutesFromNow, setWindow, startTestGate, type TestGate } from './gate-helpers';

/** What users are told: status per state, login announcement (R-MW-4), early block (R-MW-5), refusal (R-MW-6). */

let stack: TestStack;
let gate: TestGate;

beforeAll(async () => {
  stack = await createTestStack({ NIGHTSHIFT_TIMEZONE: 'Europe/Paris' });
  gate = await startTestGate(stack);
});
afterAll(async () => {
  await gate?.close();
  await stack?.close();
});
beforeEach(async () => {
  const pool = stack.pools.get('main');
  await clearWindow(pool);
  await pool.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE closed_at IS NULL`);
});

const pool = () => stack.pools.get('main');
const status = async (headers: Record<string, string> = {}) => {
  const res = await gate.call('GET', '/v1/targets/main/status', { headers });
  expect(res.status).toBe(200);
  return res.json<Record<string, unknown>>();
};
const tryLogin = (headers: Record<string, string> = {}) =>
  gate.call('POST', '/v1/targets/main/sessions', { body: { user: 'bob', client: 'poste-12' }, headers });

// 2099-09-07 11:00Z is 13:00 in Paris (summer time), as in the seed's "07/09/2020 13:00-13:45".
const FUTURE = { startsAt: '2099-09-07T11:00:00Z', endsAt: '2099-09-07T11:45:00Z' };
const PAST = { startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
// started long ago, planned to end at 13:45 Paris on 07/09/2099: in progress, its end still ahead
const CURRENT = { startsAt: '2020-09-07T11:00:00Z', endsAt: '2099-09-07T11:45:00Z' };

describe('status per state (R-SE-3)', () => {
  test('open: no window, the live sessions are counted, logins accepted', async () => {
    await loginOk(gate, 'a');
    await loginOk(gate, 'b');
    const s = await status();
    expect(s).toEqual({ target: 'main', state: 'open', openSessions: 2, loginsRefused: false });
  });

  test('open again once the window is completed (R-MW-10) or cancelled (R-MW-12)', async () => {
    await setWindow(pool(), { ...PAST, state: 'completed' });
    expect((await status()).state).toBe('open');
    await setWindow(pool(), { ...PAST, state: 'cancelled' });
    expect((await status()).state).toBe('open');
  });

  test('announced: type, start, end and the R-MW-4 text', async () => {
    await setWindow(pool(), { ...FUTURE, type: 'database' });
    expect(await status()).toEqual({
      target: 'main',
      state: 'announced',
      type: 'database',
      start: '2099-09-07T11:00:00.000Z',
      end: '2099-09-07T11:45:00.000Z',
      message:
        'Une phase de maintenance de la base de données aura lieu entre le 07/09/2099 à 13:00 et le 07/09/2099 à 13:45. ISACOMPTA CONNECT sera donc indisponible durant cette période.',
      openSessions: 0,
      loginsRefused: false,
    });
  });

  test('closed from the start instant even while the row is still scheduled (R-MW-6), with the operator message', async () => {
    await setWindow(pool(), { ...CURRENT, state: 'scheduled', type: 'deployment', message: 'Passage en version 2020.3' });
    const s = await status({ 'accept-language': 'en-GB,en;q=0.9' });
    expect(s.state).toBe('closed');
    expect(s.loginsRefused).toBe(true);
    expect(s.message).toBe('A new version is being installed. Service will be available again on 07/09/2099 at 13:45.\nPassage en version 2020.3');
  });
});

describe('login (R-MW-4, R-MW-5, R-MW-6)', () => {
  test('R-MW-4 announced database window: 201 with the exact French text (French by default)', async () => {
    await setWindow(pool(), { ...FUTURE, type: 'database' });
    const res = await tryLogin();
    expect(res.status).toBe(201);
    const body = res.json<Record<string, string>>();
    expect(body.announcement).toBe(
      'Une phase de maintenance de la base de données aura lieu entre le 07/09/2099 à 13:00 et le 07/09/2099 à 13:45. ISACOMPTA CONNECT sera donc indisponible durant cette période.',
    );
    expect(body.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // only the token's digest is stored
    const { rows } = await pool().query('SELECT token_hash, user_name, client FROM nightshift.session WHERE id = $1', [body.sessionId]);
    expect(rows[0]).toMatchObject({ user_name: 'bob', client: 'poste-12' });
    expect(rows[0].token_hash).not.toContain(body.token);
  });

  test('R-MW-4 announced deployment window: exact French text, and English with Accept-Language: en', async () => {
    await setWindow(pool(), { ...FUTURE, type: 'deployment' });
    expect((await tryLogin()).json<Record<string, string>>().announcement).toBe(
      'Une nouvelle version sera installée entre le 07/09/2099 à 13:00 et le 07/09/2099 à 13:45. ISACOMPTA CONNECT sera donc suspendu durant cette période.',
    );
    expect((await tryLogin({ 'accept-language': 'en' })).json<Record<string, string>>().announcement).toBe(
      'A new version will be installed between 07/09/2099 at 13:00 and 07/09/2099 at 13:45. ISACOMPTA CONNECT will therefore be suspended during this period.',
    );
    expect((await tryLogin({ 'accept-language': 'de-DE, en;q=0.5' })).json<Record<string, string>>().announcement).toMatch(/^A new version/);
  });

  test('no announcement when no window is active', async () => {
    const res = await tryLogin();
    expect(res.status).toBe(201);
    expect(res.json()).not.toHaveProperty('announcement');
  });

  test.each([
    ['database', 'in_progress', 'Une phase de maintenance de la base de données est actuellement en cours. Le service sera à nouveau disponible le 07/09/2099 à 13:45.', 'A database maintenance is currently in progress. Service will be available again on 07/09/2099 at 13:45.'],
    ['deployment', 'in_progress', "Une nouvelle version est en cours d'installation. Le service sera à nouveau disponible le 07/09/2099 à 13:45.", 'A new version is being installed. Service will be available again on 07/09/2099 at 13:45.'],
    ['database', 'scheduled', 'Une phase de maintenance de la base de données est actuellement en cours. Le service sera à nouveau disponible le 07/09/2099 à 13:45.', 'A database maintenance is currently in progress. Service will be available again on 07/09/2099 at 13:45.'],
  ] as const)('R-MW-6 %s window %s past its start: 423 with the exact refusal, nothing inserted', async (type, state, fr, en) => {
    await setWindow(pool(), { ...CURRENT, type, state });
    const before = await pool().query('SELECT count(*)::int AS n FROM nightshift.session');
    const res = await tryLogin();
    expect(res.status).toBe(423);
    expect(res.json()).toEqual({ error: 'logins are refused', message: fr, end: '2099-09-07T11:45:00.000Z' });
    const resEn = await tryLogin({ 'accept-language': 'en-US' });
    expect(resEn.status).toBe(423);
    expect(resEn.json<{ message: string }>().message).toBe(en);
    const after = await pool().query('SELECT count(*)::int AS n FROM nightshift.session');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  test.each([
    ['database', 'Une phase de maintenance de la base de données est actuellement en cours. Le service sera à nouveau disponible dès la fin de la maintenance.', 'A database maintenance is currently in progress. Service will be available again once the maintenance is over.'],
    ['deployment', "Une nouvelle version est en cours d'installation. Le service sera à nouveau disponible dès la fin de la maintenance.", 'A new version is being installed. Service will be available again once the maintenance is over.'],
  ] as const)('R-MW-6, R-MW-10 %s window still closed past its planned end (failed until reopen, or overrunning): no past time promised', async (type, fr, en) => {
    await setWindow(pool(), { ...PAST, type, state: 'in_progress', message: 'Reprise des données' });
    const res = await tryLogin();
    expect(res.status).toBe(423);
    // `end` stays the planned end; only the text stops promising it
    expect(res.json()).toEqual({ error: 'logins are refused', message: `${fr}\nReprise des données`, end: '2020-09-07T11:45:00.000Z' });
    expect((await tryLogin({ 'accept-language': 'en' })).json<{ message: string }>().message).toBe(`${en}\nReprise des données`);
    const s = await status();
    expect(s).toMatchObject({ state: 'closed', loginsRefused: true, end: '2020-09-07T11:45:00.000Z', message: `${fr}\nReprise des données` });
    const page = await gate.call('GET', '/', { headers: { 'accept-language': 'fr' } });
    expect(page.text).toContain(`<p>${fr.replace(/'/g, '&#39;')}</p>`);
    expect(page.text).not.toContain('07/09/2020');
    const pageEn = await gate.call('GET', '/', { headers: { 'accept-language': 'en' } });
    expect(pageEn.text).toContain(`<p>${en}</p>`);
  });

  test('R-MW-5 early block: new logins refused with the block text, open sessions go on with the announcement', async () => {
    const existing = await loginOk(gate, 'carol');
    await setWindow(pool(), { ...FUTURE, type: 'database', preventLoginsFrom: minutesFromNow(-1) });
    const res = await tryLogin();
    expect(res.status).toBe(423);
    expect(res.json()).toEqual({
      error: 'logins are refused',
      message:
        "Les nouvelles connexions sont suspendues jusqu'à la fin de la maintenance. Une phase de maintenance de la base de données aura lieu entre le 07/09/2099 à 13:00 et le 07/09/2099 à 13:45. ISACOMPTA CONNECT sera donc indisponible durant cette période.",
      end: '2099-09-07T11:45:00.000Z',
    });
    const hb = await heartbeat(gate, existing);
    expect(hb.status).toBe(200);
    expect(hb.json()).toEqual({
      action: 'continue',
      message:
        'Une phase de maintenance de la base de données aura lieu entre le 07/09/2099 à 13:00 et le 07/09/2099 à 13:45. ISACOMPTA CONNECT sera donc indisponible durant cette période.',
    });
    const s = await status();
    expect(s).toMatchObject({ state: 'announced', loginsRefused: true, openSessions: 1 });
  });

  test('R-MW-5 a block time still ahead refuses nothing yet', async () => {
    await setWindow(pool(), { ...FUTURE, preventLoginsFrom: '2099-09-07T10:00:00Z' });
    expect((await tryLogin()).status).toBe(201);
    expect((await status()).loginsRefused).toBe(false);
  });

  test('the refusal in SQL (login) agrees with the domain rule (status.loginsRefused) in every state', async () => {
    const cases = [
      undefined,
      { ...FUTURE },
      { ...FUTURE, preventLoginsFrom: minutesFromNow(-1) },
      { ...FUTURE, preventLoginsFrom: minutesFromNow(30) },
      { ...PAST },
      { ...PAST, state: 'in_progress' as const },
      { ...PAST, state: 'completed' as const },
      { ...FUTURE, state: 'in_progress' as const },
      { ...FUTURE, state: 'cancelled' as const },
    ];
    for (const c of cases) {
      if (c) await setWindow(pool(), c);
      else await clearWindow(pool());
      const refused = (await status()).loginsRefused;
      const code = (await tryLogin()).status;
      expect({ c, code }).toEqual({ c, code: refused ? 423 : 201 });
    }
  });
});

describe('human page (seed 004 notice)', () => {
  test('shows the current notice, escaped, in the requested language', async () => {
    await setWindow(pool(), { ...FUTURE, message: '<script>alert(1)</script> & "co"' });
    const res = await gate.call('GET', '/', { headers: { 'accept-language': 'fr' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toContain('Une phase de maintenance de la base de données aura lieu entre le 07/09/2099 à 13:00');
    expect(res.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;co&quot;');
    expect(res.text).not.toContain('<script>');
    const en = await gate.call('GET', '/', { headers: { 'accept-language': 'en' } });
    expect(en.text).toContain('A database maintenance will take place between 07/09/2099 at 13:00');
  });

  test('R-SE-4 healthz is a liveness probe that says nothing; readyz gives details with a key only', async () => {
    const res = await gate.call('GET', '/healthz', { key: null });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    const ready = await gate.call('GET', '/readyz', { key: null });
    expect([ready.status, ready.json()]).toEqual([200, { ready: true }]);
    const detailed = await gate.call('GET', '/readyz');
    expect([detailed.status, detailed.json()]).toEqual([200, { ready: true, target: 'main', database: 'ok' }]);
  });

  test('R-SE-4 the public page names no target and shows no session count or database state', async () => {
    await setWindow(pool(), { ...FUTURE, message: 'note' });
    const res = await gate.call('GET', '/', { key: null });
    expect(res.status).toBe(200);
    expect(res.text).not.toMatch(/\bmain\b/);
    expect(res.text).not.toMatch(/database unreachable|injoignable|session/i);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

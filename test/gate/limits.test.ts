import net from 'node:net';
import crypto from 'node:crypto';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { startGate } from '../../gate/server';
import { purgeSessions } from '../../store/gate/purge-sessions';
import { createTestStack, type TestStack } from '../helpers/env';
import { auth, clearWindow, insertDossier, loginOk, minutesFromNow, setWindow, snapshot, startTestGate, testGateConfig, type Login, type TestGate } from './gate-helpers';

/**
 * R-SE-5 limits (login rate per address and per key, open sessions per key, open dossiers per session),
 * timeouts and the connection cap, the purge of old sessions; and fastify's own refusals answered as
 * {error, field} without echoing the input, with the security headers.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const gates: TestGate[] = [];

beforeAll(async () => {
  stack = await createTestStack();
  for (const code of ['D1', 'D2', 'D3']) await insertDossier(pool(), code);
});
afterAll(async () => {
  for (const g of gates) await g.close();
  await stack?.close();
});

async function gateWith(settings: Parameters<typeof startTestGate>[1]): Promise<TestGate> {
  const g = await startTestGate(stack, settings);
  gates.push(g);
  return g;
}

const login = (g: TestGate, user: string, key?: string, headers: Record<string, string> = {}) =>
  g.call('POST', '/v1/targets/main/sessions', { body: { user }, key, headers });

test('R-SE-5 logins per client address: over the limit 429 naming the address, Retry-After, no session inserted', async () => {
  const g = await gateWith({ loginRatePerAddress: 3 });
  for (let i = 0; i < 3; i++) expect((await login(g, `a${i}`)).status).toBe(201);
  const other = await issueKey(pool(), 'other-app');
  const before = await snapshot(pool());
  const refused = await login(g, 'a3');
  expect(refused.status).toBe(429);
  expect(refused.json()).toEqual({ error: expect.stringMatching(/too many logins on this target from this client address/), field: 'address' });
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  // another key from the same address is refused too: the limit is the address's
  expect((await login(g, 'a4', other.secret)).status).toBe(429);
  expect(await snapshot(pool())).toEqual(before);
});

test('R-MW-6 over R-SE-5: while a window refuses logins, a login over the address or key limit gets the maintenance refusal (423), not 429, and refused logins do not count: access back, logins are accepted at once (drill G)', async () => {
  const g = await gateWith({ loginRatePerAddress: 3, loginRatePerKey: 4 });
  await setWindow(pool(), { type: 'deployment', state: 'in_progress', startsAt: minutesFromNow(-5), endsAt: minutesFromNow(40) });
  try {
    const before = await snapshot(pool());
    for (let i = 0; i < 8; i++) {
      const res = await login(g, `w${i}`);
      expect(res.status).toBe(423);
      expect(res.json()).toMatchObject({ error: 'logins are refused', message: expect.stringMatching(/^Une nouvelle version est en cours d'installation/) });
    }
    expect(await snapshot(pool())).toEqual(before);
  } finally {
    await clearWindow(pool());
  }
  // the window over (read again after at most a second): its 8 refusals did not use the limits up
  await new Promise((r) => setTimeout(r, 1_100));
  for (let i = 0; i < 3; i++) expect((await login(g, `after${i}`)).status).toBe(201);
  expect((await login(g, 'after3')).status).toBe(429);
});

test('R-SE-5: a malformed login is refused (400) before it counts against the login limits (drill G)', async () => {
  const g = await gateWith({ loginRatePerAddress: 3 });
  for (let i = 0; i < 5; i++) {
    const bad = await g.call('POST', '/v1/targets/main/sessions', { body: { user: '' } });
    expect(bad.status).toBe(400);
  }
  for (let i = 0; i < 3; i++) expect((await login(g, `ok${i}`)).status).toBe(201);
  expect((await login(g, 'ok3')).status).toBe(429);
});

test('R-SE-5 logins per key: over the limit 429 naming the key header; another key goes on', async () => {
  const g = await gateWith({ loginRatePerKey: 2 });
  for (let i = 0; i < 2; i++) expect((await login(g, `k${i}`)).status).toBe(201);
  const before = await snapshot(pool());
  const refused = await login(g, 'k2');
  expect([refused.status, refused.json()]).toEqual([429, { error: expect.stringMatching(/too many logins with this API key/), field: KEY_HEADER }]);
  expect(await snapshot(pool())).toEqual(before);
  const other = await issueKey(pool(), 'second-app');
  expect((await login(g, 'k3', other.secret)).status).toBe(201);
  const metrics = await (await fetch(g.metricsAddress)).text();
  expect(metrics).toMatch(new RegExp(`nightshift_gate_limit_refusals_total\\{target="main",key_id="${g.keyId}",limit="login_rate_key"\\} 1`));
});

test('R-SE-5 open sessions per key: the login over the cap is 429 and inserts nothing; a logout frees a place', async () => {
  const g = await gateWith({ maxSessionsPerKey: 2 });
  const s1 = await loginOk(g, 'c1');
  await loginOk(g, 'c2');
  const before = await snapshot(pool());
  const refused = await login(g, 'c3');
  expect([refused.status, refused.json()]).toEqual([429, { error: expect.stringMatching(/already holds 2 open sessions/), field: KEY_HEADER }]);
  expect(await snapshot(pool())).toEqual(before);
  expect((await g.call('DELETE', `/v1/sessions/${s1.sessionId}`, { headers: auth(s1.token) })).status).toBe(200);
  expect((await login(g, 'c3')).status).toBe(201);
});

test('R-SE-5 open dossiers per session: the one over the cap is 409 naming the code; re-opening a held one is fine', async () => {
  const g = await gateWith({ maxDossiersPerSession: 2 });
  const s: Login = await loginOk(g, 'd');
  const open = (code: string) => g.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${code}`, { headers: auth(s.token) });
  expect((await open('D1')).status).toBe(200);
  expect((await open('D2')).status).toBe(200);
  const before = await snapshot(pool());
  const refused = await open('D3');
  expect([refused.status, refused.json()]).toEqual([409, { error: expect.stringMatching(/already holds 2 dossiers open/), field: 'code' }]);
  expect((await open('D1')).status).toBe(200);
  expect(await snapshot(pool())).toEqual(before);
});

/** Raw HTTP over a socket: what arrived and when the server closed it. */
function rawExchange(base: string, write: (socket: net.Socket) => void): Promise<{ text: string; closedAfterMs: number }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let text = '';
    const socket = net.connect(Number(url.port), url.hostname, () => write(socket));
    socket.on('data', (d) => (text += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    setTimeout(() => reject(new Error('the server kept the connection for 60 s')), 60_000).unref();
  });
}

test('a body sent one byte every 4 s is cut off at the request timeout (408 {error, field}), not kept open', async () => {
  const g = await gateWith({ requestTimeoutSeconds: 5 });
  const key = g.key;
  let timer: NodeJS.Timeout | undefined;
  const { text, closedAfterMs } = await rawExchange(g.base, (socket) => {
    socket.write(`POST /v1/targets/main/sessions HTTP/1.1\r\nHost: x\r\n${KEY_HEADER}: ${key}\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{`);
    timer = setInterval(() => socket.writable && socket.write(' '), 4000);
  });
  clearInterval(timer);
  expect(closedAfterMs).toBeGreaterThanOrEqual(4000);
  expect(closedAfterMs).toBeLessThan(5000 + 8000);
  expect(text).toMatch(/^HTTP\/1\.1 408 /);
  expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).toEqual({ error: expect.any(String), field: 'request' });
});

test('an answer given before the body it refuses has arrived (no key) closes the connection: one answer, not a 408 after it (gate drill)', async () => {
  const g = await gateWith({ requestTimeoutSeconds: 5 });
  const { text, closedAfterMs } = await rawExchange(g.base, (socket) => {
    // the body announced, never sent
    socket.write('POST /v1/targets/main/sessions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{');
  });
  expect(text).toMatch(/^HTTP\/1\.1 401 /);
  expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  expect(text).toMatch(/\r\nconnection: close\r\n/i);
  expect(closedAfterMs).toBeLessThan(3000);
  // a request whose body has arrived keeps its connection (keep-alive is not given up for every answer)
  const ok = await g.call('GET', '/healthz');
  expect(ok.status).toBe(200);
});

test('the connection cap: connections over NIGHTSHIFT_GATE_MAX_CONNECTIONS are dropped at once', async () => {
  const g = await gateWith({ maxConnections: 2 });
  const url = new URL(g.base);
  const held: net.Socket[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      held.push(await new Promise<net.Socket>((resolve) => { const s = net.connect(Number(url.port), url.hostname, () => resolve(s)); }));
    }
    await new Promise((r) => setTimeout(r, 200));
    const { text, closedAfterMs } = await rawExchange(g.base, (socket) => socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(text).toBe('');
    expect(closedAfterMs).toBeLessThan(3000);
  } finally {
    for (const s of held) s.destroy();
  }
  await new Promise((r) => setTimeout(r, 200));
  expect((await g.call('GET', '/healthz')).status).toBe(200);
});

test('R-SE-5 closed and expired sessions are purged after the retention, live ones never', async () => {
  const insert = (closedAgo: string | null, expiresIn: string) =>
    pool().query(
      `INSERT INTO nightshift.session (id, user_name, token_hash, expires_at, closed_at, close_reason)
       VALUES ($1, 'p', 'x', now() + $2::interval, now() - $3::interval, CASE WHEN $3::text IS NULL THEN NULL ELSE 'logout' END) RETURNING id`,
      [crypto.randomUUID(), expiresIn, closedAgo],
    ).then((r) => r.rows[0].id as string);
  const oldClosed = await insert('2 hours', '-2 hours');
  const oldExpired = await insert(null, '-3 hours');
  const recentClosed = await insert('10 minutes', '-10 minutes');
  const live = await insert(null, '1 hour');
  await pool().query(`INSERT INTO nightshift.session_dossier (session_id, dossier_code) VALUES ($1, 'D1')`, [oldClosed]);
  expect(await purgeSessions(pool(), 3600)).toBe(2);
  const { rows } = await pool().query('SELECT id FROM nightshift.session WHERE id = ANY($1::uuid[])', [[oldClosed, oldExpired, recentClosed, live]]);
  expect(rows.map((r) => r.id).sort()).toEqual([recentClosed, live].sort());
  expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.session_dossier WHERE session_id = $1', [oldClosed])).rows[0].n).toBe(0);

  // the gate's sweep runs it with NIGHTSHIFT_GATE_SESSION_RETENTION_DAYS
  const again = await insert('2 hours', '-2 hours');
  const gate = await startGate({ ...testGateConfig(stack.config, { sessionRetentionSeconds: 3600 }), sessionTimeoutSeconds: 5 }, stack.pools);
  try {
    const deadline = Date.now() + 20_000;
    let left = 1;
    while (left && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      left = (await pool().query('SELECT count(*)::int AS n FROM nightshift.session WHERE id = $1', [again])).rows[0].n;
    }
    expect(left).toBe(0);
    expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.session WHERE id = ANY($1::uuid[])', [[recentClosed, live]])).rows[0].n).toBe(2);
  } finally {
    await gate.close();
  }
});

describe("fastify's own refusals as {error, field}, without echoing the input, with the security headers", () => {
  let g: TestGate;
  let alice: Login;
  beforeAll(async () => {
    g = await gateWith({});
    alice = await loginOk(g, 'alice');
  });

  const MARK = 'ECHO<script>x</script>';
  const cases = () => [
    { name: '414 long param', method: 'GET', path: `/v1/targets/${'E'.repeat(300)}/status`, status: 414, field: 'url' },
    { name: '400 bad percent-encoding', method: 'GET', path: `/v1/targets/%E0%A4%A/status?q=${encodeURIComponent(MARK)}`, status: 400, field: 'url' },
    { name: '413 big body', method: 'POST', path: '/v1/targets/main/sessions', raw: JSON.stringify({ user: MARK, client: 'x'.repeat(20_000) }), headers: { 'content-type': 'application/json' }, status: 413, field: 'body' },
    { name: '415 content type', method: 'POST', path: '/v1/targets/main/sessions', raw: MARK, headers: { 'content-type': `text/${'x'.repeat(10)}+${encodeURIComponent(MARK)}` }, status: 415, field: 'content-type' },
    { name: '400 malformed JSON', method: 'POST', path: '/v1/targets/main/sessions', raw: `{"user": ${MARK}}`, headers: { 'content-type': 'application/json' }, status: 400, field: 'body' },
    { name: '400 JSON of other type', method: 'POST', path: '/v1/targets/main/sessions', raw: `"${MARK}"`, headers: { 'content-type': 'application/json' }, status: 400, field: 'body' },
    { name: '404 unknown path', method: 'GET', path: `/v1/${encodeURIComponent(MARK)}`, status: 404, field: 'url' },
    { name: '404 wrong method', method: 'PUT', path: '/v1/targets/main/status', raw: MARK, status: 404, field: 'url' },
    { name: '400 bad session id', method: 'POST', path: `/v1/sessions/${encodeURIComponent(MARK)}/heartbeat`, headers: auth(alice.token), status: 400, field: 'id' },
  ];

  test('each refusal: status, {error, field}, no echo, no-store and helmet headers, nothing changed', async () => {
    const before = await snapshot(pool());
    for (const c of cases()) {
      const res = await g.call(c.method, c.path, { headers: c.headers, raw: c.raw });
      expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: c.status });
      expect({ name: c.name, body: res.json() }).toEqual({ name: c.name, body: { error: expect.any(String), field: c.field } });
      expect({ name: c.name, echo: /ECHO|script|EEEEE|xxxxx/.test(res.text) }).toEqual({ name: c.name, echo: false });
      expect({ name: c.name, cc: res.headers.get('cache-control'), nosniff: res.headers.get('x-content-type-options') }).toEqual({ name: c.name, cc: 'no-store', nosniff: 'nosniff' });
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      // helmet's others too, also on the answers written outside fastify's hooks (drill G: 414 and 400 malformed URL had three)
      expect({ name: c.name, frame: res.headers.get('x-frame-options'), referrer: res.headers.get('referrer-policy'), corp: res.headers.get('cross-origin-resource-policy') }).toEqual({
        name: c.name,
        frame: 'SAMEORIGIN',
        referrer: 'no-referrer',
        corp: 'same-origin',
      });
    }
    expect(await snapshot(pool())).toEqual(before);
  });

  test('431 headers too large and 400 malformed HTTP: raw answers, JSON, no echo, connection closed', async () => {
    const before = await snapshot(pool());
    const huge = await rawExchange(g.base, (s) => s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${MARK}${'A'.repeat(40_000)}\r\n\r\n`));
    expect(huge.text).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge.text).toMatch(/\r\nx-frame-options: SAMEORIGIN\r\n/);
    expect(huge.text).toMatch(/\r\nreferrer-policy: no-referrer\r\n/);
    const garbage = await rawExchange(g.base, (s) => s.write(`${MARK} \u0000\r\n\r\n`));
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400 /);
    for (const r of [huge, garbage]) {
      expect(r.text).not.toMatch(/ECHO|script|AAAA/);
      expect(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4))).toEqual({ error: expect.any(String), field: expect.any(String) });
      expect(r.text.toLowerCase()).toContain('cache-control: no-store');
    }
    expect(await snapshot(pool())).toEqual(before);
  });

  test('the login answer (it carries the token) is no-store, with helmet headers', async () => {
    const res = await login(g, 'bob');
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    for (const h of ['x-content-type-options', 'x-frame-options', 'content-security-policy', 'referrer-policy']) expect({ h, v: res.headers.get(h) }).toEqual({ h, v: expect.any(String) });
  });
});

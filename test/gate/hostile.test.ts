import http from 'node:http';
import crypto from 'node:crypto';
import { createTestStack, type TestStack } from '../helpers/env';
import { auth, insertDossier, loginOk, snapshot, startTestGate, type Login, type TestGate } from './gate-helpers';

/**
 * Hostile input on every route: each request gets a clear 4xx with a JSON {error, field?} and changes
 * nothing (every row the gate can write is compared before and after).
 */

let stack: TestStack;
let gate: TestGate;
let alice: Login;
let bob: Login;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack();
  gate = await startTestGate(stack);
  await insertDossier(pool(), 'ACME');
  alice = await loginOk(gate, 'alice');
  bob = await loginOk(gate, 'bob');
  await gate.call('POST', `/v1/sessions/${alice.sessionId}/dossiers/ACME`, { headers: auth(alice.token) });
});
afterAll(async () => {
  await gate?.close();
  await stack?.close();
});

interface Case {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  raw?: string;
  status: number;
  field?: string;
  /** the whole error text, when the case is about what the answer says */
  error?: string;
  /** a text the answer must not contain (the caller's input) */
  notEchoed?: string;
}

const forged = () => crypto.randomBytes(32).toString('base64url');
const big = 'x'.repeat(100 * 1024);

async function expectRefusedWithoutChange(cases: Case[]): Promise<void> {
  const before = await snapshot(pool());
  for (const c of cases) {
    const res = await gate.call(c.method, c.path, { headers: c.headers, body: c.body, raw: c.raw });
    const body = res.json<{ error?: unknown; field?: unknown }>();
    expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: c.status });
    expect(typeof body.error).toBe('string');
    if (c.field) expect({ name: c.name, field: body.field }).toEqual({ name: c.name, field: c.field });
    if (c.error) expect({ name: c.name, error: body.error }).toEqual({ name: c.name, error: c.error });
    if (c.notEchoed) expect(res.text).not.toContain(c.notEchoed);
  }
  expect(await snapshot(pool())).toEqual(before);
}

test('status: unknown or malformed targets are 403 (not this key\'s target), an oversized Accept-Language is 400', async () => {
  await expectRefusedWithoutChange([
    // R-SE-4: a key sees its own target only: any other name is 403, whether it exists or not
    { name: 'unknown target', method: 'GET', path: '/v1/targets/nope/status', status: 403, field: 'target' },
    { name: 'upper-case target', method: 'GET', path: '/v1/targets/MAIN/status', status: 403, field: 'target' },
    { name: 'dot-dot target', method: 'GET', path: '/v1/targets/..%2F..%2Fetc/status', status: 403 },
    { name: 'quote target', method: 'GET', path: "/v1/targets/main'%3B--/status", status: 403 },
    { name: 'very long target', method: 'GET', path: `/v1/targets/${'a'.repeat(300)}/status`, status: 414 },
    { name: 'huge accept-language', method: 'GET', path: '/v1/targets/main/status', headers: { 'accept-language': 'fr,'.repeat(300) }, status: 400, field: 'accept-language' },
  ]);
});

test('login: wrong types, control characters, unknown fields, huge and malformed bodies', async () => {
  const url = '/v1/targets/main/sessions';
  await expectRefusedWithoutChange([
    { name: 'no body', method: 'POST', path: url, status: 400, field: 'body' },
    { name: 'string body', method: 'POST', path: url, body: 'alice', status: 400, field: 'body' },
    { name: 'array body', method: 'POST', path: url, body: [{ user: 'a' }], status: 400, field: 'body' },
    { name: 'null body', method: 'POST', path: url, body: null, status: 400, field: 'body' },
    { name: 'number user', method: 'POST', path: url, body: { user: 42 }, status: 400, field: 'user' },
    { name: 'object user', method: 'POST', path: url, body: { user: { $ne: '' } }, status: 400, field: 'user' },
    { name: 'empty user', method: 'POST', path: url, body: { user: '   ' }, status: 400, field: 'user' },
    { name: 'NUL in user', method: 'POST', path: url, body: { user: 'ali\u0000ce' }, status: 400, field: 'user' },
    { name: 'newline in user', method: 'POST', path: url, body: { user: 'alice\nroot' }, status: 400, field: 'user' },
    { name: '101-char user', method: 'POST', path: url, body: { user: 'u'.repeat(101) }, status: 400, field: 'user' },
    { name: 'number client', method: 'POST', path: url, body: { user: 'a', client: 7 }, status: 400, field: 'client' },
    { name: '201-char client', method: 'POST', path: url, body: { user: 'a', client: 'c'.repeat(201) }, status: 400, field: 'client' },
    // an unknown field's name is never repeated (it is the caller's input): the answer names the body
    { name: 'unknown field', method: 'POST', path: url, body: { user: 'a', admin: true }, status: 400, field: 'body' },
    { name: 'markup field', method: 'POST', path: url, body: { user: 'a', '<script>alert(1)</script>nsk_SECRET': 1 }, status: 400, field: 'body', notEchoed: 'nsk_SECRET' },
    { name: 'JSON as text/plain', method: 'POST', path: url, raw: '{"user":"tp"}', headers: { 'content-type': 'text/plain' }, status: 415 },
    { name: 'proto pollution', method: 'POST', path: url, raw: '{"user":"a","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', error: PROTOTYPE_KEY },
    { name: 'constructor pollution', method: 'POST', path: url, raw: '{"user":"a","constructor":{"prototype":{"admin":true}}}', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', error: PROTOTYPE_KEY },
    { name: 'malformed JSON with __proto__', method: 'POST', path: url, raw: '{"__proto__":{}', headers: { 'content-type': 'application/json' }, status: 400, field: 'body', error: 'malformed JSON body' },
    { name: 'malformed JSON', method: 'POST', path: url, raw: '{"user":', headers: { 'content-type': 'application/json' }, status: 400, field: 'body' },
    { name: '100 KB body', method: 'POST', path: url, body: { user: 'a', client: big }, status: 413, field: 'body' },
    { name: 'text body', method: 'POST', path: url, raw: 'user=a', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
    // drill G: a gzipped body was called "malformed JSON"; the encoding is named
    { name: 'gzip body', method: 'POST', path: url, raw: '\u001f\u008b', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, status: 415, field: 'content-encoding', error: 'unsupported Content-Encoding: send the JSON body uncompressed' },
    { name: 'unknown target', method: 'POST', path: '/v1/targets/other/sessions', body: { user: 'a' }, status: 403, field: 'target' },
  ]);
});

const PROTOTYPE_KEY = 'a JSON body with a __proto__ or constructor.prototype key is refused';
const BIDI = 'cannot hold bidirectional control characters or line separators (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, U+2028, U+2029)';

test('login: invisible, reordering or broken user names and client descriptions (Trojan Source, lone surrogates)', async () => {
  const url = '/v1/targets/main/sessions';
  const user = (name: string, value: string, error: string): Case => ({ name, method: 'POST', path: url, body: { user: value }, status: 400, field: 'user', error });
  const client = (name: string, value: string, error: string): Case => ({ name, method: 'POST', path: url, body: { user: 'a', client: value }, status: 400, field: 'client', error });
  await expectRefusedWithoutChange([
    user('zero-width space', '\u200b', 'a user name is required'),
    user('soft hyphen', '\u00ad', 'a user name is required'),
    user('format characters and spaces', ' \u200b\u2060\ufeff\u200d ', 'a user name is required'),
    // drill G: nothing visible either, though not format characters
    user('Hangul filler', '\u3164', 'a user name is required'),
    user('blank braille pattern', '\u2800', 'a user name is required'),
    user('a combining accent alone', '\u0301', 'a user name is required'),
    user('a variation selector alone', '\ufe0f', 'a user name is required'),
    user('isolate', '\u2066x', `a user name ${BIDI}`),
    user('right-to-left override', '\u202eevil', `a user name ${BIDI}`),
    user('pop directional isolate', 'ali\u2069ce', `a user name ${BIDI}`),
    // gate drill: the bidirectional marks turn the text too, the line separator breaks a listing's line
    user('Arabic letter mark', 'a\u061cb', `a user name ${BIDI}`),
    user('right-to-left mark', 'ali\u200fce', `a user name ${BIDI}`),
    user('line separator', 'ali\u2028ce', `a user name ${BIDI}`),
    client('client paragraph separator', 'desk\u202912', `a client description ${BIDI}`),
    // JSON.stringify writes a lone surrogate as the escape \ud800: the body is valid JSON
    user('lone high surrogate', '\ud800', 'a user name must be well-formed Unicode (no lone surrogate)'),
    user('lone low surrogate', 'al\udc00ice', 'a user name must be well-formed Unicode (no lone surrogate)'),
    client('client override', 'desk\u202e21', `a client description ${BIDI}`),
    client('client embedding', '\u202adesk', `a client description ${BIDI}`),
    client('client lone surrogate', 'desk\udbff', 'a client description must be well-formed Unicode (no lone surrogate)'),
  ]);
  // what stays accepted: letters of any script, an emoji (a surrogate pair), a joiner between visible characters
  for (const name of ['Zoë', 'Zoe\u0308', 'محمد', '山田', 'ok 👍', '👍\ufe0f', 'a\u200db']) {
    const res = await gate.call('POST', url, { body: { user: name, client: 'desk 12' } });
    expect({ name, status: res.status }).toEqual({ name, status: 201 });
    const { rows } = await pool().query('SELECT user_name FROM nightshift.session WHERE id = $1', [res.json<Login>().sessionId]);
    expect(rows[0].user_name).toBe(name);
  }
});

test('session routes take no body, or {}: unknown fields, arrays and other JSON are refused as on login', async () => {
  const cases: Case[] = [];
  const routes = [
    ['POST', `/v1/sessions/${alice.sessionId}/heartbeat`],
    ['DELETE', `/v1/sessions/${alice.sessionId}`],
    ['POST', `/v1/sessions/${alice.sessionId}/dossiers/ACME`],
    ['DELETE', `/v1/sessions/${alice.sessionId}/dossiers/ACME`],
  ] as const;
  for (const [method, path] of routes) {
    const headers = auth(alice.token);
    cases.push(
      { name: `${method} ${path} unknown field`, method, path, headers, body: { x: 1 }, status: 400, field: 'body', error: 'unknown field: expected no body, or an empty JSON object {}' },
      { name: `${method} ${path} reason`, method, path, headers, body: { reason: 'x' }, status: 400, field: 'body' },
      { name: `${method} ${path} array`, method, path, headers, body: [], status: 400, field: 'body', error: 'expected no body, or an empty JSON object {}' },
      { name: `${method} ${path} null`, method, path, headers, body: null, status: 400, field: 'body' },
      { name: `${method} ${path} string`, method, path, headers, body: 'x', status: 400, field: 'body' },
      { name: `${method} ${path} proto`, method, path, headers: { ...headers, 'content-type': 'application/json' }, raw: '{"__proto__":{"x":1}}', status: 400, field: 'body', error: PROTOTYPE_KEY },
    );
  }
  await expectRefusedWithoutChange(cases);
  // no body, or an empty object, is fine
  expect((await gate.call('POST', `/v1/sessions/${bob.sessionId}/heartbeat`, { headers: auth(bob.token) })).status).toBe(200);
  expect((await gate.call('POST', `/v1/sessions/${bob.sessionId}/heartbeat`, { headers: auth(bob.token), body: {} })).status).toBe(200);
  expect((await gate.call('POST', `/v1/sessions/${bob.sessionId}/dossiers/ACME`, { headers: auth(bob.token), body: {} })).status).toBe(200);
  expect((await gate.call('DELETE', `/v1/sessions/${bob.sessionId}/dossiers/ACME`, { headers: auth(bob.token), body: {} })).status).toBe(200);
});

test('session ids: any 8-4-4-4-12 hexadecimal uuid is an id (404 when unknown, in any case), anything else is 400', async () => {
  const cases: Case[] = [];
  for (const [method, suffix] of [['POST', '/heartbeat'], ['DELETE', ''], ['POST', '/dossiers/ACME']] as const) {
    const at = (id: string) => `/v1/sessions/${id}${suffix}`;
    const headers = auth(alice.token);
    for (const id of ['11111111-1111-1111-1111-111111111111', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', crypto.randomUUID().toUpperCase(), 'abcdef01-2345-f789-0abc-def012345678']) {
      cases.push({ name: `${method} ${id}`, method, path: at(id), headers, status: 404, field: 'id', error: 'unknown session' });
    }
    const malformed = [
      '{11111111-1111-1111-1111-111111111111}',
      '11111111111111111111111111111111',
      '11111111-1111-1111-1111-11111111111g',
      '11111111-1111-1111-1111-1111111111111',
      'urn:uuid:11111111-1111-1111-1111-111111111111',
      '%2011111111-1111-1111-1111-111111111111',
    ];
    for (const id of malformed) cases.push({ name: `${method} ${id}`, method, path: at(id), headers, status: 400, field: 'id', error: 'expected a session id (uuid)' });
  }
  await expectRefusedWithoutChange(cases);
  // an upper-case id is the same session (the heartbeat batch matches ids as the database writes them)
  const hb = await gate.call('POST', `/v1/sessions/${alice.sessionId.toUpperCase()}/heartbeat`, { headers: auth(alice.token) });
  expect([hb.status, hb.json()]).toEqual([200, { action: 'continue' }]);
});

test('heartbeat and logout: forged, missing, malformed and borrowed tokens; unknown and non-uuid ids', async () => {
  const cases: Case[] = [];
  for (const [method, suffix] of [['POST', '/heartbeat'], ['DELETE', '']] as const) {
    const at = (id: string) => `/v1/sessions/${id}${suffix}`;
    cases.push(
      { name: `${method} non-uuid id`, method, path: at('abc'), headers: auth(alice.token), status: 400, field: 'id' },
      { name: `${method} sql in id`, method, path: at("1'%20OR%20'1'%3D'1"), headers: auth(alice.token), status: 400, field: 'id' },
      { name: `${method} unknown id`, method, path: at(crypto.randomUUID()), headers: auth(alice.token), status: 404, field: 'id' },
      { name: `${method} missing token`, method, path: at(alice.sessionId), status: 401, field: 'authorization' },
      { name: `${method} basic auth`, method, path: at(alice.sessionId), headers: { authorization: `Basic ${alice.token}` }, status: 401, field: 'authorization' },
      { name: `${method} short token`, method, path: at(alice.sessionId), headers: auth(alice.token.slice(1)), status: 401, field: 'authorization' },
      { name: `${method} forged token`, method, path: at(alice.sessionId), headers: auth(forged()), status: 401, field: 'authorization' },
      { name: `${method} other session's token`, method, path: at(alice.sessionId), headers: auth(bob.token), status: 401, field: 'authorization' },
    );
  }
  cases.push({ name: 'heartbeat with a 100 KB body', method: 'POST', path: `/v1/sessions/${alice.sessionId}/heartbeat`, headers: auth(alice.token), body: { pad: big }, status: 413 });
  await expectRefusedWithoutChange(cases);
});

test("dossiers: '../' codes, long codes, unknown dossiers, borrowed tokens", async () => {
  const cases: Case[] = [];
  for (const method of ['POST', 'DELETE']) {
    const at = (code: string, id = alice.sessionId) => `/v1/sessions/${id}/dossiers/${code}`;
    cases.push(
      { name: `${method} dot-dot code`, method, path: at('..%2F..%2Fetc'), headers: auth(alice.token), status: 400, field: 'code' },
      // (a bare '..' segment is resolved by fetch itself: see the raw request below)
      { name: `${method} dots code`, method, path: at('...'), headers: auth(alice.token), status: 400, field: 'code' },
      { name: `${method} NUL in code`, method, path: at('AC%00ME'), headers: auth(alice.token), status: 400, field: 'code' },
      { name: `${method} quote in code`, method, path: at("ACME'--"), headers: auth(alice.token), status: 400, field: 'code' },
      { name: `${method} 41-char code`, method, path: at('A'.repeat(41)), headers: auth(alice.token), status: 400, field: 'code' },
      { name: `${method} unknown dossier, borrowed token`, method, path: at('ZZZ'), headers: auth(bob.token), status: 401, field: 'authorization' },
      { name: `${method} non-uuid session`, method, path: at('ACME', 'nope'), headers: auth(alice.token), status: 400, field: 'id' },
      { name: `${method} other session's token`, method, path: at('ACME'), headers: auth(bob.token), status: 401, field: 'authorization' },
      { name: `${method} forged token`, method, path: at('ACME'), headers: auth(forged()), status: 401, field: 'authorization' },
      { name: `${method} unknown session`, method, path: at('ACME', crypto.randomUUID()), headers: auth(alice.token), status: 404, field: 'id' },
    );
  }
  // bob's own session, a dossier that does not exist: 404, and bob opens nothing
  cases.push({ name: 'open unknown dossier', method: 'POST', path: `/v1/sessions/${bob.sessionId}/dossiers/ZZZ`, headers: auth(bob.token), status: 404, field: 'code' });
  await expectRefusedWithoutChange(cases);
});

test("a raw '../' path (not normalised by a client) reaches no route", async () => {
  const before = await snapshot(pool());
  const url = new URL(gate.base);
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, method: 'POST', path: `/v1/sessions/${alice.sessionId}/dossiers/../../../targets/main/sessions`, headers: auth(alice.token) },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
  expect(status).toBeGreaterThanOrEqual(400);
  expect(status).toBeLessThan(500);
  expect(await snapshot(pool())).toEqual(before);
});

test('unknown routes are JSON 404s', async () => {
  const res = await gate.call('GET', '/v1/admin');
  expect(res.status).toBe(404);
  expect(res.json()).toEqual({ error: 'not found', field: 'url' });
  expect((await gate.call('GET', '/nothing-here', { key: null })).status).toBe(404);
});

test('R-SE-4 an unknown /v1 route or method tells a caller without a valid key nothing: 401 as every /v1 route', async () => {
  for (const [method, path] of [
    ['GET', '/v1/admin'],
    ['GET', '/v1'],
    ['GET', '/v1/?x=1'],
    ['PUT', '/v1/targets/main/status'],
    ['DELETE', '/v1/targets/main/sessions'],
  ] as const) {
    for (const key of [null, 'nsk_not-a-key', `${gate.key}x`]) {
      const res = await gate.call(method, path, { key });
      expect({ method, path, key: key === null ? 'none' : 'bad', status: res.status, field: res.json<{ field: string }>().field }).toEqual({
        method,
        path,
        key: key === null ? 'none' : 'bad',
        status: 401,
        field: 'x-nightshift-key',
      });
      expect(res.text).not.toContain(gate.key);
    }
    expect((await gate.call(method, path)).status).toBe(404);
  }
});

test('a GET with a body is refused (400, field body; drill of 2026-12-06: it answered 200), without one it answers', async () => {
  const url = new URL(gate.base);
  const get = (body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const headers: Record<string, string> = { 'x-nightshift-key': gate.key, ...(body !== undefined && { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }) };
      const req = http.request({ host: url.hostname, port: url.port, method: 'GET', path: '/v1/targets/main/status', headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const refused = await get('{"a":1}');
  expect(refused.status).toBe(400);
  expect(JSON.parse(refused.text)).toEqual({ error: 'a GET takes no body', field: 'body' });
  expect((await get()).status).toBe(200);
});

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
    { name: 'proto pollution', method: 'POST', path: url, raw: '{"user":"a","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' }, status: 400 },
    { name: 'malformed JSON', method: 'POST', path: url, raw: '{"user":', headers: { 'content-type': 'application/json' }, status: 400, field: 'body' },
    { name: '100 KB body', method: 'POST', path: url, body: { user: 'a', client: big }, status: 413, field: 'body' },
    { name: 'text body', method: 'POST', path: url, raw: 'user=a', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
    { name: 'unknown target', method: 'POST', path: '/v1/targets/other/sessions', body: { user: 'a' }, status: 403, field: 'target' },
  ]);
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
});

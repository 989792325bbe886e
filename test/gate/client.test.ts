import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GateClient, GateClientError } from '../../gate/client';
import { selfSignedCertificate } from '../helpers/tls';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';
import { clearWindow, insertDossier, minutesFromNow, setWindow, snapshot, startTestGate, type TestGate } from './gate-helpers';

/**
 * gate/client.ts, the typed client a Node business application imports, against a real gate over HTTP
 * and HTTPS: every method's typed answer, every refusal as a GateClientError with its status, error and
 * field, and values that cannot escape their path segment.
 */

let stack: TestStack;
let gate: TestGate;
let client: GateClient;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack({ NIGHTSHIFT_TIMEZONE: 'Europe/Paris' });
  gate = await startTestGate(stack);
  client = new GateClient({ baseUrl: gate.base, apiKey: gate.key, locale: 'en' });
  await insertDossier(pool(), 'ACME');
});
afterAll(async () => {
  client?.close();
  await gate?.close();
  await stack?.close();
});
beforeEach(() => clearWindow(pool()));

/** The GateClientError a call is refused with. */
async function refusal(call: Promise<unknown>): Promise<GateClientError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof GateClientError) return err;
    throw err;
  }
  throw new Error('the call was not refused');
}

test('R-SE-1 R-SE-2 R-SE-3: status, login, heartbeat, open / close a dossier, a backup event that is off, logout: each answer typed from the contract', async () => {
  expect(await client.status('main')).toEqual({ target: 'main', state: 'open', openSessions: 0, loginsRefused: false });
  const session = await client.login('main', { user: 'alice', client: 'desk-12' });
  expect(session).toEqual({ sessionId: expect.any(String), token: expect.any(String), expiresAt: expect.any(String), heartbeatSeconds: 20 });
  expect(await client.heartbeat(session)).toEqual({ action: 'continue' });
  expect(await client.openDossier(session, 'ACME')).toEqual({ dossier: 'ACME', open: true });
  expect(await client.closeDossier(session, 'ACME')).toEqual({ dossier: 'ACME', open: false });
  // on-exit is "never" by default (R-BK-9): nothing starts, Temporal is not needed
  expect(await client.backupDossier(session, 'ACME', 'exit')).toMatchObject({ triggered: false, reason: 'disabled', dossier: 'ACME', setting: { key: 'on-exit', value: 'never' } });
  expect(await client.ready()).toEqual({ ready: true, target: 'main', database: 'ok' });
  expect(await client.logout(session)).toEqual({ closed: true, reason: 'logout' });
  expect((await client.status('main')).openSessions).toBe(0);
});

test('R-MW-4 R-MW-7: the announcement and the close order come typed, in the client locale', async () => {
  const session = await client.login('main', { user: 'bob' });
  await setWindow(pool(), { startsAt: minutesFromNow(60), endsAt: minutesFromNow(90) });
  const announced = await client.heartbeat(session);
  expect(announced.action).toBe('continue');
  expect(announced.message).toMatch(/^A database maintenance will take place between/);
  await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(30) });
  const order = await client.heartbeat(session);
  if (order.action !== 'close') throw new Error(`expected a close order, got ${JSON.stringify(order)}`);
  expect(Date.parse(order.closeBy) - Date.now()).toBeGreaterThan(5_000);
  expect(await client.logout(session)).toEqual({ closed: true, reason: 'acknowledged' });
});

test('R-MW-6: a refused login is a GateClientError 423 carrying the text to show', async () => {
  await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(30), state: 'in_progress' });
  const e = await refusal(client.login('main', { user: 'carol' }));
  expect(e).toMatchObject({ status: 423, error: 'logins are refused' });
  expect(e.body.message).toMatch(/^A database maintenance is currently in progress/);
  expect(typeof e.body.end).toBe('string');
});

test('R-SE-4: a wrong key, a wrong session token, a closed session and an unknown dossier are GateClientErrors with status and field; nothing changed', async () => {
  const session = await client.login('main', { user: 'dave' });
  const before = await snapshot(pool());
  const stranger = new GateClient({ baseUrl: gate.base, apiKey: `nsk_${'A'.repeat(43)}` });
  try {
    expect(await refusal(stranger.login('main', { user: 'eve' }))).toMatchObject({ status: 401, field: 'x-nightshift-key' });
    expect(await refusal(stranger.heartbeat(session))).toMatchObject({ status: 401, field: 'x-nightshift-key' });
  } finally {
    stranger.close();
  }
  expect(await refusal(client.heartbeat({ sessionId: session.sessionId, token: 'x'.repeat(43) }))).toMatchObject({ status: 401, field: 'authorization' });
  expect(await refusal(client.openDossier(session, 'NOPE'))).toMatchObject({ status: 404, field: 'code' });
  expect(await snapshot(pool())).toBe(before);
  await client.logout(session);
  expect(await refusal(client.heartbeat(session))).toMatchObject({ status: 404, error: 'session closed or expired' });
});

test('a code or an id cannot leave its path segment: "../x" and "a/b" reach the gate encoded and are refused as malformed', async () => {
  const session = await client.login('main', { user: 'frank' });
  expect(await refusal(client.openDossier(session, '../ACME'))).toMatchObject({ status: 400, field: 'code' });
  expect(await refusal(client.closeDossier(session, 'ACME/backup'))).toMatchObject({ status: 400, field: 'code' });
  expect(await refusal(client.heartbeat({ sessionId: '../../targets/main/status', token: session.token }))).toMatchObject({ status: 400, field: 'id' });
  await client.logout(session);
});

test('an answer outside the contract is refused by the client, not handed over', async () => {
  const fake = http.createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ action: 'dance' }));
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const c = new GateClient({ baseUrl: `http://127.0.0.1:${(fake.address() as AddressInfo).port}`, apiKey: gate.key });
  try {
    const e = await refusal(c.heartbeat({ sessionId: '00000000-0000-4000-8000-000000000000', token: 'x'.repeat(43) }));
    expect(e).toMatchObject({ status: 200, error: 'an answer outside the contract of heartbeat', body: { action: 'dance' } });
  } finally {
    c.close();
    await new Promise((resolve) => fake.close(resolve));
  }
});

test('HTTPS: the client trusts the gate through the CA it is given, and refuses the gate without it', async () => {
  const { cert, key } = selfSignedCertificate(tempDir('tls'));
  const tlsGate = await startTestGate(stack, { tls: { certPath: cert, keyPath: key } });
  const trusting = new GateClient({ baseUrl: tlsGate.base, apiKey: tlsGate.key, ca: fs.readFileSync(cert) });
  const untrusting = new GateClient({ baseUrl: tlsGate.base, apiKey: tlsGate.key });
  try {
    expect(tlsGate.base).toMatch(/^https:/);
    const session = await trusting.login('main', { user: 'grace' });
    expect(await trusting.heartbeat(session)).toEqual({ action: 'continue' });
    await trusting.logout(session);
    await expect(untrusting.status('main')).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  } finally {
    trusting.close();
    untrusting.close();
    await tlsGate.close();
  }
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { BACKUP_EVENTS, backupTriggerWorkflowId, type BackupDossierResult } from '../../workflows/backup-dossier.api';
import { DOSSIER_IN_USE_MESSAGE } from '../../domain/failures';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { createDossiers, setCommon } from '../workflows/backup-batch-helpers';
import { auth, freePort, heartbeat, loginOk, snapshot, startTestGate, type Login, type TestGate } from './gate-helpers';

/**
 * R-BK-9 single-dossier backups on an event through the gate: POST /v1/sessions/:id/dossiers/:code/backup
 * {event}, and the backup on dossier exit when a session closes a dossier. A real gate over HTTP, the
 * suite's Temporal dev server and a worker of this process; the archives are read on disk.
 */

let stack: TestStack;
let gate: TestGate;
let temporal: Awaited<ReturnType<typeof devServerClient>>;
const pool = () => stack.pools.get('main');
// the dev server is shared by every test file: codes unique to this run keep workflow ids apart
const tag = crypto.randomBytes(3).toString('hex').toUpperCase();
const code = (name: string) => `GT${tag}${name}`;

beforeAll(async () => {
  quietRuntime();
  stack = await createTestStack();
  temporal = await devServerClient();
  gate = await startTestGate(stack);
});
afterAll(async () => {
  await gate?.close();
  await temporal?.close();
  await stack?.close();
});

const trigger = (s: Login, dossier: string, body: unknown) =>
  gate.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${dossier}/backup`, { headers: auth(s.token), body });
const open = (s: Login, dossier: string) => gate.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${dossier}`, { headers: auth(s.token) });
const close = (s: Login, dossier: string) => gate.call('DELETE', `/v1/sessions/${s.sessionId}/dossiers/${dossier}`, { headers: auth(s.token) });

async function workflowExists(id: string): Promise<boolean> {
  return temporal.client.workflow
    .getHandle(id)
    .describe()
    .then(() => true, (err: unknown) => (err instanceof WorkflowNotFoundError ? false : Promise.reject(err)));
}

async function noBackupStarted(dossier: string): Promise<void> {
  for (const event of BACKUP_EVENTS) expect({ event, exists: await workflowExists(backupTriggerWorkflowId('main', dossier, event)) }).toEqual({ event, exists: false });
}

/** Every archive file under the backup folder, relative to it. */
/** The archives in the seed's layout (B{code}.SVG); each one's generation file below generations/ is the same file (R-BK-11). */
function archives(): string[] {
  const dir = stack.config.backupDir;
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.SVG') && !f.split(path.sep).includes('generations')).sort();
}

async function result(body: Record<string, unknown>): Promise<BackupDossierResult> {
  return temporal.client.workflow.getHandle(String(body.workflowId), String(body.runId)).result() as Promise<BackupDossierResult>;
}

test('R-BK-9 R-BK-5: provider-exchange writes EchangePrest/B{code}.SVG and closing writes Cloture/B{code}.SVG (202 with the workflow id)', async () => {
  const d = code('A');
  await createDossiers(stack, [{ code: d }]);
  const alice = await loginOk(gate, 'alice');
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  await worker.runUntil(async () => {
    for (const [event, folder] of [['provider-exchange', 'EchangePrest'], ['closing', 'Cloture']] as const) {
      const res = await trigger(alice, d, { event });
      expect(res.status).toBe(202);
      const body = res.json();
      expect(body).toMatchObject({
        triggered: true,
        event,
        target: 'main',
        dossier: d,
        folder,
        alreadyRunning: false,
        workflowId: backupTriggerWorkflowId('main', d, event),
        setting: { key: event === 'closing' ? 'before-closing' : 'before-exchange', value: true, source: 'default' },
      });
      const r = await result(body);
      expect(r.file).toBe(path.join(stack.config.backupDir, folder, `B${d}.SVG`));
      expect(fs.statSync(r.file).size).toBe(r.bytes);
    }
  });
  expect(archives()).toEqual([path.join('Cloture', `B${d}.SVG`), path.join('EchangePrest', `B${d}.SVG`)]);
  const { rows } = await pool().query('SELECT last_backup_at FROM nightshift.dossier WHERE code = $1', [d]);
  expect(rows[0].last_backup_at).toBeInstanceOf(Date);
});

test('R-BK-9: a second call while the backup runs answers the running one (one workflow id per dossier and event)', async () => {
  const d = code('B');
  await createDossiers(stack, [{ code: d }]);
  const alice = await loginOk(gate, 'alice');
  // no worker polls the task queue: the first backup stays running
  const [first, second] = await Promise.all([trigger(alice, d, { event: 'closing' }), trigger(alice, d, { event: 'closing' })]);
  expect([first.status, second.status]).toEqual([202, 202]);
  const a = first.json();
  const b = second.json();
  expect(a.workflowId).toBe(backupTriggerWorkflowId('main', d, 'closing'));
  expect(b.workflowId).toBe(a.workflowId);
  expect(b.runId).toBe(a.runId);
  expect([a.alreadyRunning, b.alreadyRunning].sort()).toEqual([false, true]);
  const handle = temporal.client.workflow.getHandle(String(a.workflowId));
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate('test');
});

test('R-BK-9: a disabled setting starts nothing and says which setting and where it comes from (local > common > default)', async () => {
  const d = code('C');
  await createDossiers(stack, [{ code: d }]);
  const alice = await loginOk(gate, 'alice');
  await setCommon(pool(), 'before-exchange', false);
  try {
    const exchange = await trigger(alice, d, { event: 'provider-exchange' });
    expect(exchange.status).toBe(200);
    expect(exchange.json()).toMatchObject({ triggered: false, reason: 'disabled', setting: { key: 'before-exchange', value: false, source: 'common' } });
    expect(String(exchange.json().message)).toMatch(/before-exchange is no/);
    // on-exit defaults to never
    const exit = await trigger(alice, d, { event: 'exit' });
    expect(exit.status).toBe(200);
    expect(exit.json()).toMatchObject({ triggered: false, setting: { key: 'on-exit', value: 'never', source: 'default' } });
    // a local value (this machine's NIGHTSHIFT_BACKUP_BEFORE_CLOSING) wins over the common yes
    await setCommon(pool(), 'before-closing', true);
    const local = await startTestGate({ ...stack, config: { ...stack.config, backupLocal: { 'before-closing': false } } });
    try {
      const res = await local.call('POST', `/v1/sessions/${alice.sessionId}/dossiers/${d}/backup`, { headers: auth(alice.token), body: { event: 'closing' } });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ triggered: false, setting: { key: 'before-closing', value: false, source: 'local' } });
    } finally {
      await local.close();
    }
  } finally {
    await pool().query(`DELETE FROM nightshift.backup_setting`);
  }
  await noBackupStarted(d);
  expect(archives().filter((f) => f.includes(d))).toEqual([]);
});

test('R-BK-9 R-BK-3: on-exit always backs up when the last session closes the dossier, after its close is committed; never does nothing', async () => {
  const d = code('D');
  await createDossiers(stack, [{ code: d }]);
  const alice = await loginOk(gate, 'alice');
  const bob = await loginOk(gate, 'bob');

  // default never: the close answers as before and starts nothing
  expect((await open(alice, d)).status).toBe(200);
  const plain = await close(alice, d);
  expect(plain.status).toBe(200);
  expect(plain.json()).toEqual({ dossier: d, open: false });
  await noBackupStarted(d);

  await setCommon(pool(), 'on-exit', 'always');
  try {
    expect((await open(alice, d)).status).toBe(200);
    expect((await open(bob, d)).status).toBe(200);
    // bob still holds it: no backup yet (it would fail, R-BK-3)
    const first = await close(alice, d);
    expect(first.status).toBe(200);
    expect(first.json()).toMatchObject({ dossier: d, open: false, backup: { triggered: false, reason: 'in-use' } });
    await noBackupStarted(d);

    // closing a dossier the session does not hold is not an exit
    expect((await close(alice, d)).json()).toEqual({ dossier: d, open: false });

    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(async () => {
      const last = await close(bob, d);
      expect(last.status).toBe(200);
      const backup = last.json<{ backup: Record<string, unknown> }>().backup;
      expect(backup).toMatchObject({ triggered: true, event: 'exit', folder: null, workflowId: backupTriggerWorkflowId('main', d, 'exit'), setting: { key: 'on-exit', value: 'always', source: 'common' } });
      // the backup succeeds: the session's hold was gone when it took its snapshot
      const r = await result(backup);
      expect(r.file).toBe(path.join(stack.config.backupDir, `B${d}.SVG`));
    });
    expect(archives()).toContain(`B${d}.SVG`);
  } finally {
    await pool().query(`DELETE FROM nightshift.backup_setting`);
  }
});

test('R-BK-9: a logout leaves the dossiers the session held: with on-exit always each one is backed up; with never the logout answer is unchanged', async () => {
  const [d1, d2] = [code('L1'), code('L2')];
  await createDossiers(stack, [{ code: d1 }, { code: d2 }]);
  const quiet = await loginOk(gate, 'carol');
  expect((await open(quiet, d1)).status).toBe(200);
  const plain = await gate.call('DELETE', `/v1/sessions/${quiet.sessionId}`, { headers: auth(quiet.token) });
  expect(plain.json()).toEqual({ closed: true, reason: 'logout' });
  await noBackupStarted(d1);

  await setCommon(pool(), 'on-exit', 'always');
  try {
    const carol = await loginOk(gate, 'carol');
    expect((await open(carol, d1)).status).toBe(200);
    expect((await open(carol, d2)).status).toBe(200);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(async () => {
      const out = await gate.call('DELETE', `/v1/sessions/${carol.sessionId}`, { headers: auth(carol.token) });
      expect(out.status).toBe(200);
      const body = out.json<{ closed: boolean; backups: ({ dossier: string } & Record<string, unknown>)[] }>();
      expect(body).toMatchObject({ closed: true, reason: 'logout' });
      expect(body.backups.map((b) => [b.dossier, b.triggered, b.event])).toEqual([[d1, true, 'exit'], [d2, true, 'exit']]);
      for (const b of body.backups) expect((await result(b)).file).toBe(path.join(stack.config.backupDir, `B${b.dossier}.SVG`));
    });
    expect(archives()).toEqual(expect.arrayContaining([`B${d1}.SVG`, `B${d2}.SVG`]));
  } finally {
    await pool().query(`DELETE FROM nightshift.backup_setting`);
  }
});

test('R-BK-3: a dossier held open (by the caller or another session) is refused with 409 and the seed text; nothing starts', async () => {
  const d = code('E');
  await createDossiers(stack, [{ code: d }]);
  const alice = await loginOk(gate, 'alice');
  const bob = await loginOk(gate, 'bob');
  expect((await open(bob, d)).status).toBe(200);
  const byOther = await trigger(alice, d, { event: 'closing' });
  expect(byOther.status).toBe(409);
  expect(byOther.json()).toMatchObject({ triggered: false, field: 'code', message: DOSSIER_IN_USE_MESSAGE, sessions: 1, heldBySession: false });
  const byCaller = await trigger(bob, d, { event: 'provider-exchange' });
  expect(byCaller.status).toBe(409);
  expect(byCaller.json()).toMatchObject({ heldBySession: true });
  await noBackupStarted(d);
});

test('R-BK-9 hostile input: unknown events, ../ codes, NUL, 10 KB strings, forged and borrowed tokens -> 4xx, nothing started or changed', async () => {
  const d = code('F');
  await createDossiers(stack, [{ code: d }]);
  const alice = await loginOk(gate, 'alice');
  const bob = await loginOk(gate, 'bob');
  const closed = await loginOk(gate, 'carol');
  expect((await gate.call('DELETE', `/v1/sessions/${closed.sessionId}`, { headers: auth(closed.token) })).status).toBe(200);
  const at = (dossier: string, id = alice.sessionId) => `/v1/sessions/${id}/dossiers/${dossier}/backup`;
  const ten = 'x'.repeat(10 * 1024);
  const cases: { name: string; path: string; headers?: Record<string, string>; body?: unknown; raw?: string; status: number; field?: string }[] = [
    { name: 'unknown event', path: at(d), headers: auth(alice.token), body: { event: 'whenever' }, status: 400, field: 'event' },
    { name: 'upper-case event', path: at(d), headers: auth(alice.token), body: { event: 'CLOSING' }, status: 400, field: 'event' },
    { name: 'NUL in event', path: at(d), headers: auth(alice.token), body: { event: 'closing\u0000' }, status: 400, field: 'event' },
    { name: '10 KB event', path: at(d), headers: auth(alice.token), body: { event: ten }, status: 400, field: 'event' },
    { name: 'event array', path: at(d), headers: auth(alice.token), body: { event: ['closing'] }, status: 400, field: 'event' },
    { name: 'extra field', path: at(d), headers: auth(alice.token), body: { event: 'closing', reason: 'cloture' }, status: 400, field: 'body' },
    { name: 'no body', path: at(d), headers: auth(alice.token), status: 400, field: 'body' },
    { name: 'string body', path: at(d), headers: auth(alice.token), body: 'closing', status: 400, field: 'body' },
    { name: 'malformed JSON', path: at(d), headers: { ...auth(alice.token), 'content-type': 'application/json' }, raw: '{"event":', status: 400, field: 'body' },
    { name: 'form body', path: at(d), headers: { ...auth(alice.token), 'content-type': 'application/x-www-form-urlencoded' }, raw: 'event=closing', status: 415 },
    { name: 'dot-dot code', path: at('..%2F..%2Fetc'), headers: auth(alice.token), body: { event: 'closing' }, status: 400, field: 'code' },
    { name: 'NUL in code', path: at(`${d}%00`), headers: auth(alice.token), body: { event: 'closing' }, status: 400, field: 'code' },
    { name: 'quote in code', path: at(`${d}'--`), headers: auth(alice.token), body: { event: 'closing' }, status: 400, field: 'code' },
    { name: '10 KB code', path: at('A'.repeat(10 * 1024)), headers: auth(alice.token), body: { event: 'closing' }, status: 414 },
    { name: 'unknown dossier', path: at('NOSUCH'), headers: auth(alice.token), body: { event: 'closing' }, status: 404, field: 'code' },
    { name: 'missing token', path: at(d), body: { event: 'closing' }, status: 401, field: 'authorization' },
    { name: 'forged token', path: at(d), headers: auth(crypto.randomBytes(32).toString('base64url')), body: { event: 'closing' }, status: 401, field: 'authorization' },
    { name: "borrowed token (bob's on alice's session)", path: at(d), headers: auth(bob.token), body: { event: 'closing' }, status: 401, field: 'authorization' },
    { name: 'unknown session', path: at(d, crypto.randomUUID()), headers: auth(alice.token), body: { event: 'closing' }, status: 404, field: 'id' },
    { name: 'closed session', path: at(d, closed.sessionId), headers: auth(closed.token), body: { event: 'closing' }, status: 404, field: 'id' },
    { name: 'non-uuid session', path: at(d, 'abc'), headers: auth(alice.token), body: { event: 'closing' }, status: 400, field: 'id' },
    { name: 'target-style path (no such route)', path: `/v1/targets/nope/dossiers/${d}/backup`, headers: auth(alice.token), body: { event: 'closing' }, status: 404 },
  ];
  const before = await snapshot(pool());
  for (const c of cases) {
    const res = await gate.call('POST', c.path, { headers: c.headers, body: c.body, raw: c.raw });
    expect({ name: c.name, status: res.status }).toEqual({ name: c.name, status: c.status });
    const body = res.json<{ error?: unknown; field?: unknown }>();
    expect({ name: c.name, error: typeof body.error }).toEqual({ name: c.name, error: 'string' });
    if (c.field) expect({ name: c.name, field: body.field }).toEqual({ name: c.name, field: c.field });
  }
  expect(await snapshot(pool())).toEqual(before);
  await noBackupStarted(d);
  expect(archives().filter((f) => f.includes(d))).toEqual([]);
});

test('R-BK-9: Temporal down -> the backup route answers 503, logins, heartbeats and dossiers are still served, the close stands', async () => {
  const d = code('G');
  await createDossiers(stack, [{ code: d }]);
  const dead = `127.0.0.1:${await freePort()}`;
  const down = await startTestGate({ ...stack, config: { ...stack.config, temporal: { ...stack.config.temporal, address: dead } } });
  try {
    const login = await down.call('POST', '/v1/targets/main/sessions', { body: { user: 'dora' } });
    expect(login.status).toBe(201);
    const s = login.json<Login>();
    expect((await heartbeat(down, s)).json()).toEqual({ action: 'continue' });
    expect((await down.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${d}`, { headers: auth(s.token) })).status).toBe(200);
    expect((await down.call('DELETE', `/v1/sessions/${s.sessionId}/dossiers/${d}`, { headers: auth(s.token) })).status).toBe(200);

    const refused = await down.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${d}/backup`, { headers: auth(s.token), body: { event: 'closing' } });
    expect(refused.status).toBe(503);
    expect(refused.json()).toMatchObject({ triggered: false, error: expect.stringMatching(/Temporal is unavailable/) });
    // a second call right after fails fast (the failed connection is remembered) and logins go on
    const t0 = Date.now();
    expect((await down.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${d}/backup`, { headers: auth(s.token), body: { event: 'closing' } })).status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect((await down.call('POST', '/v1/targets/main/sessions', { body: { user: 'erin' } })).status).toBe(201);

    // on exit: the close is committed and answered; the backup says why it did not start
    await setCommon(pool(), 'on-exit', 'always');
    expect((await down.call('POST', `/v1/sessions/${s.sessionId}/dossiers/${d}`, { headers: auth(s.token) })).status).toBe(200);
    const closed = await down.call('DELETE', `/v1/sessions/${s.sessionId}/dossiers/${d}`, { headers: auth(s.token) });
    expect(closed.status).toBe(200);
    expect(closed.json()).toMatchObject({ open: false, backup: { triggered: false, reason: 'temporal-unavailable' } });
    const { rows } = await pool().query('SELECT count(*)::int AS n FROM nightshift.session_dossier WHERE dossier_code = $1', [d]);
    expect(rows[0].n).toBe(0);
  } finally {
    await pool().query(`DELETE FROM nightshift.backup_setting`);
    await down.close();
  }
  await noBackupStarted(d);
});


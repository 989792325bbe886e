import pg from 'pg';
import { MockActivityEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../config/config';
import { createTargetPools } from '../../workers/resources';
import { failureTypeOf } from '../../domain/failures';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { maintenanceMailText } from '../../domain/maintenance-text';
import { MaintenanceFailure } from '../../workflows/maintenance-window.api';
import {
  appRole,
  asRole,
  canConnect,
  connectHolders,
  insertSession,
  maintenanceStack,
  quietRuntime,
  requireEnv,
  sessions,
  tempDir,
  uniqueName,
  windowInput,
  windowRows,
  type AppRole,
  type MaintenanceStack,
} from '../workflows/maintenance-helpers';

/** The maintenance activities on a real database (MockActivityEnvironment for the activity context). */

let stack: MaintenanceStack;
let acts: ReturnType<typeof createMaintenanceActivities>;
const env = new MockActivityEnvironment();
const run = <T>(fn: () => Promise<T>): Promise<T> => env.run(fn) as Promise<T>;

beforeAll(async () => {
  quietRuntime();
  stack = await maintenanceStack();
  acts = createMaintenanceActivities({ config: stack.config, pools: stack.pools });
});
afterAll(() => stack.close());

test('R-MW-2: the first activity validates its input again, inserts once (retry-safe) and refuses a second active window by name', async () => {
  const input = windowInput(stack.target, Date.now());
  const bad = await run(() => acts.insertMaintenanceWindow({ windowId: crypto.randomUUID(), workflowId: 'x', input: { ...input, endsAt: input.startsAt } })).catch((e: unknown) => e);
  expect(failureTypeOf(bad)).toBe('InvalidInput');
  const hostile = await run(() => acts.insertMaintenanceWindow({ windowId: crypto.randomUUID(), workflowId: 'x', input: { ...input, notify: ["a@b.c'; DROP TABLE x"] } })).catch((e: unknown) => e);
  expect(failureTypeOf(hostile)).toBe('InvalidInput');

  const id = crypto.randomUUID();
  await run(() => acts.insertMaintenanceWindow({ windowId: id, workflowId: 'maintenance/one', input }));
  await run(() => acts.insertMaintenanceWindow({ windowId: id, workflowId: 'maintenance/one', input })); // a retry
  const second = await run(() => acts.insertMaintenanceWindow({ windowId: crypto.randomUUID(), workflowId: 'maintenance/two', input })).catch((e: unknown) => e);
  expect(failureTypeOf(second)).toBe(MaintenanceFailure.WindowExists);
  expect(String((second as Error).message)).toMatch(/already has a database window scheduled .*maintenance\/one.*cancel it first/);
  expect(await windowRows(stack.pool)).toHaveLength(1);
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: id, state: 'cancelled', phase: 'cancelled' }));
  expect((await windowRows(stack.pool))[0]!.finishedAt).not.toBeNull();
});

test('R-MW-7: a sessions step forces orders past the cutoff, then orders the others: 15 s once told, a heartbeat interval and 15 s while untold', async () => {
  await stack.pool.query('DELETE FROM nightshift.session');
  await insertSession(stack.pool, 'old');
  await insertSession(stack.pool, 'new');
  await stack.pool.query(`UPDATE nightshift.session SET close_requested_at = now() - interval '20 s', close_by = now() - interval '5 s' WHERE user_name = 'old'`);
  await stack.pool.query(`INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, 'expired', 'x', now() - interval '1 s')`, [crypto.randomUUID()]);
  const step = await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }));
  expect(step).toMatchObject({ forced: 1, ordered: 1, live: 1, pendingOrders: 1 });
  const s = await sessions(stack.pool);
  expect(s.get('old')!.close_reason).toBe('forced');
  // told only by its next heartbeat, within an interval (a third of the session timeout): the 15 s run from then
  // (store/gate/heartbeat-sessions.ts); this deadline is for a client that never beats again (drill G)
  expect(s.get('new')!.close_by!.getTime() - s.get('new')!.close_requested_at!.getTime()).toBe((Math.floor(stack.config.sessionTimeoutSeconds / 3) + 15) * 1000);
  expect(s.get('expired')!.close_requested_at).toBeNull();
  // a second pass before the cutoff changes nothing (idempotent, like the gate's own orders)
  expect(await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }))).toMatchObject({ forced: 0, ordered: 0, live: 1 });
  expect(await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString(), closeAll: true }))).toMatchObject({ forced: 1, live: 0 });
});

test('R-MW-7: a step given the window\'s start counts every session forced since then after an order, the ones the gate forced at their heartbeat included (drill C: the window said 0 forced)', async () => {
  await stack.pool.query('DELETE FROM nightshift.session');
  const since = new Date(Date.now() - 1000).toISOString();
  // forced by an earlier window: its order is older than this window's start
  await insertSession(stack.pool, 'earlier');
  await stack.pool.query(`UPDATE nightshift.session SET close_requested_at = now() - interval '1 hour', close_by = now() - interval '59 min', closed_at = now(), close_reason = 'forced' WHERE user_name = 'earlier'`);
  for (const user of ['gate-forced', 'ignoring', 'left']) await insertSession(stack.pool, user);
  expect(await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString(), since }))).toMatchObject({ forced: 0, ordered: 3, forcedSince: 0 });
  // the gate's heartbeat closes a told session 10 s past its deadline while no worker runs the window (OVERDUE)
  await stack.pool.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'forced' WHERE user_name = 'gate-forced'`);
  await stack.pool.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE user_name = 'left'`);
  await stack.pool.query(`UPDATE nightshift.session SET close_by = now() - interval '1 s' WHERE user_name = 'ignoring'`);
  const step = await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString(), since }));
  expect(step).toMatchObject({ forced: 1, live: 0, forcedSince: 2 });
  // without a start (steps recorded before it was given): not read
  expect(await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }))).not.toHaveProperty('forcedSince');
});

test('R-MW-8: the access snapshot names what the drain takes away, never the Nightshift role', async () => {
  const snap = await run(() => acts.snapshotDatabaseAccess({ target: stack.target }));
  expect(snap.database).toBe(new URL(stack.databaseUrl).pathname.slice(1));
  expect(snap.revoked).toContain('PUBLIC');
  expect(snap.revoked).not.toContain(snap.nightshiftRole);
});

/** Statements as the test's admin (the superuser that created the cluster), on `database` (default: postgres). */
async function asAdmin(sql: string[], database?: string): Promise<void> {
  const url = new URL(requireEnv('NS_TEST_PG_ADMIN_URL'));
  if (database) url.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    for (const q of sql) await c.query(q);
  } finally {
    await c.end();
  }
}

test('R-MW-8: the drain takes CONNECT from every role holding it but Nightshift\'s (own grants, odd names, groups, grant options) and gives exactly those back, also twice and after a role was dropped', async () => {
  const db = new URL(stack.databaseUrl).pathname.slice(1);
  const q = pg.escapeIdentifier;
  const hex = uniqueName('r').slice(2);
  // the drill's role, a name that needs quoting, a member of a group that holds CONNECT, a grant made by a role WITH GRANT OPTION
  const [grp, mem, lead, sub] = ['grp', 'mem', 'lead', 'sub'].map((n) => `${n}_${hex}`) as [string, string, string, string];
  const roles: AppRole[] = [];
  try {
    roles.push(await appRole(stack.databaseUrl), await appRole(stack.databaseUrl, `Odd "App" o'${hex}`));
    const [app, odd] = roles as [AppRole, AppRole];
    await asAdmin([
      `CREATE ROLE ${q(grp)} NOLOGIN`,
      `CREATE ROLE ${q(mem)} LOGIN PASSWORD 'app-secret' IN ROLE ${q(grp)}`,
      `CREATE ROLE ${q(lead)} LOGIN PASSWORD 'app-secret'`,
      `CREATE ROLE ${q(sub)} LOGIN PASSWORD 'app-secret'`,
      `GRANT CONNECT ON DATABASE ${q(db)} TO ${q(grp)}`,
      `GRANT CONNECT ON DATABASE ${q(db)} TO ${q(lead)} WITH GRANT OPTION`,
    ]);
    const leadPool = new pg.Pool({ connectionString: asRole(stack.databaseUrl, lead, 'app-secret'), max: 1 });
    await leadPool.query(`GRANT CONNECT ON DATABASE ${q(db)} TO ${q(sub)}`);
    await leadPool.end();
    const urls = [app.url, odd.url, ...[mem, lead, sub].map((r) => asRole(stack.databaseUrl, r, 'app-secret'))];
    const before = await connectHolders(stack.pool);
    expect(before).toEqual(expect.arrayContaining(['PUBLIC', app.name, odd.name, grp, lead, sub]));

    const snap = await run(() => acts.snapshotDatabaseAccess({ target: stack.target }));
    expect([...snap.revoked].sort()).toEqual(before.filter((r) => r !== snap.nightshiftRole).sort());
    expect(before).toContain(snap.nightshiftRole);

    await run(() => acts.revokeDatabaseAccess({ target: stack.target, snapshot: snap }));
    await run(() => acts.revokeDatabaseAccess({ target: stack.target, snapshot: snap })); // a retry
    expect(await connectHolders(stack.pool)).toEqual([snap.nightshiftRole]);
    for (const url of urls) expect(await canConnect(url)).toBe('42501');
    expect(await canConnect(stack.databaseUrl)).toBe(true);

    // a role dropped during the window is skipped at the restore (a GRANT to it would fail at every retry)
    await asAdmin([`DROP ROLE ${q(sub)}`]);
    await run(() => acts.restoreDatabaseAccess({ target: stack.target, snapshot: snap }));
    await run(() => acts.restoreDatabaseAccess({ target: stack.target, snapshot: snap })); // twice: harmless
    expect(await connectHolders(stack.pool)).toEqual(before.filter((r) => r !== sub));
    for (const url of urls.slice(0, 4)) expect(await canConnect(url)).toBe(true);
  } finally {
    for (const r of roles) await r.drop();
    // DROP OWNED also takes their CONNECT on the test database; sub is already gone
    for (const r of [mem, grp, lead, sub]) await asAdmin([`DROP OWNED BY ${q(r)} CASCADE`, `DROP ROLE ${q(r)}`]).catch(() => {});
  }
});

test('R-MW-8: a role literally named "PUBLIC" holding CONNECT is refused by the drain (it could not be told from PUBLIC), before anything is revoked', async () => {
  const db = new URL(stack.databaseUrl).pathname.slice(1);
  const q = pg.escapeIdentifier;
  await asAdmin(['CREATE ROLE "PUBLIC" NOLOGIN']);
  try {
    await asAdmin([`GRANT CONNECT ON DATABASE ${q(db)} TO "PUBLIC"`]);
    const before = await connectHolders(stack.pool);
    const refused = await run(() => acts.snapshotDatabaseAccess({ target: stack.target })).catch((e: unknown) => e);
    expect(failureTypeOf(refused)).toBe(MaintenanceFailure.DbDrainRefused);
    expect(String((refused as Error).message)).toContain('the role named "PUBLIC"');
    expect(await connectHolders(stack.pool)).toEqual(before);
  } finally {
    await asAdmin([`REVOKE CONNECT ON DATABASE ${q(db)} FROM "PUBLIC"`, 'DROP ROLE IF EXISTS "PUBLIC"']);
  }
  expect(await run(() => acts.snapshotDatabaseAccess({ target: stack.target }))).toMatchObject({ database: db });
});

test('R-MW-8: a non-superuser owner keeps its own CONNECT and is refused when it would lock itself out; a superuser takes CONNECT from another owner too', async () => {
  const q = pg.escapeIdentifier;
  const owner = uniqueName('nsowner').toLowerCase();
  const db = uniqueName('nsdrain').toLowerCase();
  await asAdmin([`CREATE ROLE ${q(owner)} LOGIN PASSWORD 'owner-secret' NOSUPERUSER`, `CREATE DATABASE ${q(db)} OWNER ${q(owner)}`]);
  const dbUrl = new URL(stack.databaseUrl);
  dbUrl.pathname = `/${db}`;
  const ownerUrl = asRole(dbUrl.toString(), owner, 'owner-secret');
  const activitiesOn = (url: string) => {
    const config = loadConfig({ NIGHTSHIFT_DATA_DIR: tempDir('data'), NIGHTSHIFT_TARGETS: `t=${url}`, TEMPORAL_TASK_QUEUE: uniqueName('tq') });
    const pools = createTargetPools(config, 2);
    return { acts: createMaintenanceActivities({ config, pools }), end: () => pools.end() };
  };
  const asOwner = activitiesOn(ownerUrl);
  const asSuper = activitiesOn(dbUrl.toString());
  const app = await appRole(dbUrl.toString());
  try {
    const snap = await run(() => asOwner.acts.snapshotDatabaseAccess({ target: 't' }));
    expect(snap).toEqual({ database: db, nightshiftRole: owner, revoked: ['PUBLIC', app.name].sort() });
    await run(() => asOwner.acts.revokeDatabaseAccess({ target: 't', snapshot: snap }));
    expect(await canConnect(app.url)).toBe('42501');
    expect(await canConnect(ownerUrl)).toBe(true);
    await run(() => asOwner.acts.restoreDatabaseAccess({ target: 't', snapshot: snap }));
    expect(await canConnect(app.url)).toBe(true);

    // the owner's CONNECT only through PUBLIC: revoking the others would lock Nightshift out, so nothing starts
    await asAdmin([`REVOKE CONNECT ON DATABASE ${q(db)} FROM ${q(owner)}`]);
    const refused = await run(() => asOwner.acts.snapshotDatabaseAccess({ target: 't' })).catch((e: unknown) => e);
    expect(failureTypeOf(refused)).toBe(MaintenanceFailure.DbDrainRefused);
    expect(String((refused as Error).message)).toContain(`GRANT CONNECT ON DATABASE ${db} TO ${owner}`);
    await asAdmin([`GRANT CONNECT ON DATABASE ${q(db)} TO ${q(owner)}`]);

    // Nightshift a superuser, the database owned by another role: the owner is drained like any role (it may grant itself CONNECT again: README)
    const bySuper = await run(() => asSuper.acts.snapshotDatabaseAccess({ target: 't' }));
    expect(bySuper.revoked).toEqual(['PUBLIC', app.name, owner].sort());
    await run(() => asSuper.acts.revokeDatabaseAccess({ target: 't', snapshot: bySuper }));
    expect(await canConnect(ownerUrl)).toBe('42501');
    await run(() => asSuper.acts.restoreDatabaseAccess({ target: 't', snapshot: bySuper }));
    expect(await canConnect(ownerUrl)).toBe(true);
    expect(await canConnect(app.url)).toBe(true);
  } finally {
    await asOwner.end();
    await asSuper.end();
    await asAdmin([`DROP DATABASE IF EXISTS ${q(db)} WITH (FORCE)`]);
    await app.drop();
    await asAdmin([`DROP ROLE IF EXISTS ${q(owner)}`]);
  }
});

test('R-MW-7 R-MW-12: access back (cancelled, completed) withdraws the close orders of the sessions still open, in the same transaction; never while another window keeps the target closed', async () => {
  await stack.pool.query('DELETE FROM nightshift.session');
  await stack.pool.query('DELETE FROM nightshift.maintenance_window');
  const first = crypto.randomUUID();
  await run(() => acts.insertMaintenanceWindow({ windowId: first, workflowId: 'maintenance/first', input: windowInput(stack.target, Date.now() - 3_600_000) }));
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: first, state: 'in_progress', phase: 'closing_sessions' }));
  await insertSession(stack.pool, 'told');
  await insertSession(stack.pool, 'forced');
  const step = await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }));
  expect(step).toMatchObject({ ordered: 2, pendingOrders: 2 });
  await stack.pool.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'forced' WHERE user_name = 'forced'`);

  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: first, state: 'cancelled', phase: 'cancelled' }));
  let s = await sessions(stack.pool);
  expect(s.get('told')).toMatchObject({ closed_at: null, close_requested_at: null, close_by: null });
  // a session already closed keeps what happened to it
  expect(s.get('forced')).toMatchObject({ close_reason: 'forced', close_requested_at: expect.any(Date), close_by: expect.any(Date) });
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: first, state: 'cancelled', phase: 'cancelled' })); // a retry
  expect((await sessions(stack.pool)).get('told')).toMatchObject({ closed_at: null, close_requested_at: null });

  // the next window orders the session; a late retry of the first window's cancel leaves that order alone
  const second = crypto.randomUUID();
  await run(() => acts.insertMaintenanceWindow({ windowId: second, workflowId: 'maintenance/second', input: windowInput(stack.target, Date.now() - 3_600_000) }));
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: second, state: 'in_progress', phase: 'closing_sessions' }));
  await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }));
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: first, state: 'cancelled', phase: 'cancelled' }));
  expect((await sessions(stack.pool)).get('told')!.close_by).not.toBeNull();
  // a state that does not give access back leaves it too; completion (after complete or reopen) withdraws it
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: second, state: 'in_progress', phase: 'restoring' }));
  expect((await sessions(stack.pool)).get('told')!.close_by).not.toBeNull();
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: second, state: 'completed', phase: 'completed', outcome: 'payload backup partial; 3 failure(s)' }));
  // R-MW-10: what became of it is stored with its final state (maintenance list), a retry without it keeps it
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: second, state: 'completed', phase: 'completed' }));
  const { rows: outcome } = await stack.pool.query(`SELECT outcome FROM nightshift.maintenance_window WHERE id = $1`, [second]);
  expect(outcome[0].outcome).toBe('payload backup partial; 3 failure(s)');
  s = await sessions(stack.pool);
  expect(s.get('told')).toMatchObject({ closed_at: null, close_requested_at: null, close_by: null });
  expect(s.get('forced')!.close_reason).toBe('forced');
});

test('R-MW-10: post-checks report a dossier without its schema; the mail texts say what happened', async () => {
  expect(await run(() => acts.runPostChecks({ target: stack.target }))).toEqual({ ok: true, problems: [] });
  await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('GHOST', 'Ghost', 'd_ghost')`);
  const r = await run(() => acts.runPostChecks({ target: stack.target }));
  expect(r.ok).toBe(false);
  expect(r.problems).toEqual(['dossier GHOST: schema d_ghost is missing']);
  await stack.pool.query(`DELETE FROM nightshift.dossier WHERE code = 'GHOST'`);

  // without a transport nothing is sent and nothing fails
  expect(await run(() => acts.sendMaintenanceMail({ target: stack.target, mail: { kind: 'completed', to: ['a@example.com'], type: 'database', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' } }))).toEqual({ sent: false });
  const text = maintenanceMailText('main', { kind: 'failed', to: [], type: 'database', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z', failure: 'boom' }, 'APP', 'Europe/Paris', new Date('2020-09-07T11:50:00Z'));
  expect(text.subject).toContain('ÉCHEC');
  expect(text.text).toContain('Fenêtre prévue du 07/09/2020 à 13:00 au 07/09/2020 à 13:45');
  expect(text.text).toContain('nightshift maintenance reopen --target main');
  expect(text.text).toMatch(/^La maintenance de la base de données a échoué le 07\/09\/2020/);
  const deployed = maintenanceMailText('main', { kind: 'completed', to: [], type: 'deployment', startsAt: '2020-09-14T21:25:00Z', endsAt: '2020-09-14T21:30:00Z' }, 'APP', 'Europe/Paris', new Date('2020-09-14T21:30:00Z'));
  expect(deployed.text).toMatch(/^L'installation de la nouvelle version est terminée\./);
  // a cancel that came while the payload ran: the payload was not cut, and the mail says it went to its end
  const interrupted = maintenanceMailText('main', { kind: 'cancelled', to: [], type: 'database', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' }, 'APP', 'Europe/Paris', new Date('2020-09-07T11:10:00Z'));
  expect(interrupted.text).toMatch(/^La maintenance de la base de données a été interrompue\. APP est à nouveau disponible depuis le 07\/09\/2020 à 13:10\./);
  const afterPayload = maintenanceMailText(
    'main',
    { kind: 'cancelled', to: [], type: 'deployment', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z', payloadEnded: { kind: 'patch', state: 'completed' } },
    'APP',
    'Europe/Paris',
    new Date('2020-09-07T11:20:00Z'),
  );
  expect(afterPayload.text).toMatch(/^L'installation de la nouvelle version a été annulée après son traitement : le traitement \(intégration des correctifs\) est allé à son terme \(terminé sans erreur\), les vérifications de fin n'ont pas été faites\. APP est à nouveau disponible/);
  expect(afterPayload.text).not.toContain('interrompue');
});

test('issue 12 R-PI-2: the runs a window links are the batches, patch runs and rollback runs claimed since its row was written', async () => {
  const { rows } = await stack.pool.query<{ id: string }>(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
     VALUES (gen_random_uuid(), 'maintenance/links-test', 'deployment', 'completed', 'completed', now(), now() + interval '1 hour') RETURNING id`,
  );
  try {
    await stack.pool.query(`INSERT INTO nightshift.patch_run (workflow_id, mode, state) VALUES ('patch/links-test', 'revalidate', 'completed')`);
    await stack.pool.query(`INSERT INTO nightshift.patch_rollback_run (workflow_id, state) VALUES ('patch-rollback/links-test', 'running')`);
    // a partial run says how many of its dossiers were not done (maintenance list, status and the mail say it)
    const partial = await stack.pool.query<{ id: string }>(`INSERT INTO nightshift.patch_run (workflow_id, mode, state) VALUES ('patch/links-partial', 'revalidate', 'partial') RETURNING id`);
    await stack.pool.query(
      `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level) VALUES ($1, 'L1', 'ok', 1, 2), ($1, 'L2', 'failed', 1, 1), ($1, 'L3', 'failed', 1, 1)`,
      [partial.rows[0]!.id],
    );
    const runs = await run(() => acts.runsInWindow({ target: stack.target, windowId: rows[0]!.id }));
    expect(runs.map((r) => [r.kind, r.workflowId, r.state, r.notDone])).toEqual([
      ['patch', 'patch/links-test', 'completed', null],
      ['rollback', 'patch-rollback/links-test', 'running', null],
      ['patch', 'patch/links-partial', 'partial', 2],
    ]);
  } finally {
    await stack.pool.query(`UPDATE nightshift.patch_rollback_run SET state = 'failed', finished_at = now() WHERE workflow_id = 'patch-rollback/links-test'`);
    await stack.pool.query(`DELETE FROM nightshift.maintenance_window WHERE id = $1`, [rows[0]!.id]);
  }
});

import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startMaintenanceWindow } from '../../starts';
import {
  cancelMaintenanceUpdate,
  completeMaintenanceUpdate,
  reopenMaintenanceUpdate,
  maintenanceStatusQuery,
  type MaintenancePhase,
  type MaintenanceWindowInput,
  type MaintenanceWindowResult,
} from '../../workflows/maintenance-window.api';
import { issueKey } from '../../gate/keys';
import { startGate } from '../../gate/server';
import { GateClient } from '../../gate/client';
import { testGateConfig } from '../gate/gate-helpers';
import {
  ROOT,
  appRole,
  canConnect,
  connectHolders,
  databaseAcl,
  eventually,
  tryConnect,
  insertSession,
  maintenanceStack,
  onlyWindow,
  quietRuntime,
  requireEnv,
  sessions,
  startSmtp,
  subjectOf,
  bodyOf,
  windowInput,
  windowWorker,
  workflowBundle,
  type MaintenanceStack,
} from './maintenance-helpers';
import { Worker } from '@temporalio/worker';
import { createRegistryActivities } from '../../activities/registry';
import { loginsRefusedAt } from '../../domain/maintenance';

/**
 * The maintenance window on the real Temporal dev server, in real time: the database-level drain
 * against real connections (R-MW-8), a worker killed during the drain wait (durability), and the
 * search attributes the Temporal UI lists windows by.
 */

jest.setTimeout(120_000);

type Handle = WorkflowHandle<(input: MaintenanceWindowInput) => Promise<MaintenanceWindowResult>>;

let client: Client;
let connection: Connection;
let native: NativeConnection;

beforeAll(async () => {
  quietRuntime();
  const address = requireEnv('NS_TEST_TEMPORAL_ADDRESS');
  connection = await Connection.connect({ address });
  native = await NativeConnection.connect({ address });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await native?.close();
});

function start(stack: MaintenanceStack, input: MaintenanceWindowInput): Promise<Handle> {
  return startMaintenanceWindow(client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `maintenance ${input.type} on ${input.target}` }) as Promise<Handle>;
}

const phaseIs = (h: Handle, phases: MaintenancePhase[], timeoutMs = 40_000) =>
  eventually(() => h.query(maintenanceStatusQuery), (s) => phases.includes(s.phase), `phase ${phases.join('|')}`, timeoutMs);

/** Windows starting a moment from now, in real time. */
const soon = (target: string, over: Partial<MaintenanceWindowInput> & { seconds: number; graceSeconds: number }) => {
  const startMs = Math.ceil((Date.now() + 1500) / 1000) * 1000;
  const { seconds, ...rest } = over;
  return windowInput(target, 0, {
    ...rest,
    startsAt: new Date(startMs).toISOString(),
    endsAt: new Date(startMs + seconds * 1000).toISOString(),
  });
};

test('R-MW-8: the database drain refuses new application connections (also of a role with its own CONNECT), ends the old ones after the grace, and gives exactly that access back', async () => {
  const stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  // the operator drill: the application's role holds CONNECT in its own name, not only through PUBLIC
  const app = await appRole(stack.databaseUrl);
  const appUrl = app.url;
  const aclBefore = await databaseAcl(stack.pool);
  expect(aclBefore).toContain(`${app.name}=c/`);
  const held: pg.Client[] = [];
  const worker = await windowWorker(native, stack);
  try {
    for (let i = 0; i < 2; i++) {
      const c = await tryConnect(appUrl);
      if (!c.ok) throw new Error(`app role cannot connect before the window: ${c.message}`);
      c.client.on('error', () => {});
      held.push(c.client);
    }
    await worker.runUntil(async () => {
      const h = await start(stack, soon(stack.target, { seconds: 120, graceSeconds: 8, dbDrain: true }));
      const s = await eventually(() => h.query(maintenanceStatusQuery), (v) => v.dbAccess !== undefined && v.phase !== 'scheduled', 'the drain to begin', 40_000);
      expect(['closing_sessions', 'draining']).toContain(s.phase);
      expect(s.dbAccess?.revoked).toEqual(['PUBLIC', app.name].sort());
      // the status names the snapshot as soon as it is taken; the revoke is the next activity
      await eventually(() => connectHolders(stack.pool), (holders) => holders.length === 1 && holders[0] === s.dbAccess?.nightshiftRole, 'CONNECT revoked from every role but Nightshift\'s');

      // new application connections are refused; the old ones still work during the grace
      const refused = await tryConnect(appUrl);
      expect(refused.ok).toBe(false);
      expect(refused.ok ? '' : refused.code).toBe('42501');
      for (const c of held) expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      // Nightshift's own connections (control schema in the same database) keep working
      const own = await tryConnect(stack.databaseUrl);
      expect(own.ok).toBe(true);
      if (own.ok) await own.client.end();

      // after the grace the remaining application backends are terminated
      const working = await phaseIs(h, ['working']);
      expect(working.terminatedBackends).toBe(2);
      for (const c of held) await expect(c.query('SELECT 1')).rejects.toThrow();
      expect((await stack.pool.query('SELECT count(*)::int AS n FROM nightshift.maintenance_window')).rows[0].n).toBe(1);

      await h.executeUpdate(completeMaintenanceUpdate);
      expect((await h.result()).status.state).toBe('completed');
      expect(await canConnect(appUrl)).toBe(true);
      expect(await databaseAcl(stack.pool)).toBe(aclBefore);

      // the Temporal UI lists windows by target and phase (search attributes upserted on each phase)
      const listed = await eventually(
        async () => {
          const found: string[] = [];
          for await (const w of client.workflow.list({ query: `NightshiftTarget = '${stack.target}' AND NightshiftKind = 'maintenance' AND NightshiftPhase = 'completed'` })) {
            found.push(w.workflowId);
          }
          return found;
        },
        (found) => found.length === 1,
        'the window listed by its search attributes',
      );
      expect(listed).toEqual([`maintenance/${stack.target}`]);
    });
  } finally {
    for (const c of held) await c.end().catch(() => {});
    await stack.close();
    // the test database holds the role's CONNECT grant: drop it with the database
    await dropDatabase(stack);
    await app.drop();
  }
});

async function dropDatabase(stack: MaintenanceStack): Promise<void> {
  const admin = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${new URL(stack.databaseUrl).pathname.slice(1)} WITH (FORCE)`).finally(() => admin.end());
}

test('R-MW-7 R-MW-8 R-MW-12 (operator drill): a db-drain window started now and cancelled while it closes sessions gives CONNECT back exactly, and the user told to close goes back to continue', async () => {
  const stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const app = await appRole(stack.databaseUrl);
  const aclBefore = await databaseAcl(stack.pool);
  const { secret } = await issueKey(stack.pool, 'drill');
  const gate = await startGate(testGateConfig(stack.config), stack.pools);
  const client = new GateClient({ baseUrl: gate.address, apiKey: secret });
  const worker = await windowWorker(native, stack);
  try {
    const session = await client.login(stack.target, { user: 'alice' });
    expect(await client.heartbeat(session)).toEqual({ action: 'continue' });
    await worker.runUntil(async () => {
      // `maintenance schedule --start now --db-drain`: a long grace, so that the cancel comes while sessions are being closed
      const now = Date.now();
      const h = await start(stack, windowInput(stack.target, now, { inMinutes: 0, minutes: 30, graceSeconds: 600, dbDrain: true }));
      const closing = await eventually(() => h.query(maintenanceStatusQuery), (v) => v.dbAccess !== undefined && v.sessionsToClose === 1, 'the drain and the close order', 40_000);
      expect(closing.phase).toBe('closing_sessions');
      expect(closing.dbAccess?.revoked).toEqual(['PUBLIC', app.name].sort());
      expect(await canConnect(app.url)).toBe('42501');
      const order = await client.heartbeat(session);
      if (order.action !== 'close') throw new Error(`expected a close order, got ${JSON.stringify(order)}`);

      await h.executeUpdate(cancelMaintenanceUpdate);
      expect((await h.result()).status.state).toBe('cancelled');
      // access back: the heartbeat says continue at once and after the order's closeBy; the session was never forced
      expect(await client.heartbeat(session)).toEqual({ action: 'continue' });
      await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(order.closeBy) - Date.now()) + 1000));
      expect(await client.heartbeat(session)).toEqual({ action: 'continue' });
      expect((await sessions(stack.pool, 'id')).get(session.sessionId)).toMatchObject({ closed_at: null, close_requested_at: null, close_by: null });
      expect(await canConnect(app.url)).toBe(true);
      expect(await databaseAcl(stack.pool)).toBe(aclBefore);
    });
    expect(await client.logout(session)).toEqual({ closed: true, reason: 'logout' });
  } finally {
    client.close();
    await gate.close();
    await stack.close();
    await dropDatabase(stack);
    await app.drop();
  }
});

function startWorkerChild(stack: MaintenanceStack): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'run-ts.js'), path.join(__dirname, 'maintenance-worker.fixture.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NIGHTSHIFT_TARGETS: `${stack.target}=${stack.databaseUrl}`,
      TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      NIGHTSHIFT_DATA_DIR: stack.config.dataDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker child exited (${code}): ${err}`)));
  });
}

test('a worker killed (SIGKILL) during the drain wait and restarted: the window still completes on time and gives the database access back exactly (R-MW-7, R-MW-8)', async () => {
  const stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const app = await appRole(stack.databaseUrl);
  const aclBefore = await databaseAcl(stack.pool);
  let child = await startWorkerChild(stack);
  try {
    await insertSession(stack.pool, 'grace');
    const input = soon(stack.target, { seconds: 24, graceSeconds: 18, dbDrain: true });
    const h = await start(stack, input);
    await phaseIs(h, ['closing_sessions']);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    child = await startWorkerChild(stack);
    // the snapshot taken before the kill is in the history: the new worker drains with it
    await eventually(() => h.query(maintenanceStatusQuery), (v) => v.dbAccess !== undefined, 'the drain', 40_000);
    expect(await eventually(() => canConnect(app.url), (r) => r === '42501', 'the app refused')).toBe('42501');

    const result = await h.result();
    const at = (p: MaintenancePhase) => Date.parse(result.status.phases.find((x) => x.phase === p)!.at);
    expect(result.status.state).toBe('completed');
    // the session was forced by the new worker, the work waited for the grace, the end was honoured
    expect((await sessions(stack.pool)).get('grace')!.close_reason).toBe('forced');
    expect(at('working')).toBeGreaterThanOrEqual(Date.parse(input.startsAt) + 18_000);
    expect(at('checking')).toBeGreaterThanOrEqual(Date.parse(input.endsAt));
    const row = await onlyWindow(stack.pool);
    expect(row.state).toBe('completed');
    expect(row.finishedAt!.getTime()).toBeGreaterThanOrEqual(Date.parse(input.endsAt));
    expect(result.status.dbAccess?.revoked).toEqual(['PUBLIC', app.name].sort());
    expect(await databaseAcl(stack.pool)).toBe(aclBefore);
    expect(await canConnect(app.url)).toBe(true);
  } finally {
    child.kill('SIGKILL');
    await stack.close();
    await dropDatabase(stack);
    await app.drop();
  }
});

test('issue 12: a failed window (RUNNING, closed until reopen) is found by the list query NightshiftPhase = "failed" and its details say FAILED; after reopen it is not (R-MW-10)', async () => {
  const stack = await maintenanceStack();
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('GONE1', 'Gone', 'd_gone1')`);
      const h = await start(stack, soon(stack.target, { seconds: 600, graceSeconds: 0 }));
      await phaseIs(h, ['working']);
      await h.executeUpdate(completeMaintenanceUpdate);
      await phaseIs(h, ['failed']);
      const failedQuery = `NightshiftTarget = '${stack.target}' AND NightshiftPhase = 'failed' AND ExecutionStatus = 'Running'`;
      const listed = async (query: string) => {
        const ids: string[] = [];
        for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
        return ids;
      };
      expect(await eventually(() => listed(failedQuery), (ids) => ids.length === 1, 'the failed window in the list')).toEqual([h.workflowId]);
      const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(meta.currentDetails).toMatch(/^\*\*FAILED\*\*: the target stays closed until reopen/);
      expect(meta.currentDetails).toContain('- GONE1: schema d\\_gone1 is missing');
      expect(meta.currentDetails).toContain(`\`nightshift maintenance reopen --target ${stack.target}\``);

      await stack.pool.query(`DELETE FROM nightshift.dossier WHERE code = 'GONE1'`);
      expect((await h.executeUpdate(reopenMaintenanceUpdate)).state).toBe('completed');
      await h.result();
      expect(await eventually(() => listed(failedQuery), (ids) => ids.length === 0, 'the window out of the failed list')).toEqual([]);
      const completedQuery = `NightshiftTarget = '${stack.target}' AND NightshiftPhase = 'completed'`;
      expect(await eventually(() => listed(completedQuery), (ids) => ids.length === 1, 'the completed window')).toEqual([h.workflowId]);
    });
  } finally {
    await stack.close();
  }
});

test('R-MW-10 overrun: the planned end passes while the payload runs: --notify is mailed once (what runs, logins still refused, the status command), the details say OVERRUNNING', async () => {
  const smtp = await startSmtp();
  const stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'), NIGHTSHIFT_SMTP_PORT: String(smtp.port) });
  const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
  await registry.createDossier(stack.target, { code: 'O1', label: 'Dossier O1', copyStatus: 'original', flags: { test: false, specific: false, template: false, transferable: true } });
  const worker = await windowWorker(native, stack);
  // O1's backup waits on this lock: the payload runs past the window's planned end (real time: the time-skipping
  // server does not skip while an activity runs)
  const holder = await stack.pool.connect();
  const to = 'ops-overrun@example.com';
  const mails = () => smtp.messages.filter((m) => m.to.includes(to));
  try {
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE "d_O1".parametre IN ACCESS EXCLUSIVE MODE');
    await worker.runUntil(async () => {
      const input = soon(stack.target, { seconds: 12, graceSeconds: 0, payload: { kind: 'backup', dossiers: ['O1'] }, notify: [to] });
      const h = await start(stack, input);
      const running = await eventually(() => h.query(maintenanceStatusQuery), (v) => v.payloadRun?.state === 'running', 'the payload to run', 40_000);
      expect(mails()).toHaveLength(0);
      const over = await eventually(() => h.query(maintenanceStatusQuery), (v) => v.overrun?.mailed === true, 'the overrun mail', 40_000);
      expect(Date.parse(over.overrun!.at)).toBeGreaterThanOrEqual(Date.parse(input.endsAt));
      expect(over).toMatchObject({ state: 'in_progress', phase: 'working' });
      expect(loginsRefusedAt(await onlyWindow(stack.pool), new Date())).toBe(true);
      const meta = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(meta.currentDetails).toMatch(/\*\*OVERRUNNING\*\*: the planned end passed at .* while the payload runs; logins still refused until it has ended; --notify told/);
      const [mail] = mails();
      expect(subjectOf(mail!.raw)).toContain('Maintenance en dépassement');
      expect(subjectOf(mail!.raw)).toContain('service toujours fermé');
      const body = bodyOf(mail!.raw);
      expect(body).toContain('dépasse sa fin prévue');
      expect(body).toContain(`En cours : sauvegarde ${running.payloadRun!.workflowId}`);
      expect(body).toContain('les connexions sont toujours refusées');
      expect(body).toContain(`Suivre : nightshift maintenance status --target ${stack.target}`);
      // once: more time past the end sends nothing more
      await new Promise((res) => setTimeout(res, 4_000));
      expect(mails()).toHaveLength(1);
      await holder.query('ROLLBACK');
      const ended = await phaseIs(h, ['completed', 'failed'], 60_000);
      if (ended.phase === 'failed') await h.executeUpdate(cancelMaintenanceUpdate);
      const result = await h.result();
      // the end said as the details said it meanwhile
      expect(result.status.overrun?.mailed).toBe(true);
      await eventually(async () => mails().length, (n) => n === 2, 'the closing mail');
      expect(mails().map((m) => subjectOf(m.raw)).filter((x) => x.includes('dépassement'))).toHaveLength(1);
      await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await h.fetchHistory(), h.workflowId);
    });
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
    await stack.close();
    await smtp.close();
  }
});

test('R-MW-7: past the grace, a step that returns after the earliest deadline has passed forces nobody early: the later sessions are forced each at its own deadline (CI, session 37: 5 of 100 forced up to 0.6 s early)', async () => {
  const stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  const holder = await stack.pool.connect();
  try {
    for (const user of ['cora', 'abel', 'bea']) await insertSession(stack.pool, user);
    await worker.runUntil(async () => {
      const h = await start(stack, windowInput(stack.target, Date.now(), { inMinutes: 0, minutes: 30, graceSeconds: 2 }));
      await eventually(() => h.query(maintenanceStatusQuery), (v) => v.sessionsToClose === 3, 'the close orders', 40_000);
      // deadlines after the first step (15 s after the orders): cora's first, abel's 1.5 s after hers, bea's well later
      await stack.pool.query(
        `UPDATE nightshift.session SET close_by = now() + make_interval(secs => CASE user_name WHEN 'cora' THEN 19 WHEN 'abel' THEN 20.5 ELSE 40 END)`,
      );
      const rows = await sessions(stack.pool);
      const cora = rows.get('cora')!;
      // cora's row held by another transaction: the step that forces her (its cutoff at her deadline) waits, and returns
      // after abel's deadline has passed while bea's is still ahead
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM nightshift.session WHERE id = $1 FOR UPDATE', [cora.id]);
      await new Promise((r) => setTimeout(r, Math.max(0, cora.close_by!.getTime() + 4000 - Date.now())));
      await holder.query('COMMIT');
      const working = await eventually(() => h.query(maintenanceStatusQuery), (v) => v.phase === 'working', 'the work', 90_000);
      const after = await sessions(stack.pool);
      for (const user of ['cora', 'abel', 'bea']) {
        const s = after.get(user)!;
        expect(s.close_reason).toBe('forced');
        expect(s.closed_at!.getTime()).toBeGreaterThanOrEqual(s.close_by!.getTime() - 50);
      }
      expect(working.forcedSessions).toBe(3);
      await h.executeUpdate(completeMaintenanceUpdate);
      expect((await h.result()).status.state).toBe('completed');
      await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await h.fetchHistory(), h.workflowId);
    });
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    holder.release();
    await stack.close();
    await dropDatabase(stack);
  }
});

test('R-MW-7 over R-MW-8 (drill M, session 37): a drain grace shorter than the sessions\' deadlines forces none of them early: a told session gets its 15 s, an untold one its heartbeat interval and 15 s; the work waits for them', async () => {
  const stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const { secret } = await issueKey(stack.pool, 'drill-m');
  const gate = await startGate(testGateConfig(stack.config), stack.pools);
  const client = new GateClient({ baseUrl: gate.address, apiKey: secret });
  const worker = await windowWorker(native, stack);
  try {
    const told = await client.login(stack.target, { user: 'mia' });
    // never heartbeats: its order is never told (its deadline is the order's time + a heartbeat interval + 15 s)
    await insertSession(stack.pool, 'ivan');
    await worker.runUntil(async () => {
      // `--grace 2s`: shorter than either deadline
      const h = await start(stack, windowInput(stack.target, Date.now(), { inMinutes: 0, minutes: 30, graceSeconds: 2 }));
      await eventually(() => h.query(maintenanceStatusQuery), (v) => v.sessionsToClose === 2, 'the close orders', 40_000);
      const order = await client.heartbeat(told);
      if (order.action !== 'close') throw new Error(`expected a close order, got ${JSON.stringify(order)}`);
      const working = await eventually(() => h.query(maintenanceStatusQuery), (v) => v.phase === 'working', 'the work', 90_000);
      const rows = await sessions(stack.pool);
      const mia = rows.get('mia')!;
      const ivan = rows.get('ivan')!;
      expect([mia.close_reason, ivan.close_reason]).toEqual(['forced', 'forced']);
      // neither before its deadline (the order told to mia gave her 15 s; ivan's was never told)
      expect(mia.closed_at!.getTime()).toBeGreaterThanOrEqual(Date.parse(order.closeBy) - 50);
      expect(ivan.close_told_at).toBeNull();
      expect(ivan.closed_at!.getTime()).toBeGreaterThanOrEqual(ivan.close_by!.getTime() - 50);
      expect(working.forcedSessions).toBe(2);
      await h.executeUpdate(completeMaintenanceUpdate);
      expect((await h.result()).status.state).toBe('completed');
    });
  } finally {
    client.close();
    await gate.close();
    await stack.close();
    await dropDatabase(stack);
  }
});

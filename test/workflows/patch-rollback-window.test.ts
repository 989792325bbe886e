import crypto from 'node:crypto';
import { scheduleInput } from '../../cli/commands/maintenance';
import { maintenanceWindowInputSchema } from '../../domain/maintenance-input';
import { startMaintenanceWindow } from '../../starts';
import { reopenMaintenanceUpdate, type MaintenanceStatus, type MaintenanceWindowResult } from '../../workflows/maintenance-window.api';
import { ident } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { createTestStack, createTestWorker, devServerClient, quietRuntime } from '../helpers/env';
import { createActivities } from '../../workers/activities';
import { bodyOf, subjectOf, withMailStack } from './maintenance-helpers';
import { waitFor } from './backup-batch-helpers';
import { demoDossiers, levels } from './patch-helpers';
import { block, halfWayPatchDir, rollbackLedger, rollbackWindowInput, statesOf } from './patch-rollback-helpers';

/** A deployment window told to roll back the dossiers its backup+patch payload failed (R-PI-11, R-MW-9, R-MW-10), dev server, real time. */

jest.setTimeout(240_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

const BLOCKED = ['DEMO0003', 'DEMO0005'];

test('R-PI-11 R-MW-9 R-MW-10: window backup+patch --on-failure rollback: the two dossiers the patch failed half-way are rolled back to their pre-patch state, the details, result and mail say so and name the retry, access is given back', async () => {
  await withMailStack(async ({ smtp, stack, mail }) => {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 6);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-rollback');
    await block(pool, BLOCKED);
    const before = await statesOf(pool, codes);
    const input = rollbackWindowInput(dir, ['ops-rollback@example.com']);
    const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
    const { window, details, rollbackDetails } = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `rollback window ${crypto.randomUUID()}` });
      const window = (await h.result()) as MaintenanceWindowResult;
      const shown = async (handle: { query<R>(q: string): Promise<R> }) => (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
      return { window, details: await shown(h), rollbackDetails: await shown(temporal.client.workflow.getHandle(window.status.rollbackRun!.workflowId)) };
    });
    // R-OP-1: the window's details link the rollback and say how many dossiers it restored; the rollback's own details its outcome
    expect(details).toMatch(/On failure: rollback run \d+ `patch-rollback\/main\/[^`]+` \[open\]\([^)]+\): \*\*completed\*\* · \*\*2\*\* failed dossier\(s\) rolled back to their restore point \(R-PI-11\)/);
    expect(rollbackDetails).toContain('**patch rollback** on **main**: phase **completed**');
    expect(rollbackDetails).toContain('**2 / 2** dossiers · 0 failed');
    expect(rollbackDetails.split('\n')).toContain(`2 dossier(s) restored to their restore point (data, treatments, dictionary, ledger, level): ${[...BLOCKED].sort().join(' ')}`);
    expect(window.status.state).toBe('completed');
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'partial' });
    expect(window.status.rollbackRun).toMatchObject({ kind: 'rollback', state: 'completed', restored: 2 });
    expect(window.status.rollbackRun!.workflowId).toMatch(/^patch-rollback\/main\//);
    // the report keeps the failed dossiers and why; the next step is the patch's retry
    expect(window.failures!.map((f) => f.code)).toEqual(BLOCKED);
    expect(window.failures![0]!.error).toMatch(/blocker present/);
    expect(window.nextCommand).toMatch(/^nightshift patch retry --target main --run \d+$/);
    // the details and the operators' mail name it too: the rolled-back dossiers are below the others until patched again
    const retry = window.nextCommand!;
    expect(details).toContain(`Fix the rolled-back dossiers, then patch them again inside a window: \`${retry}\``);
    expect(window.status.nextSteps).toEqual([{ text: 'Fix the rolled-back dossiers, then patch them again inside a window', command: retry }]);
    expect(window.mailSent).toBe(true);
    const raw = smtp.messages.find((m) => m.to.includes('ops-rollback@example.com'))!.raw;
    expect(subjectOf(raw)).toContain('Maintenance terminée');
    const body = Buffer.from(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_a, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    expect(body).toContain("2 dossier(s) n'ont pas pu recevoir les correctifs : ils ont été remis dans leur état d'avant le correctif (R-PI-11).");
    expect(body).toContain(`dans une fenêtre de maintenance : ${retry}`);
    // which ones, and why: one line each
    expect(body).toMatch(/^- DEMO0003 : .*blocker present$/m);
    expect(body).toMatch(/^- DEMO0005 : .*blocker present$/m);
    // the rolled-back dossiers are as before the window, the others patched; each restored once
    expect(await statesOf(pool, BLOCKED)).toEqual(Object.fromEntries(BLOCKED.map((c) => [c, before[c]])));
    const l = await levels(pool);
    expect(codes.map((c) => l[c])).toEqual(codes.map((c) => (BLOCKED.includes(c) ? 0 : 2)));
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0003: 1, DEMO0005: 1 }, markedRolledBack: BLOCKED });
    const rb = (await pool.query(`SELECT state, window_workflow, failed_only FROM nightshift.patch_rollback_run`)).rows;
    expect(rb).toEqual([{ state: 'completed', window_workflow: expect.stringMatching(/^maintenance\/main/), failed_only: true }]);
    expect((await pool.query('SELECT state FROM nightshift.maintenance_window')).rows).toEqual([{ state: 'completed' }]);
  });
});

test('R-PI-11 R-MW-10 R-OP-1: --on-failure rollback, then a failed post-check: the status, details, alert and completion mail name the dossiers rolled back, the post-check failure is said as such, its next step is reopen (then the retry)', async () => {
  await withMailStack(async ({ smtp, stack, mail }) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 6);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-rollback-post-check');
    await block(pool, BLOCKED);
    const activities = createActivities({ config: stack.config, pools: stack.pools, mail });
    // a dossier's schema dropped by hand while the payload ran (QA's repro): found by the post-checks, after the rollback
    const dropped = 'DEMO0001';
    const withDrop = {
      ...activities,
      async runPostChecks(args: { target: string }) {
        await pool.query(`DROP SCHEMA IF EXISTS ${ident(schemaNameFor(dropped))} CASCADE`);
        return activities.runPostChecks(args);
      },
    };
    const to = 'ops-post-check@example.com';
    const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: withDrop });
    const { failed, failedDetails, window, details } = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, rollbackWindowInput(dir, [to]), { taskQueue: stack.config.temporal.taskQueue, summary: `rollback then post-check ${crypto.randomUUID()}` });
      const shown = async () => (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
      const failed = await waitFor('the window failed', async () => {
        const s = await h.query<MaintenanceStatus>('status');
        return s.phase === 'failed' ? s : undefined;
      }, 120_000);
      const failedDetails = await shown();
      await waitFor('the failure alert', () => smtp.messages.find((m) => m.to.includes(to)), 30_000);
      await h.executeUpdate(reopenMaintenanceUpdate);
      return { failed, failedDetails, window: (await h.result()) as MaintenanceWindowResult, details: await shown() };
    });
    const retry = `nightshift patch retry --target main --run ${failed.payloadRun!.runId}`;
    const [alert, done] = smtp.messages.filter((m) => m.to.includes(to)).map((m) => bodyOf(m.raw));
    expect(window.status.state).toBe('completed');
    // QA's bug: reopened, the completion mail names the two dossiers rolled back, not the post-check's (QA: it named AAA1, and "et 1 autre(s)")
    expect(done).toContain("2 dossier(s) n'ont pas pu recevoir les correctifs : ils ont été remis dans leur état d'avant le correctif (R-PI-11).");
    expect(done).toMatch(/^- DEMO0003 : .*blocker present\r?$/m);
    expect(done).toMatch(/^- DEMO0005 : .*blocker present\r?$/m);
    expect(done).not.toMatch(new RegExp(`^- ${dropped} :`, 'm'));
    expect(done).not.toContain('autre(s)');
    expect(done).toContain(`Rouverte après un échec : post-checks: dossier ${dropped}: schema d_${dropped} is missing`);
    expect(done).toContain('terminé avec des dossiers en erreur (2 dossier(s) non traité(s))');
    expect(failed.rollbackRun).toMatchObject({ kind: 'rollback', state: 'completed', restored: 2, codes: BLOCKED });
    // the post-check failure, said as such; the payload's dossiers (rolled back) kept beside the check's, not replaced
    expect(failed.failure).toBe(`post-checks: dossier ${dropped}: schema d_${dropped} is missing`);
    expect(failed.failures!.map((f) => [f.code, f.status])).toEqual([...BLOCKED.map((c) => [c, 'failed']), [dropped, 'post-check']]);
    expect(failed.failuresTotal).toBe(3);
    // a post-check failure is fixed, then reopened; the rolled-back dossiers are patched again later (not "retry the dossiers not patched")
    expect(failed.nextSteps).toEqual([
      { text: 'Fix what the post-checks found, then give access back', command: 'nightshift maintenance reopen --target main' },
      { text: 'Fix the rolled-back dossiers, then patch them again inside a window', command: retry },
    ]);
    expect(failedDetails).toContain('failed dossier(s) rolled back to their restore point (R-PI-11): DEMO0003, DEMO0005');
    expect(failedDetails).toContain(`Failure: post-checks: dossier ${dropped}: schema d\\_${dropped} is missing`);
    for (const c of [...BLOCKED, dropped]) expect(failedDetails).toMatch(new RegExp(`^- ${c}: `, 'm'));
    expect(failedDetails).toContain('Fix what the post-checks found, then give access back: `nightshift maintenance reopen --target main`');
    // the alert: the post-checks' failure, and the dossiers rolled back before them
    expect(alert).toContain(`: post-checks: dossier ${dropped}: schema d_${dropped} is missing.`);
    expect(alert).toContain("Avant les vérifications de fin, 2 dossier(s) n'ont pas pu recevoir les correctifs : ils ont été remis dans leur état d'avant le correctif (R-PI-11).");
    expect(alert).toMatch(/^- DEMO0003 : .*blocker present\r?$/m);
    expect(alert).toMatch(/^- DEMO0005 : .*blocker present\r?$/m);
    expect(alert).toContain(`Une fois l'accès rendu, corrigez leur cause, puis, dans une fenêtre de maintenance : ${retry}`);
    expect(window.failures!.map((f) => f.code)).toEqual([...BLOCKED, dropped]);
    expect(window.nextCommand).toBe(retry);
    expect(window.status.nextSteps).toEqual([{ text: 'Fix the rolled-back dossiers, then patch them again inside a window', command: retry }]);
    expect(details).toContain('failed dossier(s) rolled back to their restore point (R-PI-11): DEMO0003, DEMO0005');
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0003: 1, DEMO0005: 1 }, markedRolledBack: BLOCKED });
  });
});

test('R-PI-11 R-MW-10: --on-failure rollback when no failed dossier was touched (its restore point could not be taken): nothing to roll back, the window goes on, completes and names the retry', async () => {
  await withMailStack(async ({ smtp, stack, mail }) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 4);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-nothing-to-undo');
    // a view is an object a backup refuses (unsupported): DEMO0003's restore point fails, so it is never patched
    await pool.query(`CREATE VIEW "d_DEMO0003".v_rb AS SELECT 1 AS x`);
    const before = await statesOf(pool, ['DEMO0003']);
    const input = rollbackWindowInput(dir, ['ops-nothing@example.com']);
    const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
    const window = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `nothing to undo ${crypto.randomUUID()}` });
      return (await h.result()) as MaintenanceWindowResult;
    });
    expect(window.status.state).toBe('completed');
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'partial' });
    expect(window.status.rollbackRun).toMatchObject({ kind: 'rollback', state: 'nothing to roll back', restored: 0 });
    expect(window.failures!.map((f) => f.code)).toEqual(['DEMO0003']);
    expect(await statesOf(pool, ['DEMO0003'])).toEqual(before);
    const retry = window.nextCommand!;
    expect(retry).toMatch(/^nightshift patch retry --target main --run \d+$/);
    expect(window.status.nextSteps).toEqual([{ text: 'Fix the failed dossiers (none was changed), then patch them again inside a window', command: retry }]);
    const raw = smtp.messages.find((m) => m.to.includes('ops-nothing@example.com'))!.raw;
    expect(subjectOf(raw)).toContain('Maintenance terminée');
    const body = Buffer.from(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_a, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    expect(body).toContain("1 dossier(s) n'ont pas pu recevoir les correctifs : aucun n'avait été modifié.");
    expect((await pool.query('SELECT state FROM nightshift.maintenance_window')).rows).toEqual([{ state: 'completed' }]);
  });
});

test('R-PI-11 R-PI-4 R-MW-10: --on-failure rollback when the supervisor fails half-way: the run stops before any other dossier, the supervisor goes back to its restore point, the window completes and names the retry', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 4);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-supervisor');
    // patch 1 passes in the supervisor, patch 2 fails there: it is left at 1 and the run stops
    await block(pool, ['DEMO0001']);
    const before = await statesOf(pool, codes);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const window = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, rollbackWindowInput(dir), { taskQueue: stack.config.temporal.taskQueue, summary: `supervisor rollback ${crypto.randomUUID()}` });
      return (await h.result()) as MaintenanceWindowResult;
    });
    expect(window.status.state).toBe('completed');
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'failed' });
    expect(window.status.rollbackRun).toMatchObject({ kind: 'rollback', state: 'completed', restored: 1 });
    expect(window.failures!.map((f) => f.code)).toEqual(['DEMO0001']);
    expect(window.failures![0]!.error).toMatch(/blocker present/);
    expect(window.nextCommand).toMatch(/^nightshift patch retry --target main --run \d+$/);
    // every dossier as before the window: the supervisor restored, the others never touched
    expect(await statesOf(pool, codes)).toEqual(before);
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0001: 1 }, markedRolledBack: ['DEMO0001'] });
    expect((await pool.query('SELECT state FROM nightshift.maintenance_window')).rows).toEqual([{ state: 'completed' }]);
  } finally {
    await stack.close();
  }
});

test('AWS SSM MaxErrors R-PI-11 R-MW-10: window backup+patch --max-failures 0 --on-failure rollback: the first failed dossier stops the patch run, only it is rolled back, the dossiers not started keep their state, the run record says how many', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 6);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-max-failures');
    await block(pool, BLOCKED);
    const untouched = ['DEMO0004', 'DEMO0005', 'DEMO0006'];
    const before = await statesOf(pool, codes);
    const base = rollbackWindowInput(dir);
    const input = { ...base, payload: { ...base.payload, maxFailures: { count: 0 } } } as typeof base;
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const { window, details } = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `max failures ${crypto.randomUUID()}` });
      const window = (await h.result()) as MaintenanceWindowResult;
      return { window, details: (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '' };
    });
    expect(window.status.state).toBe('completed');
    expect(window.status.payloadRun).toMatchObject({ kind: 'patch', state: 'partial' });
    expect(window.status.rollbackRun).toMatchObject({ kind: 'rollback', state: 'completed', restored: 1 });
    expect(window.failures!.map((f) => f.code)).toEqual(['DEMO0003']);
    // DEMO0003 back to its restore point, DEMO0005 (blocked too) never started: both as before, as are the others not started
    const after = await statesOf(pool, codes);
    for (const code of ['DEMO0003', ...untouched]) expect({ code, state: after[code] }).toEqual({ code, state: before[code] });
    expect(await rollbackLedger(pool)).toEqual({ restored: { DEMO0003: 1 }, markedRolledBack: ['DEMO0003'] });
    expect((await levels(pool)).DEMO0002).toBeGreaterThan((await levels(pool)).DEMO0004!);
    // the patch run's own record: stopped, why, what was not started
    const run = (await pool.query<{ notes: string[] }>(`SELECT notes FROM nightshift.patch_run WHERE mode = 'integrate' ORDER BY id DESC LIMIT 1`)).rows[0]!;
    expect(run.notes).toEqual(expect.arrayContaining([expect.stringMatching(/^stopped: 1 dossier\(s\) failed, more than the 0 that --max-failures 0 allows; 3 dossier\(s\) not started/)]));
    expect(details).toContain('Max failures: 0 (the patch run stops starting dossiers once more have failed, AWS SSM MaxErrors)');
    // the next step: the rolled-back one patched again by the retry, which takes the three not started too, in the details too
    const step = 'Fix the rolled-back dossiers, then patch them again inside a window; the retry also takes the 3 dossier(s) the patch run did not start (--max-failures stopped it)';
    expect(window.status.nextSteps).toEqual([{ text: step, command: window.nextCommand }]);
    expect(details).toContain(step);
  } finally {
    await stack.close();
  }
});

test('AWS SSM MaxErrors R-MW-10 R-MW-9: window patch --max-failures 0 without rollback: the window fails, its next steps retry the failed dossier and those not started, then reopen; the completion mail counts both', async () => {
  await withMailStack(async ({ smtp, stack, mail }) => {
    const pool = stack.pools.get('main');
    await demoDossiers(stack, 6);
    const dir = await halfWayPatchDir(stack.config.backupDir, 'window-max-failures-failed');
    await block(pool, BLOCKED);
    const to = 'ops-max-failures@example.com';
    const base = rollbackWindowInput(dir, [to]);
    const input = { ...base, onFailure: undefined, payload: { kind: 'patch' as const, manifest: dir, maxFailures: { count: 0 } } };
    const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
    const status = await worker.runUntil(async () => {
      const h = await startMaintenanceWindow(temporal.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: `max failures, failed ${crypto.randomUUID()}` });
      await waitFor('the window failed', async () => {
        const s = await h.query<{ phase: string; nextSteps?: { text: string; command: string }[]; payloadRun?: { notStarted?: number } }>('status');
        return s.phase === 'failed' ? s : undefined;
      }, 60_000);
      const s = await h.query<{ nextSteps?: { text: string; command: string }[]; payloadRun?: { notStarted?: number; runId?: string } }>('status');
      await h.executeUpdate(reopenMaintenanceUpdate);
      await h.result();
      return s;
    });
    expect(status.payloadRun).toMatchObject({ notStarted: 3 });
    expect(status.nextSteps).toEqual([
      {
        text: 'Retry the dossiers not patched; the retry also takes the 3 dossier(s) the patch run did not start (--max-failures stopped it)',
        command: `nightshift patch retry --target main --run ${status.payloadRun!.runId}`,
      },
      { text: 'Then give access back', command: 'nightshift maintenance reopen --target main' },
    ]);
    // reopened: the payload line counts the failed dossier and those not started (it said "1 dossier(s) non traité(s)")
    const done = bodyOf(smtp.messages.find((m) => m.to.includes(to) && subjectOf(m.raw).includes('Maintenance terminée'))!.raw);
    expect(done).toContain("terminé avec des dossiers en erreur (1 dossier(s) non traité(s), 3 non commencé(s) car --max-failures a arrêté l'intégration)");
  });
});

test('R-PI-11: --on-failure rollback is validated: only rollback, only with the payload backup+patch (CLI and workflow input)', () => {
  const flags = { target: 'main', duration: '45m', type: 'deployment', payload: 'backup+patch', patchDir: '/srv/patches/2026-12' };
  expect(scheduleInput({ ...flags, onFailure: 'rollback' }, Date.now()).input.onFailure).toBe('rollback');
  expect(scheduleInput(flags, Date.now()).input.onFailure).toBeUndefined();
  expect(() => scheduleInput({ ...flags, onFailure: 'retry' }, Date.now())).toThrow(/--on-failure: expected rollback/);
  expect(() => scheduleInput({ ...flags, payload: 'patch', onFailure: 'rollback' }, Date.now())).toThrow(/--on-failure rollback goes with --payload backup\+patch/);
  const input = scheduleInput({ ...flags, onFailure: 'rollback' }, Date.now()).input;
  const bad = maintenanceWindowInputSchema.safeParse({ ...input, payload: { kind: 'patch', manifest: '/srv/p' } });
  expect(bad.success).toBe(false);
  expect(JSON.stringify(bad.error?.issues)).toMatch(/on-failure rollback needs the payload backup\+patch/);
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { createActivities } from '../../workers/activities';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { failureTypeOf } from '../../domain/failures';
import { archiveTempName, parseArchiveTempName } from '../../domain/dossier';
import type { BackupBatchInput, BackupBatchResult } from '../../workflows/backup-batch.api';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, uniqueName, type TestStack } from '../helpers/env';
import { createDossiers, waitFor } from './backup-batch-helpers';
import { startBackupBatch } from '../../starts';
import { NightshiftPhase } from '../../workflows/search-attributes';

/**
 * R-BK-1 after fault injection (issue 10): a running run is taken over only once Temporal says its
 * workflow is closed, never because it made no progress for a while (every worker down); a run closed
 * as failed or abandoned never flips back, nor takes a dossier's result after its close.
 */

let temporal: Awaited<ReturnType<typeof devServerClient>>;
let stack: TestStack;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
  stack = await createTestStack();
});
afterAll(async () => {
  await stack?.close();
  await temporal?.close();
});

/** A workflow that the server holds as RUNNING: started on a task queue no worker polls. */
async function liveWorkflow(): Promise<string> {
  const workflowId = `backup/main/${crypto.randomUUID()}`;
  await startBackupBatch(temporal.client, { target: 'main' }, { taskQueue: uniqueName('nobody'), workflowId });
  return workflowId;
}

const runRow = async (id: number) =>
  (await stack.pools.get('main').query('SELECT state, note, report_path, finished_at FROM nightshift.backup_run WHERE id = $1', [id])).rows[0];

test('R-BK-1 a run without progress for 20 minutes whose workflow still runs is not taken over; once its workflow is terminated it is, and its late results are refused', async () => {
  const pool = stack.pools.get('main');
  await createDossiers(stack, [{ code: 'T1' }, { code: 'T2' }]);
  const withTemporal = createBackupBatchActivities({ config: stack.config, pools: stack.pools, temporal: temporal.client });
  const withoutTemporal = createBackupBatchActivities({ config: stack.config, pools: stack.pools });
  const oldId = await liveWorkflow();
  const old = await withTemporal.claimBackupRun({ target: 'main', workflowId: oldId });
  // every worker down for longer than any staleness threshold
  await pool.query(`UPDATE nightshift.backup_run SET updated_at = now() - interval '20 minutes' WHERE id = $1`, [old.runId]);

  await expect(withTemporal.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` })).rejects.toMatchObject({
    type: 'BackupAlreadyRunning',
    nonRetryable: true,
  });
  // a worker that cannot ask Temporal never takes a run over
  await expect(withoutTemporal.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` })).rejects.toMatchObject({ type: 'BackupAlreadyRunning' });
  expect(await runRow(old.runId)).toMatchObject({ state: 'running', finished_at: null });

  // its workflow is gone: the next claim closes the run as abandoned and takes over
  await temporal.client.workflow.getHandle(oldId).terminate('test: the workflow is gone');
  const next = await withTemporal.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` });
  expect(next.runId).not.toBe(old.runId);
  expect(await runRow(old.runId)).toMatchObject({ state: 'failed', note: 'abandoned: its workflow is terminated' });

  // a straggler of the old run (an activity still in flight) is refused: no item, no flip back, no report
  const chunk = withTemporal.backupChunk({ target: 'main', runId: old.runId, codes: ['T1'], settings: old.settings, concurrency: 1, timeBudgetMs: 10_000 });
  await expect(chunk).rejects.toMatchObject({ type: 'BackupRunClosed', nonRetryable: true });
  await expect(withTemporal.finishBackupRun({ target: 'main', runId: old.runId, endedEarly: false })).rejects.toMatchObject({ type: 'BackupRunClosed' });
  const row = await runRow(old.runId);
  expect(row).toMatchObject({ state: 'failed', report_path: null });
  expect(row.note).toMatch(/^abandoned: its workflow is terminated; late work of its workflow refused at /);
  expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.backup_run_item WHERE run_id = $1', [old.runId])).rows[0].n).toBe(0);

  // the guard holds also for a run closed while one of its chunks is between two dossiers
  await pool.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now(), note = 'closed by hand' WHERE id = $1`, [next.runId]);
  await expect(withTemporal.finishBackupRun({ target: 'main', runId: next.runId, endedEarly: false })).rejects.toMatchObject({ type: 'BackupRunClosed' });
  expect(await runRow(next.runId)).toMatchObject({ state: 'failed', report_path: null });
});

test('R-BK-1 every worker down for 20 minutes while the next run starts: the next run is refused, the live run finishes alone, once, and is completed after its last item', async () => {
  const pool = stack.pools.get('main');
  await pool.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now() WHERE state = 'running'`);
  const codes = Array.from({ length: 8 }, (_, i) => `W${i}`);
  await createDossiers(stack, codes.map((code) => ({ code })));
  await pool.query(`UPDATE nightshift.dossier SET backup_seq = change_seq WHERE code NOT LIKE 'W%'`);
  const slow = (deps: Parameters<typeof createBackupBatchActivities>[0]) => ({
    ...createActivities(deps),
    backupChunk: createBackupBatchActivities(deps, { beforeDossier: () => new Promise((r) => setTimeout(r, 300)) }).backupChunk,
  });
  const first = await createTestWorker(stack, temporal.nativeConnection, { activities: slow({ config: stack.config, pools: stack.pools, temporal: temporal.client }) });
  const live = await startBackupBatch(temporal.client, { target: 'main', tuning: { chunkSize: 2, window: 1, concurrency: 1, heartbeatTimeout: '5s' } } satisfies BackupBatchInput, {
    taskQueue: stack.config.temporal.taskQueue,
    workflowId: `backup/main/live-${crypto.randomUUID()}`,
  });
  const liveRun = await first.runUntil(async () => {
    const runId = await waitFor('the live run to back up 2 dossiers', async () => {
      const { rows } = await pool.query(`SELECT r.id FROM nightshift.backup_run r WHERE r.workflow_id = $1 AND (SELECT count(*) FROM nightshift.backup_run_item i WHERE i.run_id = r.id) >= 2`, [live.workflowId]);
      return rows[0] ? Number(rows[0].id) : undefined;
    });
    return runId;
  });
  // every worker is down now; long enough for any staleness rule
  await pool.query(`UPDATE nightshift.backup_run SET updated_at = now() - interval '20 minutes' WHERE id = $1`, [liveRun]);

  const second = await createTestWorker(stack, temporal.nativeConnection, { activities: slow({ config: stack.config, pools: stack.pools, temporal: temporal.client }) });
  const [nextOutcome, liveOutcome, refusedView] = await second.runUntil(async () => {
    const next = await startBackupBatch(temporal.client, { target: 'main', trigger: 'schedule' } satisfies BackupBatchInput, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/scheduled-${crypto.randomUUID()}` });
    const outcomes = await Promise.allSettled([next.result(), live.result() as Promise<BackupBatchResult>]);
    // R-OP-1: what the Web UI shows of the refused run (the query needs a worker)
    const details = (await next.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    return [...outcomes, { phase: (await next.describe()).typedSearchAttributes.get(NightshiftPhase), details }] as const;
  });
  expect(nextOutcome.status).toBe('rejected');
  const refusal = (nextOutcome as PromiseRejectedResult).reason;
  expect(refusal).toBeInstanceOf(WorkflowFailedError);
  expect(failureTypeOf(refusal)).toBe('BackupAlreadyRunning');
  expect(liveOutcome).toMatchObject({ status: 'fulfilled', value: { runId: liveRun, state: 'completed', total: codes.length, ok: codes.length } });
  // R-OP-1: the refused run is `failed` in the list (it stayed `claiming`), its details name the run that holds the target
  expect(refusedView.phase).toBe('failed');
  expect(refusedView.details).toContain('phase **failed**');
  expect(refusedView.details).toContain(`Not started: backup run ${liveRun} (${live.workflowId}) is already running`);

  // one run only ever held the dossiers, each once; it closed after its last item
  const { rows: runs } = await pool.query(`SELECT r.id, r.state, r.finished_at, (SELECT max(finished_at) FROM nightshift.backup_run_item i WHERE i.run_id = r.id) AS last_item,
                                                  (SELECT count(*)::int FROM nightshift.backup_run_item i WHERE i.run_id = r.id) AS items
                                             FROM nightshift.backup_run r WHERE r.id >= $1 ORDER BY r.id`, [liveRun]);
  expect(runs).toHaveLength(1);
  expect(runs[0]).toMatchObject({ state: 'completed', items: codes.length });
  expect(runs[0].finished_at.getTime()).toBeGreaterThanOrEqual(runs[0].last_item.getTime());
  const { rows: twice } = await pool.query('SELECT code FROM nightshift.backup_run_item GROUP BY run_id, code HAVING count(*) > 1');
  expect(twice).toEqual([]);
});

test('R-BK-1 an attempt superseded while its worker was cut off comes back: a dossier the ledger has already is not backed up again (no archive, no generation, no temporary file), and counts as skipped', async () => {
  const pool = stack.pools.get('main');
  await pool.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now() WHERE state = 'running'`);
  const codes = ['SUP1', 'SUP2', 'SUP3'];
  await createDossiers(stack, codes.map((code) => ({ code })));
  const workflowId = await liveWorkflow();
  const plain = createBackupBatchActivities({ config: stack.config, pools: stack.pools, temporal: temporal.client });
  const run = await plain.claimBackupRun({ target: 'main', workflowId });
  // the retry of this chunk (on another worker) records SUP2 while this attempt is about to start it
  const stale = createBackupBatchActivities(
    { config: stack.config, pools: stack.pools, temporal: temporal.client },
    {
      beforeDossier: async (code) => {
        if (code !== 'SUP2') return;
        await pool.query(`INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts) VALUES ($1, 'SUP2', 'ok', 1)`, [run.runId]);
      },
    },
  );
  const result = await stale.backupChunk({ target: 'main', runId: run.runId, codes, settings: run.settings, concurrency: 1, timeBudgetMs: 60_000 });
  expect(result).toMatchObject({ ok: 2, failed: 0, skipped: 1, remaining: [] });
  const items = await pool.query(`SELECT code, attempts FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code`, [run.runId]);
  expect(items.rows).toEqual([
    { code: 'SUP1', attempts: 1 },
    { code: 'SUP2', attempts: 1 },
    { code: 'SUP3', attempts: 1 },
  ]);
  const generations = await pool.query(`SELECT code FROM nightshift.backup_generation WHERE run_id = $1 ORDER BY code`, [run.runId]);
  expect(generations.rows.map((r) => r.code)).toEqual(['SUP1', 'SUP3']);
  const dir = run.settings.destinationDir;
  expect(fs.existsSync(path.join(dir, 'BSUP1.SVG'))).toBe(true);
  expect(fs.existsSync(path.join(dir, 'BSUP2.SVG'))).toBe(false);
  expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

  // what a superseded attempt of this run left (named after the run) goes when the run ends; another run's, a
  // single-dossier backup's and any other file stay
  const leftovers = {
    mine: archiveTempName('SUP2', 'a1b2c3', run.runId),
    otherRun: archiveTempName('SUP2', 'a1b2c3', run.runId + 1000),
    single: archiveTempName('SUP2', 'a1b2c3'),
    other: '.notes.tmp',
  };
  for (const name of Object.values(leftovers)) fs.writeFileSync(path.join(dir, name), 'partial');
  const finished = await plain.finishBackupRun({ target: 'main', runId: run.runId, endedEarly: false });
  expect(finished).toMatchObject({ state: 'completed', ok: 3, failed: 0 });
  const left = fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).sort();
  expect(left).toEqual([leftovers.other, leftovers.otherRun, leftovers.single].sort());
  for (const name of left) fs.rmSync(path.join(dir, name));
  await temporal.client.workflow.getHandle(workflowId).terminate('test done');
});

test('R-BK-1 temporary archive names: a batch run\'s carry its id, and only archive temporaries parse', () => {
  expect(archiveTempName('A1', '0f9e', 42)).toBe('.BA1.SVG.r42.0f9e.tmp');
  expect(archiveTempName('A1', '0f9e')).toBe('.BA1.SVG.0f9e.tmp');
  expect(parseArchiveTempName('.BA1.SVG.r42.0f9e.tmp')).toEqual({ code: 'A1', runId: 42 });
  expect(parseArchiveTempName('.BA1.SVG.0f9e.tmp')).toEqual({ code: 'A1' });
  for (const other of ['BA1.SVG', '.BA1.SVG.tmp', '.BA1.SVG.rx.0f9e.tmp', '.report.0f9e.tmp', '.B.SVG.0f9e.tmp', '.BA1.SVG.0F9E.tmp']) expect(parseArchiveTempName(other)).toBeUndefined();
});

test('R-PI-2 R-BK-1: a backup batch is refused while a patch run whose workflow still runs changes patch levels; once that workflow is gone, it goes', async () => {
  const pool = stack.pools.get('main');
  const withTemporal = createBackupBatchActivities({ config: stack.config, pools: stack.pools, temporal: temporal.client });
  const patchWorkflow = await liveWorkflow();
  const { rows } = await pool.query<{ id: string }>(`INSERT INTO nightshift.patch_run (workflow_id, mode) VALUES ($1, 'integrate') RETURNING id`, [patchWorkflow]);
  try {
    const refusal = await withTemporal.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` }).catch((e: unknown) => e);
    expect(refusal).toMatchObject({ type: 'BackupDuringPatchRun', nonRetryable: true });
    expect(String((refusal as Error).message)).toContain(`patch run ${rows[0]!.id} (${patchWorkflow}) is running on main`);
    expect((await pool.query(`SELECT count(*)::int AS n FROM nightshift.backup_run WHERE state = 'running'`)).rows[0].n).toBe(0);

    // its workflow terminated (the patch run's own next claim closes its row): no obstacle to a batch
    await temporal.client.workflow.getHandle(patchWorkflow).terminate('test: the patch workflow is gone');
    const claimed = await withTemporal.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` });
    await pool.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now() WHERE id = $1`, [claimed.runId]);
  } finally {
    await pool.query(`UPDATE nightshift.patch_run SET state = 'failed', finished_at = now() WHERE id = $1`, [rows[0]!.id]);
  }
});

test('R-BK-7 two runs started in the same local second (the hour clocks repeat in Paris): the second report gets its run number, the first is kept', async () => {
  const pool = stack.pools.get('main');
  await pool.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now() WHERE state = 'running'`);
  await pool.query('UPDATE nightshift.dossier SET backup_seq = change_seq');
  const paris = createBackupBatchActivities({ config: { ...stack.config, timeZone: 'Europe/Paris' }, pools: stack.pools, temporal: temporal.client });
  const reports: string[] = [];
  // 2026-10-25 02:30:00 in Paris, once at +02:00 and once at +01:00
  for (const startedAt of ['2026-10-25T00:30:00Z', '2026-10-25T01:30:00Z']) {
    const run = await paris.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` });
    await pool.query('UPDATE nightshift.backup_run SET started_at = $2 WHERE id = $1', [run.runId, startedAt]);
    const finished = await paris.finishBackupRun({ target: 'main', runId: run.runId, endedEarly: false });
    const report = finished.reportPath ?? '(no report)';
    reports.push(report);
    if (reports.length === 2) expect(path.basename(report)).toBe(`svgauto-20261025-023000-${run.runId}.txt`);
    else expect(path.basename(report)).toBe('svgauto-20261025-023000.txt');
    // the same run's report written again (its finish retried) keeps its name
    if (reports.length === 1) expect((await paris.finishBackupRun({ target: 'main', runId: run.runId, endedEarly: false })).reportPath).toBe(finished.reportPath);
  }
  for (const file of reports) expect(fs.existsSync(file)).toBe(true);
  for (const file of reports) fs.rmSync(file);
});

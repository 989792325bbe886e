import { escapeMarkdown } from '../../domain/run-details';
import fs from 'node:fs';
import { createActivities } from '../../workers/activities';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { createDossiers } from '../workflows/backup-batch-helpers';

/**
 * R-OP-1, R-BK-4 (issue 13): a batch stopped by a configuration problem (the backup keys gone where the target's archives
 * are encrypted: BackupKeyMissing) attempted none of its dossiers. `backup status`, its --json, `backup run --wait`, the
 * report and the Web UI's details give one account: 0 failed, 3 not attempted (not backed up, taken first next time),
 * with the reason. They said 0 failed + 3 not attempted, failed 3, « 3 / 3 en erreur(s) » and "3 / 3 dossiers · 3 failed".
 */

const ctx = useCliStack(90_000);
const cli = ctx.cli;

async function currentDetails(handle: { query<R>(q: string): Promise<R> }): Promise<string> {
  return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
}

test('R-OP-1: a batch stopped by BackupKeyMissing says 3 not attempted, 0 failed, and why, in status, --json, the report and the details', async () => {
  await createDossiers(ctx.stack, [{ code: 'KM1' }, { code: 'KM2' }, { code: 'KM3' }]);
  const pool = ctx.stack.pools.get('main');
  // the target's archives were encrypted before (a generation with a key), and this worker is given no key
  await pool.query(
    `INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, key_id) VALUES ('KM0', 'normal', '/nonexistent/KM0.svg', now() - interval '1 day', 1, 'gone1')`,
  );
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // the workflow fails with the stop's own failure: its type and reason (the Web UI's list shows it failed)
    const run = await cli(['backup', 'run', '--wait', '--json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('BackupKeyMissing: no backup key is given');
    const why = 'no backup key is given, and the archives of target main are encrypted';

    const sentence = `0 / 3 dossier(s) backed up; 3 not backed up: 0 in use, 0 failed, 3 not attempted (the batch stopped before them: BackupKeyMissing`;
    const status = await cli(['backup', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('0 / 3 dossiers attempted: 0 ok, 0 in use, 0 failed; 3 not attempted\n');
    expect(status.stdout).toContain(sentence.replace('BackupKeyMissing', why));
    // the reason once (above), in English; each dossier then says only that it was not attempted (session 40: it repeated
    // the report's French sentence per dossier)
    expect(status.stdout).toContain('  KM1: not attempted (the batch stopped before it)\n');
    expect(status.stdout).not.toContain('Non traité');

    const json = JSON.parse((await cli(['backup', 'status', '--json'])).stdout);
    expect(json.run).toMatchObject({ state: 'failed', ok: 0, failed: 3 });
    expect(json.account).toMatchObject({ total: 3, ok: 0, inUse: 0, failed: 0, notDone: 3, notBackedUp: 3, stopReason: expect.stringContaining(why) });
    // the run's failed (and items_failed) count every dossier not backed up, as the report's « en erreur(s) » does
    expect(json.run.failed).toBe(json.account.notBackedUp);
    expect(json.counts).toEqual({ not_done: 3 });
    const result = { reportPath: json.run.report_path as string, runId: Number(json.run.id) };
    const workflowId = json.run.workflow_id as string;

    const report = fs.readFileSync(result.reportPath, 'utf8');
    // the report is French: the worker's line is said in French there (test/domain/report-stop-reason.test.ts)
    const pourquoi = "La sauvegarde a été arrêtée : aucune clé de sauvegarde n'est donnée, alors que les sauvegardes de la cible main sont chiffrées";
    expect(report).toContain(`3 / 3 dossier(s) non traité(s), comptés en erreur : ${pourquoi}`);
    expect(report).toContain(`Dossier KM1 : Non traité. ${pourquoi}`);
    expect(report).not.toContain(why);
    expect(report).toMatch(/\r\n0 \/ 3 dossier\(s\) traité\(s\)\r\n3 \/ 3 dossier\(s\) en erreur\(s\)\r\n$/);

    // the workflow's own failure (the Web UI's, the Event History's): the stop's type and reason at the top, with the run
    // and its retry (drill R, session 40: "Activity task failed", the reason nested, no run named)
    const failed = await ctx.temporal.client.workflow.getHandle(workflowId).result().then(
      () => undefined,
      (e: unknown) => (e as { cause?: { type?: string; message?: string } }).cause,
    );
    expect(failed?.type).toBe('BackupKeyMissing');
    expect(failed?.message).toMatch(new RegExp(`^no backup key is given, .* \\(backup run ${result.runId}: nightshift backup retry --target main --run ${result.runId}\\)$`));
    const details = await currentDetails(ctx.temporal.client.workflow.getHandle(workflowId));
    expect(details).toContain('**0 / 3** dossiers · 0 failed');
    expect(details).toContain(`3 not attempted (the batch stopped before them: ${why}`);
    expect(details).toContain('- KM1: not attempted (the batch stopped before it)');
    // where its report is, as `backup status` says it (drill W, session 40)
    expect(details).toContain(`Report: ${escapeMarkdown(result.reportPath)}`);
    expect(details).toContain(`\`nightshift backup retry --target main --run ${result.runId}\``);

    // without --json, `--wait` ends with the run's account before the error (it printed the error alone)
    const again = await cli(['backup', 'run', '--wait']);
    expect(again.code).toBe(1);
    expect(again.stdout).toMatch(/^backup run \d+ \(backup\/main\/[^)]+\) .*: failed$/m);
    expect(again.stdout).toContain(sentence.replace('BackupKeyMissing', why));
    // what to do once the cause is mended, as the details say it (drill W, session 40: `--wait` had no next line)
    expect(again.stdout).toMatch(/\nnext: nightshift backup retry --target main --run \d+\n$/);
    expect(again.stderr).toContain('BackupKeyMissing: no backup key is given');
  });
});

test('R-OP-1 (drill K, session 39): backup run --wait says each retried try of a chunk that cannot reach the database, not only "nothing ended for Ns"', async () => {
  await createDossiers(ctx.stack, [{ code: 'RW1' }]);
  // plain archives on purpose: the test above left this target's archives encrypted under a key no worker has
  const config = { ...ctx.stack.config, backupKeys: { ...ctx.stack.config.backupKeys, plainOnPurpose: true } };
  const activities = createActivities({ config, pools: ctx.stack.pools });
  let tries = 0;
  // the target's PostgreSQL away for the first four tries of the chunk (Temporal retries it: 1, 2, 4, 8 s), then back
  const backupChunk: typeof activities.backupChunk = async (input) => {
    if (++tries <= 4) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    return activities.backupChunk(input);
  };
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection, { activities: { ...activities, backupChunk } });
  await worker.runUntil(async () => {
    const run = await cli(['backup', 'run', '--all', '--only', 'RW1', '--wait']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/\nstill waiting: backupChunk failed \(attempt \d\): connect ECONNREFUSED 127\.0\.0\.1:1; Temporal tries again\n/);
    expect(run.stdout).toMatch(/\nbackup run \d+ completed: /);
  });
  expect(tries).toBe(5);
}, 120_000);

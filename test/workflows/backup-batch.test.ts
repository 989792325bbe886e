import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../workers/activities';
import { createMailTransport } from '../../workers/resources';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { verifyArchive } from '../../archive/engine';
import { generateDemoDossiers } from '../../registry/demo';
import { DOSSIER_IN_USE_MESSAGE, failureTypeOf } from '../../domain/failures';
import { type ItemStatus, reportLine } from '../../domain/backup-batch';
import { WorkflowFailedError } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { backupBatchProgressQuery, backupMailWorkflowId, batchResult, partialBatchResult, type BackupBatchInput, type BackupBatchResult } from '../../workflows/backup-batch.api';
import { NightshiftKind, NightshiftPhase, NightshiftTarget } from '../../workflows/search-attributes';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { createDossiers, freePort, ledger, modify, openSession, setCommon, startSmtp, waitFor } from './backup-batch-helpers';
import { startBackupBatch } from '../../starts';

/** The backup batch on the Temporal dev server with a real worker, PostgreSQL and SMTP server (R-BK-1 .. R-BK-8). */

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

async function stackWithMail(): Promise<{ stack: TestStack; smtpPort: number }> {
  const smtpPort = await freePort();
  const stack = await createTestStack({ NIGHTSHIFT_SMTP_PORT: String(smtpPort), NIGHTSHIFT_APP_NAME: 'Isacompta', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' });
  return { stack, smtpPort };
}

async function worker(stack: TestStack): Promise<{ worker: Worker; closeMail(): void }> {
  const mail = createMailTransport(stack.config);
  const w = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
  return { worker: w, closeMail: () => mail.close() };
}

async function runBatch(stack: TestStack, input: Partial<BackupBatchInput> = {}): Promise<BackupBatchResult> {
  const handle = await startBackupBatch(temporal.client, { target: 'main', ...input }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
  return batchResult(handle.result());
}

/** What the Web UI shows as the workflow's current details (markdown). */
async function currentDetails(handle: { query<R>(q: string): Promise<R> }): Promise<string> {
  return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
}

const reportOf = (r: BackupBatchResult) => fs.readFileSync(r.reportPath!, 'utf8');

/** A batch over three dossiers one of which cannot be written: partial, 2 ok and 1 failed; `check` reads the rest. The stack is closed after. */
async function oneOfThreeFails(stack: TestStack, check: (result: BackupBatchResult, items: Awaited<ReturnType<typeof ledger>>) => Promise<void>): Promise<void> {
  const { worker: w, closeMail } = await worker(stack);
  try {
    await w.runUntil(async () => {
      const result = await runBatch(stack);
      expect(result).toMatchObject({ state: 'partial', total: 3, ok: 2, failed: 1 });
      await check(result, await ledger(stack.pools.get('main'), result.runId));
    });
  } finally {
    closeMail();
    await stack.close();
  }
}
const lines = (...l: string[]) => l.map((x) => `${x}\r\n`).join('');

test('R-BK-2 selection and first run: every eligible dossier once, exclusions skipped, R-BK-7 report, then only modified ones (with continue-as-new)', async () => {
  const { stack } = await stackWithMail();
  const pool = stack.pools.get('main');
  await createDossiers(stack, [
    { code: 'A1' }, { code: 'A2' }, { code: 'A3' }, { code: 'A4' }, { code: 'A5' },
    { code: 'C1', copyStatus: 'copy' },
    { code: 'T1', flags: { template: true } },
    { code: 'X1', flags: { test: true } },
    { code: 'N1', flags: { transferable: false } },
  ]);
  const { worker: w, closeMail } = await worker(stack);
  try {
    await w.runUntil(async () => {
      // chunks of 1 and 2 chunks per workflow run: the batch continues as new several times
      const first = await runBatch(stack, { tuning: { chunkSize: 1, window: 2, maxChunksPerRun: 2 } });
      expect(first).toMatchObject({ state: 'completed', total: 6, ok: 6, failed: 0, mail: false });
      const items = await ledger(pool, first.runId);
      expect(items.map((i) => i.code).sort()).toEqual(['A1', 'A2', 'A3', 'A4', 'A5', 'C1']);
      for (const code of ['A1', 'A5', 'C1']) expect(fs.existsSync(path.join(stack.config.backupDir, `B${code}.SVG`))).toBe(true);
      for (const code of ['T1', 'X1', 'N1']) expect(fs.existsSync(path.join(stack.config.backupDir, `B${code}.SVG`))).toBe(false);
      expect(path.dirname(first.reportPath!)).toBe(path.join(stack.config.backupDir, 'log'));
      expect(path.basename(first.reportPath!)).toMatch(/^svgauto-\d{8}-\d{6}\.txt$/);
      // in code order, whatever order they ended in (seed 003's example)
      expect(reportOf(first)).toBe(lines(...['A1', 'A2', 'A3', 'A4', 'A5', 'C1'].map((c) => `Dossier ${c} : Traitement réussi`), '6 / 6 dossier(s) traité(s)', '0 / 6 dossier(s) en erreur(s)'));
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM nightshift.dossier WHERE last_backup_at IS NOT NULL');
      expect(rows[0].n).toBe(6);

      // nothing modified: nothing selected; then one modified dossier, and copies excluded by the common setting
      const second = await runBatch(stack);
      expect(second).toMatchObject({ state: 'completed', total: 0 });
      expect(reportOf(second)).toBe(lines('0 / 0 dossier(s) traité(s)', '0 / 0 dossier(s) en erreur(s)'));
      await modify(pool, 'A2');
      await modify(pool, 'C1');
      await setCommon(pool, 'dossiers', 'originals');
      const third = await runBatch(stack);
      expect((await ledger(pool, third.runId)).map((i) => i.code)).toEqual(['A2']);
      // --all ignores "modified only"; a dossier named by --only is taken even where R-BK-2 leaves it out of the
      // nightly selection (the template T1: the CLI says so)
      const all = await runBatch(stack, { all: true, only: ['A1', 'A3', 'T1'] });
      expect((await ledger(pool, all.runId)).map((i) => i.code).sort()).toEqual(['A1', 'A3', 'T1']);
      const nightly = await runBatch(stack, { all: true });
      expect((await ledger(pool, nightly.runId)).map((i) => i.code).sort()).toEqual(['A1', 'A2', 'A3', 'A4', 'A5']);
    });
  } finally {
    closeMail();
    await stack.close();
  }
});

test('R-BK-3 in use skipped with the seed error, R-BK-8 mail with both attachments, R-BK-4 failures first next run, retry', async () => {
  const { stack, smtpPort } = await stackWithMail();
  const pool = stack.pools.get('main');
  const smtp = await startSmtp(smtpPort);
  await createDossiers(stack, [{ code: 'P1' }, { code: 'P2' }, { code: 'P3' }, { code: 'P4' }]);
  await setCommon(pool, 'report-recipients', ['ops@example.com', 'boss@example.com']);
  const close = await openSession(pool, 'P3');
  const { worker: w, closeMail } = await worker(stack);
  try {
    await w.runUntil(async () => {
      const handle = await startBackupBatch(temporal.client, { target: 'main', tuning: { window: 1, concurrency: 1 } } satisfies BackupBatchInput, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      // issue 12: the partial run is a FAILED workflow (the list shows it), its whole result in the failure's details
      const outcome = await handle.result().then(() => undefined, (e: unknown) => e);
      expect(outcome).toBeInstanceOf(WorkflowFailedError);
      expect(failureTypeOf(outcome)).toBe('BackupBatchPartial');
      const first = partialBatchResult(outcome)!;
      expect(first).toMatchObject({ state: 'partial', total: 4, ok: 3, failed: 1, mail: true });
      expect(first.failures).toEqual([{ code: 'P3', status: 'in_use', error: expect.stringContaining('Echec du traitement') }]);
      expect(first.retryCommand).toBe(`nightshift backup retry --target main --run ${first.runId}`);
      expect(((await handle.describe()).status.name)).toBe('FAILED');
      const details = await currentDetails(handle);
      expect(details).toContain('**backup batch** on **main**: phase **partial**');
      expect(details).toContain('**4 / 4** dossiers · **1 failed**');
      expect(details).toMatch(/^- P3: Echec du traitement\. /m);
      expect(details).toContain(`\`nightshift backup retry --target main --run ${first.runId}\``);
      const report = reportOf(first);
      expect(report).toBe(
        lines(
          'Dossier P1 : Traitement réussi',
          'Dossier P2 : Traitement réussi',
          `Dossier P3 : ${DOSSIER_IN_USE_MESSAGE}`,
          'Dossier P4 : Traitement réussi',
          '3 / 4 dossier(s) traité(s)',
          '1 / 4 dossier(s) en erreur(s)',
        ),
      );
      expect(fs.existsSync(path.join(stack.config.backupDir, 'BP3.SVG'))).toBe(false);
      const progress = await handle.query(backupBatchProgressQuery);
      expect(progress).toMatchObject({ phase: 'partial', done: 4, ok: 3, inUse: 1, reportPath: first.reportPath });
      const desc = await handle.describe();
      expect(desc.typedSearchAttributes.get(NightshiftTarget)).toBe('main');
      expect(desc.typedSearchAttributes.get(NightshiftKind)).toBe('backup-batch');
      expect(desc.typedSearchAttributes.get(NightshiftPhase)).toBe('partial');

      const mail = await waitFor('the report mail', () => smtp.received[0]);
      expect(mail.to.sort()).toEqual(['boss@example.com', 'ops@example.com']);
      expect(mail.subject).toBe('Isacompta: Rapport de la sauvegarde des dossiers modifiés');
      expect(mail.text.trim()).toBe(
        'Des erreurs sont survenues pendant la sauvegarde des dossiers modifiés. Veuillez trouver ci-joint le rapport de traitement ainsi que la liste des dossiers en erreur',
      );
      expect(mail.attachments[path.basename(first.reportPath!)]?.toString('utf8')).toBe(report);
      expect(mail.attachments['Svgauto-DossiersEnErreur.isa']?.toString('utf8')).toBe('P3\r\n');
      await waitFor('mail_state sent', async () => (await pool.query('SELECT mail_state FROM nightshift.backup_run WHERE id = $1', [first.runId])).rows[0].mail_state === 'sent');
      // the mail's own workflow: what it is, in the list, and to whom it was sent (drill W, session 40)
      const mailHandle = temporal.client.workflow.getHandle(backupMailWorkflowId(handle.workflowId));
      await mailHandle.result();
      expect(await (await mailHandle.describe()).staticSummary()).toBe(`Mail the report of backup run ${first.runId} (target main)`);
      expect(await currentDetails(mailHandle)).toMatch(new RegExp(`^Report of backup run ${first.runId} mailed to (ops@example\\.com, boss@example\\.com|boss@example\\.com, ops@example\\.com)$`));

      // R-BK-4: next run takes P3 (failed last time) first, then the other modified dossiers in code order
      await close();
      await modify(pool, 'P1');
      await modify(pool, 'P4');
      const second = await runBatch(stack, { tuning: { window: 1, concurrency: 1 } });
      expect((await ledger(pool, second.runId)).map((i) => `${i.code}:${i.status}`)).toEqual(['P3:ok', 'P1:ok', 'P4:ok']);
      expect(second).toMatchObject({ state: 'completed', mail: false });
      expect(smtp.received).toHaveLength(1);

      // retry of a run's failures: only P3, even though it is not modified any more
      const retry = await runBatch(stack, { retryOf: first.runId, trigger: 'retry' });
      expect((await ledger(pool, retry.runId)).map((i) => i.code)).toEqual(['P3']);

      // R-BK-2, R-BK-4: a template the operator named (a window's --backup-only) that failed is retried, not dropped
      // by the nightly exclusions the named run did not apply (the retry used to end "completed, 0 / 0")
      await createDossiers(stack, [{ code: 'PT', flags: { template: true } }]);
      const closeTemplate = await openSession(pool, 'PT');
      const named = await runBatch(stack, { only: ['PT'], trigger: 'manual' }).catch((e: unknown) => partialBatchResult(e)!);
      expect(named).toMatchObject({ state: 'partial', failures: [expect.objectContaining({ code: 'PT' })] });
      await closeTemplate();
      const templateRetry = await runBatch(stack, { retryOf: named.runId, trigger: 'retry' });
      expect(templateRetry).toMatchObject({ state: 'completed', total: 1, ok: 1 });
      expect((await ledger(pool, templateRetry.runId)).map((i) => `${i.code}:${i.status}`)).toEqual(['PT:ok']);
    });
  } finally {
    closeMail();
    await smtp.close();
    await stack.close();
  }
});

test('R-BK-8 SMTP down then up: the batch completes with its report, the mail arrives once the server is back', async () => {
  const { stack, smtpPort } = await stackWithMail();
  const pool = stack.pools.get('main');
  await createDossiers(stack, [{ code: 'S1' }, { code: 'S2' }]);
  await setCommon(pool, 'report-recipients', ['ops@example.com']);
  await openSession(pool, 'S2');
  const { worker: w, closeMail } = await worker(stack);
  let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
  try {
    await w.runUntil(async () => {
      const result = await runBatch(stack);
      expect(result).toMatchObject({ state: 'partial', failed: 1, mail: true });
      expect(fs.existsSync(result.reportPath!)).toBe(true);
      // the mail workflow is retrying against a closed port
      const mailRun = temporal.client.workflow.getHandle(`${(await pool.query('SELECT workflow_id FROM nightshift.backup_run WHERE id = $1', [result.runId])).rows[0].workflow_id}/mail`);
      await waitFor('a failed mail attempt', async () => {
        const d = await mailRun.describe().catch(() => undefined);
        return d?.raw.pendingActivities?.some((a) => (a.attempt ?? 0) >= 2) ? true : undefined;
      });
      smtp = await startSmtp(smtpPort);
      const mail = await waitFor('the report mail after the outage', () => smtp!.received[0], 90_000);
      expect(mail.attachments['Svgauto-DossiersEnErreur.isa']?.toString('utf8')).toBe('S2\r\n');
      expect(await mailRun.result()).toEqual({ sent: true });
    });
  } finally {
    closeMail();
    await smtp?.close();
    await stack.close();
  }
});

test('unwritable destination: that dossier fails cleanly with the reason, the batch goes on, the report says why', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'U1' }, { code: 'U2' }, { code: 'U3' }]);
  // a folder where B{code}.SVG must go: the rename of the finished archive cannot succeed
  fs.mkdirSync(path.join(stack.config.backupDir, 'BU2.SVG'), { recursive: true });
  await oneOfThreeFails(stack, async (result, items) => {
    const u2 = items.find((i) => i.code === 'U2')!;
    expect(u2).toMatchObject({ status: 'failed', attempts: 3 });
    expect(u2.error).toMatch(/^Echec du traitement\. .*(EISDIR|directory)/);
    expect(reportOf(result)).toContain(`Dossier U2 : ${u2.error}\r\n`);
    expect(reportOf(result)).toMatch(/2 \/ 3 dossier\(s\) traité\(s\)\r\n1 \/ 3 dossier\(s\) en erreur\(s\)\r\n$/);
    expect(fs.readdirSync(stack.config.backupDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

test('R-BK-4 (drill K, session 39): one dossier\'s own generations folder refusing writes (chattr +i) fails that dossier, naming its folder; the batch goes on (it stopped, blaming the whole backup folder)', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'I1' }, { code: 'I2' }, { code: 'I3' }]);
  const own = path.join(stack.config.backupDir, 'generations', 'I2');
  fs.mkdirSync(own, { recursive: true });
  // root writes through permissions: an immutable folder refuses it as an operator's mistake or a storage policy would
  const frozen = spawnSync('chattr', ['+i', own], { encoding: 'utf8' });
  if (frozen.status !== 0) {
    console.warn(`chattr +i not available here (${(frozen.stderr || frozen.error?.message || '').trim()}): the immutable-folder case is not run`);
    await stack.close();
    return;
  }
  try {
    await oneOfThreeFails(stack, async (result, items) => {
      expect(items.map((i) => [i.code, i.status])).toEqual(expect.arrayContaining([['I1', 'ok'], ['I2', 'failed'], ['I3', 'ok']]));
      const i2 = items.find((i) => i.code === 'I2')!;
      expect(i2.error).toMatch(/^Echec du traitement\. (Error: )?EPERM: operation not permitted, .*generations\/I2\//);
      // not stopped: no stop reason naming the backup folder, nothing left not done
      expect(items.filter((i) => i.status === 'not_done')).toEqual([]);
      expect(reportOf(result)).not.toContain("n'est pas accessible en écriture");
      expect(fs.readdirSync(stack.config.backupDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  } finally {
    spawnSync('chattr', ['-i', own]);
  }
});

test('R-BK-6, R-BK-11: a registered dossier whose schema was dropped by hand fails, non-retried, with what to do; no empty archive takes its place (drill D)', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'SM1' }, { code: 'SM2' }]);
  const pool = stack.pools.get('main');
  const { rows } = await pool.query<{ schema_name: string }>(`SELECT schema_name FROM nightshift.dossier WHERE code = 'SM2'`);
  const schema = rows[0]!.schema_name;
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  const { worker: w, closeMail } = await worker(stack);
  try {
    await w.runUntil(async () => {
      const result = await runBatch(stack);
      expect(result).toMatchObject({ state: 'partial', total: 2, ok: 1, failed: 1 });
      const sm2 = (await ledger(pool, result.runId)).find((i) => i.code === 'SM2')!;
      // a permanent failure: one attempt, the reason and the way back
      expect(sm2).toMatchObject({ status: 'failed', attempts: 1 });
      expect(sm2.error).toContain(`the schema ${schema} of dossier SM2 is not in the database (dropped?): nothing was backed up and its archives are kept; 'nightshift backup list SM2' shows them, 'nightshift backup restore SM2 --at DATE --replace' brings one back`);
      expect(reportOf(result)).toContain(`Dossier SM2 : ${sm2.error}\r\n`);
      // no generation, no B{code}.SVG, no temporary file
      expect((await pool.query(`SELECT 1 FROM nightshift.backup_generation WHERE code = 'SM2'`)).rowCount).toBe(0);
      expect(fs.existsSync(path.join(stack.config.backupDir, 'BSM2.SVG'))).toBe(false);
      expect(fs.readdirSync(stack.config.backupDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });
  } finally {
    closeMail();
    await stack.close();
  }
});

test('R-BK-1 single flight: a second claim while a run is running is refused, also when two claims race', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'R1' }]);
  const acts = createBackupBatchActivities({ config: stack.config, pools: stack.pools });
  const results = await Promise.allSettled([
    acts.claimBackupRun({ target: 'main', workflowId: 'backup/main/one' }),
    acts.claimBackupRun({ target: 'main', workflowId: 'backup/main/two' }),
  ]);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  expect(refused.reason).toMatchObject({ type: 'BackupAlreadyRunning', nonRetryable: true });
  expect(String(refused.reason.message)).toMatch(/backup run \d+ \(backup\/main\/(one|two)\) is already running/);
  // the same workflow claiming again (its first attempt's worker died) gets its own run back
  const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ runId: number }>).value;
  const wfId = (await stack.pools.get('main').query('SELECT workflow_id FROM nightshift.backup_run WHERE id = $1', [winner.runId])).rows[0].workflow_id;
  expect((await acts.claimBackupRun({ target: 'main', workflowId: wfId })).runId).toBe(winner.runId);
  // an unknown run to retry is refused
  await acts.finishBackupRun({ target: 'main', runId: winner.runId, endedEarly: true });
  await expect(acts.claimBackupRun({ target: 'main', workflowId: 'backup/main/three', retryOf: 99999 })).rejects.toMatchObject({ type: 'InvalidInput' });
  await stack.close();
});

test('R-BK-7 cancellation ends the run early: the report of what was done is still written with the dossiers not attempted, the run is failed', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'K1' }, { code: 'K2' }, { code: 'K3' }, { code: 'K4' }]);
  const pool = stack.pools.get('main');
  const gate = { open: false };
  const acts = createActivities({ config: stack.config, pools: stack.pools });
  const slow = createBackupBatchActivities({ config: stack.config, pools: stack.pools }, {
    beforeDossier: async (code) => {
      // held until the gate opens or the cancellation reaches the chunk (the run is closed once its chunk has ended)
      const signal = Context.current().cancellationSignal;
      if (code !== 'K1') await waitFor('gate', () => gate.open || signal.aborted || undefined, 60_000).catch(() => {});
    },
  });
  const w = await createTestWorker(stack, temporal.nativeConnection, { activities: { ...acts, ...slow } });
  try {
    await w.runUntil(async () => {
      const handle = await startBackupBatch(temporal.client, { target: 'main', tuning: { window: 1, concurrency: 1, heartbeatTimeout: '5s' } } satisfies BackupBatchInput, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      await waitFor('K1 in the ledger', async () => ((await pool.query('SELECT 1 FROM nightshift.backup_run_item')).rowCount ? true : undefined));
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      gate.open = true;
      const { rows } = await pool.query('SELECT state, report_path, total, ok FROM nightshift.backup_run');
      // the dossiers never attempted are in the report as not done (it said "1 / 1 traité(s)" of a run of 4), and a retry takes them
      expect(rows[0]).toMatchObject({ state: 'failed', total: 4, ok: 1 });
      const notDone = 'Non traité. La sauvegarde a été annulée avant ce dossier.';
      // said in English on the run (the Web UI, `backup status`), in French in the report (R-BK-7)
      expect(fs.readFileSync(rows[0].report_path, 'utf8')).toBe(
        lines(
          'Dossier K1 : Traitement réussi',
          `Dossier K2 : ${notDone}`,
          `Dossier K3 : ${notDone}`,
          `Dossier K4 : ${notDone}`,
          // R-OP-1: the dossiers not attempted said apart, with why, as `backup status` and the details say them
          '3 / 4 dossier(s) non traité(s), comptés en erreur : La sauvegarde a été annulée avant ce dossier.',
          '1 / 4 dossier(s) traité(s)',
          '3 / 4 dossier(s) en erreur(s)',
        ),
      );
      const { rows: items } = await pool.query(`SELECT code, status FROM nightshift.backup_run_item ORDER BY code`);
      expect(items).toEqual([{ code: 'K1', status: 'ok' }, ...['K2', 'K3', 'K4'].map((code) => ({ code, status: 'not_done' }))]);
      // R-OP-1: the Web UI's details count what the ledger says (the cut chunk never reported K1): 1 done, none failed, 3 not
      // attempted with why (as `backup status` says it), the dossiers not done listed
      const details = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
      expect(details).toContain('**1 / 4** dossiers · 0 failed');
      expect(details).toContain('1 / 4 dossier(s) backed up; 3 not backed up: 0 in use, 0 failed, 3 not attempted (the batch stopped before them: the batch was cancelled; the next run takes them first)');
      expect(details).toContain('- K4: not attempted (the batch stopped before it)');
    });
  } finally {
    gate.open = true;
    await stack.close();
  }
});

test('issue 10: a dossier that takes 25 s (longer than the default 10 s heartbeat timeout) keeps its chunk alive: one attempt, no retry', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'L1' }, { code: 'L2' }]);
  const attempts: number[] = [];
  const slow = createBackupBatchActivities({ config: stack.config, pools: stack.pools }, {
    beforeDossier: async (code) => {
      attempts.push(Context.current().info.attempt);
      // a dossier held by a lock, or a large one: the chunk heartbeats from its timer meanwhile
      if (code === 'L1') await new Promise((r) => setTimeout(r, 25_000));
    },
  });
  const w = await createTestWorker(stack, temporal.nativeConnection, { activities: { ...createActivities({ config: stack.config, pools: stack.pools }), ...slow } });
  try {
    await w.runUntil(async () => {
      const result = await runBatch(stack, { tuning: { window: 1, concurrency: 1 } });
      expect(result).toMatchObject({ state: 'completed', total: 2, ok: 2 });
      expect(attempts).toEqual([1, 1]);
    });
  } finally {
    await stack.close();
  }
});

test('issue 12: while one dossier stalls its chunk, the details are refreshed from the ledger (done, the dossier in flight and for how long, ETA unknown) and the heartbeat says {current, done, of}', async () => {
  const { stack } = await stackWithMail();
  await createDossiers(stack, [{ code: 'G1' }, { code: 'G2' }, { code: 'G3' }, { code: 'G4' }]);
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const slow = createBackupBatchActivities({ config: stack.config, pools: stack.pools }, { beforeDossier: (code) => (code === 'G3' ? released : Promise.resolve()) });
  const w = await createTestWorker(stack, temporal.nativeConnection, { activities: { ...createActivities({ config: stack.config, pools: stack.pools }), ...slow } });
  try {
    await w.runUntil(async () => {
      const handle = await startBackupBatch(temporal.client, { target: 'main', tuning: { chunkSize: 10, window: 1, concurrency: 1 } } satisfies BackupBatchInput, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      // one chunk holds all four: only the ledger can say that two ended while it runs
      const stalled = await waitFor('details refreshed from the ledger while the chunk stalls', async () => {
        const d = await currentDetails(handle).catch(() => '');
        return d.includes('ETA unknown (nothing ended for') ? d : undefined;
      }, 90_000);
      expect(stalled).toContain('phase **running**');
      expect(stalled).toContain('**2 / 4** dossiers · 0 failed');
      expect(stalled).toMatch(/In flight: G3 for \d+ s/);
      expect(stalled).toMatch(/Follow it: `nightshift backup status \d+ --target main`/);
      const progress = await handle.query(backupBatchProgressQuery);
      expect(progress).toMatchObject({ done: 2, etaSeconds: null });
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const beat = pending[0]?.heartbeatDetails?.payloads?.[0];
      expect(beat && defaultPayloadConverter.fromPayload(beat)).toMatchObject({ current: [{ code: 'G3' }], done: 2, of: 4 });
      release();
      const result = await batchResult(handle.result());
      expect(result).toMatchObject({ state: 'completed', total: 4, ok: 4, failures: [], retryCommand: null });
    });
  } finally {
    release();
    await stack.close();
  }
});

/**
 * A real full file system: a 256 KB tmpfs (root can mount one; elsewhere the test is skipped, saying why).
 * Mounted while Jest collects the tests, so that the skip is decided before any test runs.
 */
const fullDisk = ((): string | undefined => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    console.warn('full-disk test skipped: cannot mount a small tmpfs here (needs root)');
    fs.rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
})();
afterAll(() => {
  if (fullDisk) execFileSync('umount', [fullDisk]);
});

(fullDisk ? test : test.skip)('full backup folder (ENOSPC): the batch stops at the first dossier that does not fit, the rest is recorded not done, report and mail say the folder is full, no temp file; with room again the retry takes them', async () => {
  const { stack, smtpPort } = await stackWithMail();
  const pool = stack.pools.get('main');
  const smtp = await startSmtp(smtpPort);
  await createDossiers(stack, [{ code: 'F1' }, { code: 'F3' }, { code: 'F4' }, { code: 'F5' }, { code: 'F6' }]);
  // ~1 MB of rows: its archive cannot fit in 256 KB; the empty dossiers take a few KB each
  const [big] = await generateDemoDossiers(pool, { target: 'main', count: 1, sizeKb: 1024, prefix: 'F2BIG' });
  await setCommon(pool, 'folder', fullDisk);
  await setCommon(pool, 'report-recipients', ['ops@example.com']);
  // one dossier at a time: which dossiers are done before the stop is then known (F1 only)
  const concurrency = 1;
  const { worker: w, closeMail } = await worker(stack);
  try {
    await w.runUntil(async () => {
      const handle = await startBackupBatch(temporal.client, { target: 'main', tuning: { chunkSize: 10, window: 1, concurrency } } satisfies BackupBatchInput, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
      // a non-retryable typed failure: the destination, not a dossier
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      expect(failureTypeOf(err)).toBe('DestinationUnavailable');
      const { rows: runs } = await pool.query('SELECT id, state, stop_reason, report_path, total, failed FROM nightshift.backup_run');
      const run = runs[0];
      expect(run.state).toBe('failed');
      // English on the run (`backup status`, the Web UI), French in the report and the mail (R-BK-7, R-BK-8)
      expect(run.stop_reason).toContain(`the backup folder ${fullDisk} is full (ENOSPC); free space in it`);

      const items = await ledger(pool, Number(run.id));
      const byCode = Object.fromEntries(items.map((i) => [i.code, i]));
      // every selected dossier once; the batch stopped at once: at most `concurrency` dossiers failed, each tried once
      expect(items.map((i) => i.code).sort()).toEqual(['F1', big, 'F3', 'F4', 'F5', 'F6'].sort());
      const failed = items.filter((i) => i.status === 'failed');
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed.length).toBeLessThanOrEqual(concurrency);
      expect(byCode[big!]).toMatchObject({ status: 'failed', attempts: 1 });
      for (const f of failed) expect(f.error).toMatch(/^Echec du traitement\. .*(ENOSPC|no space)/i);
      expect(byCode.F1).toMatchObject({ status: 'ok' });
      for (const code of ['F3', 'F4', 'F5', 'F6']) {
        expect(byCode[code]).toMatchObject({ status: 'not_done', attempts: 0 });
        expect(byCode[code]!.error).toBe(`Non traité. ${run.stop_reason}`);
        expect(fs.existsSync(path.join(fullDisk!, `B${code}.SVG`))).toBe(false);
      }
      for (const i of items.filter((x) => x.status === 'ok')) expect((await verifyArchive(path.join(fullDisk!, `B${i.code}.SVG`))).code).toBe(i.code);
      expect(fs.existsSync(path.join(fullDisk!, `B${big}.SVG`))).toBe(false);
      const notOk = items.filter((i) => i.status !== 'ok');

      // the report (in the folder, or under the data folder when even it did not fit) names every dossier and why
      const report = fs.readFileSync(run.report_path, 'utf8');
      for (const i of notOk) expect(report).toContain(`${reportLine(i.code, i.status as ItemStatus, i.error)}\r\n`);
      expect(report).toContain(`Dossier F3 : Non traité. La sauvegarde a été arrêtée : le dossier de sauvegarde ${fullDisk} est plein (ENOSPC).`);
      expect(report).toContain('est plein (ENOSPC)');
      expect(report).toMatch(new RegExp(`${notOk.length} / 6 dossier\\(s\\) en erreur\\(s\\)\r\n$`));
      // the mail says the folder is full and what to do
      const mail = await waitFor('the report mail', () => smtp.received[0], 60_000);
      expect(mail.text).toContain(`le dossier de sauvegarde ${fullDisk} est plein (ENOSPC)`);
      expect(mail.text).toContain('nightshift backup retry');
      expect(mail.attachments['Svgauto-DossiersEnErreur.isa']?.toString('utf8').split('\r\n').filter(Boolean).sort()).toEqual(notOk.map((i) => i.code).sort());
      expect(fs.readdirSync(fullDisk!).filter((f) => f.includes('.tmp'))).toEqual([]);
      // R-BK-6: no last-backup date for a dossier whose file never became complete
      expect((await pool.query('SELECT last_backup_at FROM nightshift.dossier WHERE code = $1', [big])).rows[0].last_backup_at).toBeNull();

      // room again: the retry of that run takes every dossier not done, and they are backed up
      execFileSync('mount', ['-o', 'remount,size=8m', fullDisk!], { stdio: 'ignore' });
      const retry = await runBatch(stack, { retryOf: Number(run.id), trigger: 'retry' });
      expect(retry).toMatchObject({ state: 'completed', total: notOk.length, ok: notOk.length });
      for (const i of notOk) expect((await verifyArchive(path.join(fullDisk!, `B${i.code}.SVG`))).code).toBe(i.code);
      expect(fs.readdirSync(fullDisk!).filter((f) => f.includes('.tmp'))).toEqual([]);
    });
  } finally {
    closeMail();
    await smtp.close();
    await stack.close();
    for (const f of fs.readdirSync(fullDisk!)) fs.rmSync(path.join(fullDisk!, f), { recursive: true, force: true });
  }
});

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { createBackupActivities } from '../../activities/backup';
import { WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../workers/activities';
import { createMailTransport } from '../../workers/resources';
import { failureTypeOf } from '../../domain/failures';
import { startBackupBatch, startBackupVerify } from '../../starts';
import { batchResult } from '../../workflows/backup-batch.api';
import { BACKUP_VERIFY_PROBLEMS, type BackupVerifyResult, batchVerifyWorkflowId, problemsVerifyResult, verifyResult } from '../../workflows/backup-verify.api';
import { NightshiftKind } from '../../workflows/search-attributes';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { scratchSchemas } from '../../store/verify/scratch-schema';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { createDossiers, freePort, setCommon, startSmtp, waitFor } from './backup-batch-helpers';

/** The verification workflow (R-BK-13) on the Temporal dev server with a real worker, PostgreSQL and SMTP server. */

let temporal: Awaited<ReturnType<typeof devServerClient>>;
const children: ChildProcess[] = [];
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await temporal?.close();
});

async function setup(): Promise<{ stack: TestStack; worker: Worker; smtp: Awaited<ReturnType<typeof startSmtp>>; close(): Promise<void> }> {
  const smtpPort = await freePort();
  const stack = await createTestStack({ NIGHTSHIFT_SMTP_PORT: String(smtpPort), NIGHTSHIFT_APP_NAME: 'Isacompta', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' });
  const smtp = await startSmtp(smtpPort);
  const mail = createMailTransport(stack.config);
  const worker = await createTestWorker(stack, temporal.nativeConnection, { activities: createActivities({ config: stack.config, pools: stack.pools, mail }) });
  return {
    stack,
    worker,
    smtp,
    async close() {
      mail.close();
      await smtp.close();
      await stack.close();
    },
  };
}

/** What the Web UI shows as the workflow's current details (markdown). */
async function currentDetails(handle: { query<R>(q: string): Promise<R> }): Promise<string> {
  return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
}

test('R-BK-13, R-OP-1: after a batch, what it wrote is verified by a child of its own (no problem, no mail); the run is in the verify ledger; the details count generations and the restored ones', async () => {
  const { stack, worker, smtp, close } = await setup();
  const pool = stack.pools.get('main');
  try {
    await createDossiers(stack, [{ code: 'W1' }, { code: 'W2' }, { code: 'W3' }]);
    await setCommon(pool, 'report-recipients', ['ops@example.com']);
    await worker.runUntil(async () => {
      const batch = await startBackupBatch(temporal.client, { target: 'main' }, { taskQueue: stack.config.temporal.taskQueue });
      const b = await batchResult(batch.result());
      expect(b).toMatchObject({ state: 'completed', ok: 3 });
      const run = await waitFor('the verify run of the batch', async () => (await pool.query('SELECT id, workflow_id FROM nightshift.verify_run WHERE backup_run_id = $1', [b.runId])).rows[0]);
      expect(run.workflow_id).toBe(batchVerifyWorkflowId(batch.workflowId));
      const handle = temporal.client.workflow.getHandle(run.workflow_id);
      const r = await verifyResult(handle.result());
      expect(r).toMatchObject({ state: 'completed', total: 3, ok: 3, problems: 0, mail: false, nextCommand: null });
      expect(r.restored).toBeGreaterThanOrEqual(1);
      const d = await handle.describe();
      expect(d.parentExecution?.workflowId).toBe(batch.workflowId);
      expect(d.typedSearchAttributes.get(NightshiftKind)).toBe('backup-verify');
      // R-OP-1: what the CLI says of it (generations, how many restored), the Web UI's details say too
      const details = await currentDetails(handle);
      expect(details).toContain('**backup verify** on **main**: phase **completed**');
      expect(details).toContain('**3 / 3** generations · 0 with a problem');
      expect(details).toContain(`${r.restored} generation(s) restored into a scratch schema and compared (seed ${r.seed})`);
      for (const code of ['W1', 'W2', 'W3']) expect((await dossierGenerations(pool, code))[0]).toMatchObject({ verifyState: 'ok' });
    });
    expect(smtp.received).toEqual([]);
    expect(await scratchSchemas(pool)).toEqual([]);
  } finally {
    await close();
  }
});

test('R-BK-13, R-OP-1: corrupt and missing generations over everything kept (continue-as-new): the run FAILS visibly, the report and the mail name dossier and generation', async () => {
  const { stack, worker, smtp, close } = await setup();
  const pool = stack.pools.get('main');
  try {
    await createDossiers(stack, [{ code: 'V1' }, { code: 'V2' }, { code: 'V3' }, { code: 'V4' }, { code: 'V5' }]);
    await setCommon(pool, 'report-recipients', ['ops@example.com']);
    await worker.runUntil(async () => {
      const b = await batchResult((await startBackupBatch(temporal.client, { target: 'main' }, { taskQueue: stack.config.temporal.taskQueue })).result());
      // the batch's own verification first (clean), so that the damage below is found by the run under test only
      await waitFor('the batch verify run', async () => (await pool.query(`SELECT state FROM nightshift.verify_run WHERE backup_run_id = $1 AND state <> 'running'`, [b.runId])).rows[0]);
      const [v2] = await dossierGenerations(pool, 'V2');
      const [v4] = await dossierGenerations(pool, 'V4');
      // a flipped byte (in a copy replacing the file: the latest name keeps the original inode) and a missing file
      const bytes = Buffer.from(fs.readFileSync(v2!.file));
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      fs.rmSync(v2!.file);
      fs.writeFileSync(v2!.file, bytes, { mode: 0o600 });
      // gone with its other name (B{code}.SVG): a name left holding it would put it back
      for (const f of [v4!.file, ...v4!.links]) fs.rmSync(f);

      const handle = await startBackupVerify(
        temporal.client,
        { target: 'main', full: true, tuning: { chunkSize: 1, window: 1, maxChunksPerRun: 2 } },
        { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-verify/main/${crypto.randomUUID()}`, searchAttributes: true },
      );
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(failureTypeOf(err)).toBe(BACKUP_VERIFY_PROBLEMS);
      const r = problemsVerifyResult(err) as BackupVerifyResult;
      expect(r).toMatchObject({ state: 'problems', total: 5, ok: 3, problems: 2, restored: 3, mail: true, nextCommand: 'nightshift backup run --all --only V2,V4 --target main' });
      expect(r.failures.map((f) => [f.code, f.status])).toEqual(expect.arrayContaining([['V2', 'corrupt'], ['V4', 'missing']]));
      // continue-as-new happened: the chain has more than one run
      expect((await handle.describe()).runId).not.toBe(handle.firstExecutionRunId);

      // the Web UI: the problems as `- CODE: reason` and the next command
      const details = await currentDetails(temporal.client.workflow.getHandle(handle.workflowId));
      expect(details).toContain('phase **problems**');
      // R-OP-1: counted as the CLI counts them (`3 / 5 generation(s) ok, 2 with a problem, 3 restored …`)
      expect(details).toContain('**5 / 5** generations · **2 with a problem**');
      expect(details).toContain(`3 generation(s) restored into a scratch schema and compared (seed ${r.seed})`);
      expect(details).toMatch(/^- V2: sauvegarde du \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [\w/]+ \(BV2\.\d{8}T\d{6}Z\.[0-9a-f]{6}\.SVG\) : SHA-256 [0-9a-f]{12}… au lieu de [0-9a-f]{12}… à l'écriture; invalid archive/m);
      // R-OP-1: the date's zone is said, as `backup verify status` says it (the line is cut at the details' width)
      expect(details).toMatch(/^- V4: sauvegarde du \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Europe\/Paris \(BV4\.[^)]+\) : le fichier .* n'existe p/m);
      expect(details).toContain('Next: back up these dossiers again: `nightshift backup run --all --only V2,V4 --target main`');

      const report = fs.readFileSync(r.reportPath!, 'utf8');
      expect(report).toMatch(new RegExp(`^Dossier V2 : sauvegarde du [^(]+\\(${v2!.file.replace(/\./g, '\\.')}\\) : Sauvegarde corrompue\\. SHA-256 [0-9a-f]{12}… au lieu de [0-9a-f]{12}… à l'écriture; invalid archive`, 'm'));
      expect(report).toMatch(/^Dossier V4 : sauvegarde du [^(]+\(.*\) : Fichier de sauvegarde absent\. /m);
      expect(report).toContain('3 / 5 sauvegarde(s) vérifiée(s)\r\n2 / 5 sauvegarde(s) en erreur(s)\r\n');

      const mail = await waitFor('the verify report mail', () => smtp.received.find((m) => m.subject.includes('vérification')));
      expect(mail.to).toEqual(['ops@example.com']);
      expect(mail.subject).toBe('Isacompta: Rapport de la vérification des sauvegardes');
      expect(mail.text).toContain('Des erreurs ont été trouvées pendant la vérification des sauvegardes');
      // the run's own next steps, as the CLI prints them (not one sentence for every cause)
      expect(mail.text).toContain('- back up these dossiers again\r\n  nightshift backup run --all --only V2,V4 --target main');
      expect(mail.attachments[path.basename(r.reportPath!)]?.toString('utf8')).toBe(report);
      expect(mail.attachments['Svgverif-DossiersEnErreur.isa']?.toString('utf8')).toBe('V2\r\nV4\r\n');
      await waitFor('mail_state sent', async () => (await pool.query('SELECT mail_state FROM nightshift.verify_run WHERE id = $1', [r.runId])).rows[0].mail_state === 'sent');

      // the same damage found again: still reported (the run fails, the report says it), mailed no more
      const again = await startBackupVerify(
        temporal.client,
        { target: 'main', codes: ['V2', 'V4'] },
        { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-verify/main/${crypto.randomUUID()}`, searchAttributes: true },
      );
      const second = problemsVerifyResult(await again.result().then(() => undefined, (e: unknown) => e)) as BackupVerifyResult;
      expect(second).toMatchObject({ state: 'problems', problems: 2, mail: false });
      expect(second.failures.every((f) => f.error?.includes('(signalé déjà) '))).toBe(true);
      expect(fs.readFileSync(second.reportPath!, 'utf8')).toMatch(/^Dossier V2 : .* : Sauvegarde corrompue\. \(signalé déjà\) SHA-256/m);
    });
    expect(await scratchSchemas(pool)).toEqual([]);
  } finally {
    await close();
  }
});

/** A real worker in a child process (test/workflows/fixtures/verify-worker.ts), each generation slowed down. */
async function startWorkerProcess(stack: TestStack): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/workflows/fixtures/verify-worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      NIGHTSHIFT_DATA_DIR: stack.dataDir,
      TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      NIGHTSHIFT_METRICS_PORT: String(await freePort()),
      NIGHTSHIFT_LOG_LEVEL: 'error',
      NS_TEST_GENERATION_DELAY_MS: '300',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the worker to start', () => (out.includes('worker ready') ? true : child.exitCode !== null ? Promise.reject(new Error(out)) : undefined), 90_000);
  return child;
}

test('R-BK-13 crash and resume: a worker SIGKILLed mid-verification (leases held), a new worker finishes: each generation once, no scratch schema, no lease left (the retried chunk releases those of the killed attempt)', async () => {
  const stack = await createTestStack();
  const pool = stack.pools.get('main');
  try {
    const codes = Array.from({ length: 12 }, (_, i) => `K${String(i).padStart(2, '0')}`);
    await createDossiers(stack, codes.map((code) => ({ code })));
    const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
    for (const code of codes) await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    const first = await startWorkerProcess(stack);
    const handle = await startBackupVerify(
      temporal.client,
      { target: 'main', full: true, tuning: { chunkSize: 4, window: 2, concurrency: 2, heartbeatTimeout: '3s' } },
      { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-verify/main/${crypto.randomUUID()}` },
    );
    const items = async () => (await pool.query('SELECT count(*)::int AS n FROM nightshift.verify_run_item')).rows[0].n as number;
    await waitFor('a few generations verified', async () => ((await items()) >= 3 ? true : undefined), 90_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(await items()).toBeLessThan(codes.length);

    const second = await startWorkerProcess(stack);
    const r = await verifyResult(handle.result());
    expect(r).toMatchObject({ state: 'completed', total: codes.length, ok: codes.length, problems: 0, restored: codes.length });
    const { rows } = await pool.query<{ code: string }>('SELECT code FROM nightshift.verify_run_item WHERE run_id = $1 ORDER BY code', [r.runId]);
    expect(rows.map((x) => x.code)).toEqual(codes);
    expect(await scratchSchemas(pool)).toEqual([]);
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.backup_generation_lease')).rows[0].n).toBe(0);
    second.kill('SIGTERM');
    await new Promise((res) => second.once('exit', res));
  } finally {
    await stack.close();
  }
});

import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../config/config';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { backupDossierArchive } from '../../archive/engine';
import { loadBackupKeyring } from '../../archive/keys';
import { createActivities } from '../../workers/activities';
import { generationObjectName } from '../../offsite/keys';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { documentsFolder } from '../../registry/documents';
import { startBackupBatch } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { batchResult, partialBatchResult, type BackupBatchInput, type BackupBatchResult } from '../../workflows/backup-batch.api';
import { problemsVerifyResult, verifyResult } from '../../workflows/backup-verify.api';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { createDossiers, freePort, ledger, setCommon, waitFor } from '../workflows/backup-batch-helpers';

/**
 * R-BK-14, issue 13.4: the backup batch copies each dossier's new generation to the S3-compatible store in the
 * dossier's own step (done = archived and copied), on real servers: the Temporal dev server, PostgreSQL and
 * versitygw. The storage killed mid-upload fails those dossiers clearly and the batch goes on; a worker
 * SIGKILLed mid-upload leaves no visible partial object and no dossier counted twice.
 */

const MiB = 1024 * 1024;
let temporal: Awaited<ReturnType<typeof devServerClient>>;
let s3: S3TestServer;
let admin: S3Client;
const children: ChildProcess[] = [];

beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
  s3 = await startS3Server();
  admin = s3.client();
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  admin?.destroy();
  await s3?.stop();
  await temporal?.close();
});

/** each test its own prefix in the one bucket */
function s3Env(prefix: string): Record<string, string> {
  return s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: prefix, NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5', NIGHTSHIFT_OFFSITE_S3_CONCURRENCY: '1' });
}

async function stackWithS3(prefix: string): Promise<{ stack: TestStack; store: OffsiteStore }> {
  const stack = await createTestStack(s3Env(prefix));
  return { stack, store: createOffsiteStore(stack.config.offsite!) };
}

/** random (incompressible) documents make the dossier's archive about `mib` MiB: a multipart upload of 5 MiB parts */
async function withDocuments(stack: TestStack, codes: string[], mib: number): Promise<void> {
  await setCommon(stack.pools.get('main'), 'documents', true);
  for (const code of codes) {
    const dir = documentsFolder(stack.config.documentsDir, 'main', code);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'scan.bin'), crypto.randomBytes(mib * MiB));
  }
}

function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function runBatch(stack: TestStack, input: Partial<BackupBatchInput> = {}): Promise<BackupBatchResult> {
  const handle = await startBackupBatch(temporal.client, { target: 'main', ...input }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` });
  return batchResult(handle.result()).catch((e: unknown) => {
    const partial = partialBatchResult(e);
    if (partial) return partial;
    throw e;
  });
}

/** unfinished multipart uploads under a prefix, with their part counts */
async function unfinished(prefix: string): Promise<{ key: string; parts: number }[]> {
  const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: prefix }));
  const out: { key: string; parts: number }[] = [];
  for (const u of r.Uploads ?? []) {
    // an upload listed may complete (or be aborted) before its parts are listed: it is no longer unfinished
    const parts = await admin.send(new ListPartsCommand({ Bucket: s3.bucket, Key: u.Key!, UploadId: u.UploadId! })).catch((err: Error) => {
      if (err.name === 'NoSuchUpload') return undefined;
      throw err;
    });
    if (parts) out.push({ key: u.Key!, parts: parts.Parts?.length ?? 0 });
  }
  return out;
}

/** The dossier's generations of the run are copied: one object each, named after its file, SHA-256 matching the local file (read back). */
async function expectCopied(stack: TestStack, store: OffsiteStore, code: string, runId: number): Promise<void> {
  const gens = (await dossierGenerations(stack.pools.get('main'), code)).filter((g) => g.runId === runId);
  expect(gens).toHaveLength(1);
  const g = gens[0]!;
  const sha256 = sha256File(g.file);
  expect(g).toMatchObject({ offsiteState: 'copied', offsiteBucket: s3.bucket, offsiteKey: store.keyOf('main', code, generationObjectName(g)), sha256, offsiteError: null });
  expect(await store.checkObject(g.offsiteKey!, { size: g.size, sha256 }, { readBack: true })).toMatchObject({ status: 'ok' });
}

test('R-BK-14: a batch with off-site copies configured copies every archive: one object per generation under <prefix><target>/<code>/<its file name>, SHA-256 matching, rows copied', async () => {
  const { stack, store } = await stackWithS3('copies/');
  const codes = ['C1', 'C2', 'C3', 'C4', 'C5'];
  await createDossiers(stack, codes.map((code) => ({ code })));
  const w = await createTestWorker(stack, temporal.nativeConnection);
  try {
    await w.runUntil(async () => {
      const first = await runBatch(stack, { tuning: { chunkSize: 2, concurrency: 2 } });
      expect(first).toMatchObject({ state: 'completed', total: 5, ok: 5, failed: 0 });
      for (const code of codes) await expectCopied(stack, store, code, first.runId);
      const listed = await store.listDossier('main', 'C1');
      expect(listed).toHaveLength(1);
      expect(listed[0]!.name).toMatch(/^BC1\.\d{8}T\d{6}Z\.[0-9a-f]{6}\.SVG$/);

      // the next backup of a dossier is an object of its own: the newest object is the latest
      const again = await runBatch(stack, { all: true, only: ['C1'] });
      expect(again).toMatchObject({ state: 'completed', ok: 1 });
      await expectCopied(stack, store, 'C1', again.runId);
      const both = (await store.listDossier('main', 'C1')).sort((a, b) => a.name.localeCompare(b.name));
      expect(both).toHaveLength(2);
      const [latest, earlier] = await dossierGenerations(stack.pools.get('main'), 'C1');
      // names sort by snapshot time to the second: two backups within the same second differ only by their random part
      expect(both.map((o) => o.key).sort()).toEqual([latest!.offsiteKey, earlier!.offsiteKey].sort());
      if (Math.floor(latest!.snapshotAt.getTime() / 1000) !== Math.floor(earlier!.snapshotAt.getTime() / 1000)) expect(both[1]!.key).toBe(latest!.offsiteKey);
    });
  } finally {
    store.close();
    await stack.close();
  }
});

test('R-BK-14: the S3 server killed mid-upload: those dossiers fail with "off-site copy failed", the batch goes on, nothing counted done for them; a retry after the server returns copies them', async () => {
  const { stack, store } = await stackWithS3('killed/');
  const pool = stack.pools.get('main');
  const codes = ['K1', 'K2', 'K3', 'K4', 'K5', 'K6'];
  await createDossiers(stack, codes.map((code) => ({ code })));
  await withDocuments(stack, codes, 12);
  // one dossier at a time, so that the kill lands in the middle of one upload
  const acts = createActivities({ config: stack.config, pools: stack.pools });
  const w: Worker = await createTestWorker(stack, temporal.nativeConnection, { activities: acts });
  try {
    await w.runUntil(async () => {
      const done = runBatch(stack, { tuning: { chunkSize: 3, window: 1, concurrency: 1 } });
      // K1 copied whole, then the storage dies while some parts of a later dossier are up
      await waitFor('a dossier copied and the next one uploading', async () => {
        const ok = (await pool.query("SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE offsite_state = 'copied'")).rows[0].n as number;
        return ok >= 1 && (await unfinished('killed/')).some((u) => u.parts >= 1) ? true : undefined;
      }, 120_000);
      await s3.kill();
      const first = await done;
      expect(first.state).toBe('partial');
      const items = await ledger(pool, first.runId);
      expect(items.map((i) => i.code).sort()).toEqual(codes);
      const ok = items.filter((i) => i.status === 'ok').map((i) => i.code);
      const failed = items.filter((i) => i.status !== 'ok');
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(first).toMatchObject({ total: 6, ok: ok.length, failed: failed.length });
      // what the operator reads in the ledger and the report: the dossier, the object, the network's own word, the
      // bucket and endpoint; the dossiers after the first failure within 30 s are not tried (the storage is away)
      const cause = /off-site copy failed: off-site storage failed while uploading killed\/main\/K\d\/BK\d\.\d{8}T\d{6}Z\.[0-9a-f]{6}\.SVG \((ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|TimeoutError|RequestTimeout)[^)]*, bucket nightshift-offsite at http:\/\/127\.0\.0\.1:\d+\)/;
      expect(failed[0]!.error).toMatch(cause);
      for (const f of failed) {
        expect(f.status).toBe('failed');
        if (!/not tried/.test(f.error!)) expect(f.error).toMatch(cause);
        else expect(f.error).toMatch(/^Echec du traitement\. off-site copy failed: not tried, the off-site storage has been failing since \d{4}-\d\d-\d\dT[\d:.]+Z \(last: off-site storage failed while uploading killed\//);
      }
      // the report names the reason per dossier
      const report = fs.readFileSync(first.reportPath!, 'utf8');
      for (const f of failed) expect(report).toContain(`Dossier ${f.code} `);
      expect(report).toContain('off-site copy failed');
      // the archive stays local, its generation recorded as failed off-site with the error
      for (const f of failed) {
        const [g] = (await dossierGenerations(pool, f.code)).filter((x) => x.runId === first.runId);
        expect(g).toMatchObject({ offsiteState: 'failed', offsiteError: expect.stringContaining('off-site copy failed') as string });
        expect(fs.existsSync(g!.file)).toBe(true);
      }

      await s3.restart();
      const retry = await runBatch(stack, { retryOf: first.runId });
      expect(retry).toMatchObject({ state: 'completed', total: failed.length, ok: failed.length, failed: 0 });
      // their archives were written: the retry copies those (the dossiers unmodified since), no second generation
      for (const f of failed) await expectCopied(stack, store, f.code, first.runId);
      for (const f of failed) expect(await dossierGenerations(pool, f.code)).toHaveLength(1);
      for (const code of ok) await expectCopied(stack, store, code, first.runId);
      // every dossier has exactly its copied generations in the bucket; the killed upload left nothing visible
      for (const code of codes) expect(await store.listDossier('main', code)).toHaveLength(1);
    });
  } finally {
    store.close();
    await stack.close();
  }
});

test('R-BK-14: the storage away for the whole batch: the first copy fails with its cause, the next ones at once ("not tried"), every archive still written locally, and verified (R-BK-13: what the run wrote, though no dossier was ok)', async () => {
  const { stack, store } = await stackWithS3('away/');
  const pool = stack.pools.get('main');
  const codes = ['A1', 'A2', 'A3', 'A4', 'A5', 'A6'];
  await createDossiers(stack, codes.map((code) => ({ code })));
  const w = await createTestWorker(stack, temporal.nativeConnection);
  await s3.kill();
  try {
    await w.runUntil(async () => {
      const t = Date.now();
      const r = await runBatch(stack, { tuning: { chunkSize: 6, window: 1, concurrency: 1 } });
      const seconds = (Date.now() - t) / 1000;
      expect(r).toMatchObject({ state: 'partial', total: 6, ok: 0, failed: 6 });
      const items = await ledger(pool, r.runId);
      expect(items[0]!.error).toMatch(/^Echec du traitement\. off-site copy failed: off-site storage failed while uploading away\/main\/A1\/BA1\.\S+\.SVG \(ECONNREFUSED, bucket nightshift-offsite at http:\/\/127\.0\.0\.1:\d+\)/);
      for (const i of items.slice(1)) expect(i.error).toMatch(/off-site copy failed: not tried, the off-site storage has been failing since .* \(last: off-site storage failed while uploading away\/main\/A1\//);
      // the full tries of one dossier (3, each with the SDK's 3 requests), then the others without waiting
      console.log(`storage away: 6 dossiers failed in ${seconds.toFixed(1)} s`);
      expect(seconds).toBeLessThan(30);
      for (const code of codes) {
        const [g] = await dossierGenerations(pool, code);
        expect(g).toMatchObject({ offsiteState: 'failed' });
        expect(fs.existsSync(g!.file)).toBe(true);
      }
      // R-BK-13: the six archives it wrote are verified by the batch's own verification (it used to need a dossier ok)
      const run = await waitFor('the verify run of the batch', async () => (await pool.query('SELECT workflow_id FROM nightshift.verify_run WHERE backup_run_id = $1', [r.runId])).rows[0]);
      const v = await verifyResult(temporal.client.workflow.getHandle(run.workflow_id).result()).catch((e: unknown) => problemsVerifyResult(e) ?? Promise.reject(e));
      expect(v).toMatchObject({ total: 6 });
      for (const code of codes) expect((await dossierGenerations(pool, code))[0]!.verifyState).not.toBe('unverified');
    });
  } finally {
    await s3.restart();
    store.close();
    await stack.close();
  }
});

async function startChildWorker(stack: TestStack, prefix: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/workflows/fixtures/backup-batch-worker.ts'], {
    cwd: PROJECT_ROOT,
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      NIGHTSHIFT_DATA_DIR: stack.dataDir,
      TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      NIGHTSHIFT_METRICS_PORT: String(await freePort()),
      NIGHTSHIFT_LOG_LEVEL: 'error',
      NS_TEST_DOSSIER_DELAY_MS: '0',
      ...s3Env(prefix),
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

test('R-BK-14, R-BK-1: a worker SIGKILLed during an upload: the batch finishes on a new worker, each dossier copied once as one object, no visible partial object, none counted twice', async () => {
  const { stack, store } = await stackWithS3('crash/');
  const pool = stack.pools.get('main');
  const codes = ['W1', 'W2', 'W3', 'W4'];
  await createDossiers(stack, codes.map((code) => ({ code })));
  await withDocuments(stack, codes, 12);
  const first = await startChildWorker(stack, 'crash/');
  const handle = await startBackupBatch(
    temporal.client,
    { target: 'main', tuning: { chunkSize: 4, window: 1, concurrency: 1, heartbeatTimeout: '3s' } } satisfies BackupBatchInput,
    { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` },
  );
  // an upload with a part on the server, caught in the middle: the worker frozen (SIGSTOP) then looked at again, since
  // the upload seen may complete before the signal lands (the engine is fast); if it did, the worker goes on to the next dossier
  let inFlight: string[] = [];
  await waitFor(
    'an upload with a part on the server, still unfinished with the worker frozen',
    async () => {
      if (!(await unfinished('crash/')).some((u) => u.parts >= 1)) return undefined;
      first.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 300));
      inFlight = (await unfinished('crash/')).map((u) => u.key);
      if (inFlight.length > 0) return true;
      first.kill('SIGCONT');
      return undefined;
    },
    120_000,
  );
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  expect(inFlight).toHaveLength(1);
  expect((await unfinished('crash/')).map((u) => u.key)).toEqual(inFlight);
  // nothing visible of the killed upload
  expect((await store.head(inFlight[0]!))).toBeUndefined();

  const second = await startChildWorker(stack, 'crash/');
  try {
    const result = (await batchResult(handle.result())) as BackupBatchResult;
    expect(result).toMatchObject({ state: 'completed', total: codes.length, ok: codes.length, failed: 0 });
    const { rows } = await pool.query<{ code: string }>('SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code', [result.runId]);
    expect(rows.map((r) => r.code)).toEqual(codes);
    for (const code of codes) {
      await expectCopied(stack, store, code, result.runId);
      expect(await store.listDossier('main', code)).toHaveLength(1);
    }
    // the dead attempt's upload was aborted by the retry of the same generation (same key)
    expect(await unfinished('crash/')).toEqual([]);
    expect(await store.head(inFlight[0]!)).toMatchObject({ size: expect.any(Number) as number });
  } finally {
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    store.close();
    await stack.close();
  }
});

// the batch's copy step, by itself: the activities factory takes a store (tests) or builds one from NIGHTSHIFT_OFFSITE_S3_*
test('without NIGHTSHIFT_OFFSITE_S3_BUCKET the batch copies nothing and its generations stay offsite none', async () => {
  const stack = await createTestStack();
  try {
    await createDossiers(stack, [{ code: 'N1' }]);
    const acts = createBackupBatchActivities({ config: stack.config, pools: stack.pools });
    const w = await createTestWorker(stack, temporal.nativeConnection, { activities: { ...createActivities({ config: stack.config, pools: stack.pools }), backupChunk: acts.backupChunk } });
    await w.runUntil(async () => {
      const r = await runBatch(stack);
      expect(r).toMatchObject({ state: 'completed', ok: 1 });
      const [g] = await dossierGenerations(stack.pools.get('main'), 'N1');
      expect(g).toMatchObject({ offsiteState: 'none', offsiteKey: null });
    });
  } finally {
    await stack.close();
  }
});

test('R-BK-1 R-BK-14: with a bucket, an attempt that comes back after the run\'s other attempt recorded the dossier\'s generation (its copy not made yet) records no second one: it copies that generation, one object, one ledger item', async () => {
  const { stack, store } = await stackWithS3('superseded/');
  const pool = stack.pools.get('main');
  try {
    const codes = ['SU1', 'SU2', 'SU3'];
    await createDossiers(stack, codes.map((code) => ({ code })));
    // a run whose workflow is alive (started on a task queue no worker polls), claimed by hand
    const workflowId = `backup/main/${crypto.randomUUID()}`;
    await startBackupBatch(temporal.client, { target: 'main' }, { taskQueue: `nobody-${crypto.randomUUID()}`, workflowId });
    const plain = createBackupBatchActivities({ config: stack.config, pools: stack.pools, temporal: temporal.client }, { offsiteStore: async () => store });
    const run = await plain.claimBackupRun({ target: 'main', workflowId });
    let othersGeneration: number | undefined;
    // this attempt (cut off, superseded) has passed SU2's first statement (no ledger item) when the retry of its chunk,
    // elsewhere, records SU2's generation and is still copying it (the item waits for the copy)
    const stale = createBackupBatchActivities(
      { config: stack.config, pools: stack.pools, temporal: temporal.client },
      {
        offsiteStore: async () => store,
        beforeDossier: async (code) => {
          if (code !== 'SU2') return;
          const r = await backupDossierArchive({
            pool,
            target: 'main',
            code,
            destinationDir: run.settings.destinationDir,
            generation: { kindRoot: run.settings.generationsRoot!, kind: 'normal', runId: run.runId, reason: 'batch' },
            ledgerRunId: run.runId,
            keys: loadBackupKeyring(stack.config.backupKeys),
            plainOnPurpose: stack.config.backupKeys.plainOnPurpose,
          });
          othersGeneration = r.generationId;
        },
      },
    );
    const result = await stale.backupChunk({ target: 'main', runId: run.runId, codes, settings: run.settings, concurrency: 1, timeBudgetMs: 60_000 });
    expect(result).toMatchObject({ ok: 3, failed: 0, remaining: [] });
    expect(othersGeneration).toBeDefined();
    // one generation per dossier of the run; SU2's is the other attempt's, copied by this one
    const generations = await pool.query(`SELECT id, code FROM nightshift.backup_generation WHERE run_id = $1 ORDER BY code`, [run.runId]);
    expect(generations.rows.map((r) => r.code)).toEqual(codes);
    expect(Number(generations.rows.find((r) => r.code === 'SU2')!.id)).toBe(othersGeneration);
    for (const code of codes) await expectCopied(stack, store, code, run.runId);
    expect(await store.listDossier('main', 'SU2')).toHaveLength(1);
    // this attempt's own archive of SU2 is gone (rolled back, its file removed): the generations folder holds the one recorded
    const [kept] = await dossierGenerations(pool, 'SU2');
    expect(fs.readdirSync(path.dirname(kept!.file))).toEqual([path.basename(kept!.file)]);
    expect(fs.readdirSync(run.settings.destinationDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await ledger(pool, run.runId)).toEqual(codes.map((code) => expect.objectContaining({ code, status: 'ok' })));
    await temporal.client.workflow.getHandle(workflowId).terminate('test done');
  } finally {
    store.close();
    await stack.close();
  }
});

test('R-BK-14 (drill C, session 37): a chunk of a run that copies off-site, on a worker with no off-site storage, fails its dossiers saying why and writes nothing (not done without their copies)', async () => {
  const { stack, store } = await stackWithS3('mismatch/');
  const pool = stack.pools.get('main');
  try {
    const codes = ['MM1', 'MM2'];
    await createDossiers(stack, codes.map((code) => ({ code })));
    const workflowId = `backup/main/${crypto.randomUUID()}`;
    await startBackupBatch(temporal.client, { target: 'main' }, { taskQueue: `nobody-${crypto.randomUUID()}`, workflowId });
    const withBucket = createBackupBatchActivities({ config: stack.config, pools: stack.pools, temporal: temporal.client }, { offsiteStore: async () => store });
    const run = await withBucket.claimBackupRun({ target: 'main', workflowId });
    // a worker restarted without NIGHTSHIFT_OFFSITE_*: the stack's own configuration has no bucket
    const without = createBackupBatchActivities({ config: { ...stack.config, offsite: undefined }, pools: stack.pools, temporal: temporal.client });
    const result = await without.backupChunk({ target: 'main', runId: run.runId, codes, settings: run.settings, concurrency: 1, timeBudgetMs: 60_000 });
    expect(result).toMatchObject({ ok: 0, failed: 2, remaining: [] });
    const items = await pool.query(`SELECT code, status, error FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code`, [run.runId]);
    expect(items.rows.map((r) => [r.code, r.status])).toEqual([
      ['MM1', 'failed'],
      ['MM2', 'failed'],
    ]);
    expect(items.rows[0].error).toMatch(new RegExp(`^Echec du traitement\\. not backed up by worker \\S+: backup run ${run.runId} copies off-site .* this worker has no off-site storage \\(NIGHTSHIFT_OFFSITE_S3_BUCKET unset\\): give every worker the same NIGHTSHIFT_OFFSITE_\\* settings, then retry the run$`));
    expect((await pool.query(`SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE code = ANY($1)`, [codes])).rows[0].n).toBe(0);
  } finally {
    await stack.close();
  }
});

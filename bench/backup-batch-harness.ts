import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { PROJECT_ROOT, loadConfig, toolPaths, type Config } from '../config/config';
import { migrate } from '../db/migrate';
import { startBackupBatch } from '../starts';
import { createTargetPools, DOSSIER_WORK, type TargetPools, workerProcessEnv } from '../workers/resources';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { type BackupBatchInput, type BackupBatchResult, backupBatchProgressQuery, batchResult } from '../workflows/backup-batch.api';
import { startEmbeddedPostgres } from '../test/setup/servers';
import { batchVerifyWorkflowId } from '../workflows/backup-verify.api';
import type { backupVerifyWorkflow } from '../workflows/backup-verify';
import { batchPruneWorkflowId } from '../workflows/backup-prune.api';

/**
 * Waits (untimed) for the verification and the prune a batch starts after it (R-BK-13, R-BK-11): they outlive it, and
 * otherwise ran under the next phase (the loop timed after a batch read 12.5-12.9 s, its later rounds 5.4-8.4 s).
 */
export async function batchFollowUps(client: Client, batchWorkflowId: string): Promise<FollowUps> {
  const verify = client.workflow.getHandle<typeof backupVerifyWorkflow>(batchVerifyWorkflowId(batchWorkflowId));
  const verified = await verify.result().catch(() => undefined);
  await client.workflow.getHandle(batchPruneWorkflowId(batchWorkflowId)).result().catch(() => undefined);
  if (!verified) return {};
  const { startTime, closeTime } = await verify.describe();
  return { verify: { generations: verified.total, restored: verified.restored, seconds: ((closeTime ?? startTime).getTime() - startTime.getTime()) / 1000 } };
}

/** The verification a batch started after it (R-BK-13): what it read, and how long its workflow ran (start to close). */
export interface FollowUps {
  verify?: { generations: number; restored: number; seconds: number };
}

/**
 * The real stack for the backup batch benchmarks: embedded PostgreSQL, the Temporal dev server, one worker
 * in a process of its own (bench/backup-batch-worker.ts), whose RSS `workerRss()` reads from /proc.
 */

export interface BenchStack {
  work: string;
  url: string;
  config: Config;
  pools: TargetPools;
  client: Client;
  /** the worker process's resident set size now (bytes; 0 once it is gone) */
  workerRss(): number;
  /** the worker process's id (bench/cpu.ts attributes CPU time to it) */
  workerPid: number;
  /** `onProgress` gets the progress query's done / selected every `everyMs` while the batch runs */
  runBatch(
    input: Omit<BackupBatchInput, 'target'>,
    progress?: { everyMs: number; onProgress: (done: number, selected: number, seconds: number) => void },
  ): Promise<{ result: BackupBatchResult; workflowId: string; seconds: number; followUps: FollowUps }>;
  /** largest history (events) of any run of the workflow id (continue-as-new chain) */
  largestHistory(workflowId: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * The test suite's durability shortcuts (the benchmark measures the batch, not the disk's fsync), and
 * room for 100,000 dossier schemas: ~2 million catalog relations, so a catalog that fits in shared
 * buffers, no checkpoint in the middle of a measurement, lock slots for the generator's transactions.
 */
const SERVER_FLAGS = [
  ['fsync', 'off'],
  ['synchronous_commit', 'off'],
  ['full_page_writes', 'off'],
  ['max_locks_per_transaction', '256'],
  ['shared_buffers', '2GB'],
  ['max_wal_size', '16GB'],
  ['checkpoint_timeout', '1h'],
  // e.g. NIGHTSHIFT_BENCH_PG_SETTINGS=shared_buffers=256MB: a catalog larger than the buffers without 100,000 dossiers
  ...(process.env.NIGHTSHIFT_BENCH_PG_SETTINGS ?? '').split(',').filter(Boolean).map((kv) => kv.split('=', 2)),
].flatMap(([k, v]) => ['-c', `${k}=${v}`]);

export async function startBenchStack(): Promise<BenchStack> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-batch-'));
  fs.chmodSync(work, 0o755);
  const server = await startEmbeddedPostgres({ dir: path.join(work, 'pg'), flags: SERVER_FLAGS });
  const url = server.adminUrl;
  await migrate(url);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: toolPaths(loadConfig({}), PROJECT_ROOT).temporal }, searchAttributes: ALL_SEARCH_ATTRIBUTES, extraArgs: ['--log-level', 'error'] },
  });
  const config = loadConfig({ DATABASE_URL: url, NIGHTSHIFT_DATA_DIR: path.join(work, 'data'), TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: 'bench' });
  const pools = createTargetPools(config, 12, DOSSIER_WORK);
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'bench/backup-batch-worker.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...workerProcessEnv(), DATABASE_URL: url, NIGHTSHIFT_DATA_DIR: path.join(work, 'data'), TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: 'bench' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const running = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('worker ready') ? resolve() : undefined));
    child.once('exit', (code) => reject(new Error(`the bench worker exited (${code})`)));
  });
  let n = 0;
  return {
    work,
    url,
    config,
    pools,
    client: env.client,
    workerPid: child.pid!,
    workerRss() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : 0;
      } catch {
        return 0;
      }
    },
    async runBatch(input, progress) {
      const workflowId = `backup/main/bench-${++n}`;
      const t = process.hrtime.bigint();
      const elapsed = () => Number(process.hrtime.bigint() - t) / 1e9;
      const handle = await startBackupBatch(env.client, { target: 'main', ...input }, { taskQueue: 'bench', workflowId, searchAttributes: false });
      const ticker =
        progress &&
        setInterval(() => {
          // the latest run of the chain answers; a query racing a continue-as-new is just skipped
          env.client.workflow
            .getHandle(workflowId)
            .query(backupBatchProgressQuery)
            .then((p) => progress.onProgress(p.done, p.selected, elapsed()))
            .catch(() => {});
        }, progress.everyMs);
      try {
        const result = await batchResult(handle.result());
        const seconds = elapsed();
        const followUps = await batchFollowUps(env.client, workflowId);
        return { result, workflowId, seconds, followUps };
      } finally {
        if (ticker) clearInterval(ticker);
      }
    },
    async largestHistory(workflowId) {
      let max = 0;
      for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) max = Math.max(max, w.historyLength);
      return max;
    },
    async close() {
      child.kill('SIGTERM');
      await running;
      await pools.end();
      await env.teardown();
      await server.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

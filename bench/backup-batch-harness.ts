import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { PROJECT_ROOT, loadConfig, toolPaths, type Config } from '../config/config';
import { migrate } from '../db/migrate';
import { createActivities } from '../workers/activities';
import { createTargetPools, type TargetPools } from '../workers/resources';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import type { BackupBatchInput, BackupBatchResult } from '../workflows/backup-batch.api';
import { startEmbeddedPostgres } from '../test/setup/servers';

/** The real stack for the backup batch benchmarks: embedded PostgreSQL, the Temporal dev server, one in-process worker. */

export interface BenchStack {
  work: string;
  url: string;
  config: Config;
  pools: TargetPools;
  client: Client;
  worker: Worker;
  runBatch(input: Omit<BackupBatchInput, 'target'>): Promise<{ result: BackupBatchResult; workflowId: string; seconds: number }>;
  /** largest history (events) of any run of the workflow id (continue-as-new chain) */
  largestHistory(workflowId: string): Promise<number>;
  close(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-batch-'));
  fs.chmodSync(work, 0o755);
  const server = await startEmbeddedPostgres({ dir: path.join(work, 'pg'), flags: ['-c', 'max_locks_per_transaction=256'] });
  const url = server.adminUrl;
  await migrate(url);
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: toolPaths(loadConfig({}), PROJECT_ROOT).temporal }, searchAttributes: ALL_SEARCH_ATTRIBUTES, extraArgs: ['--log-level', 'error'] },
  });
  const config = loadConfig({ DATABASE_URL: url, NIGHTSHIFT_DATA_DIR: path.join(work, 'data'), TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: 'bench' });
  const pools = createTargetPools(config, 12);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: 'bench',
    workflowsPath: path.join(PROJECT_ROOT, 'workflows', 'index.ts'),
    activities: createActivities({ config, pools }),
    maxConcurrentActivityTaskExecutions: config.workerConcurrency,
  });
  const running = worker.run();
  let n = 0;
  return {
    work,
    url,
    config,
    pools,
    client: env.client,
    worker,
    async runBatch(input) {
      const workflowId = `backup/main/bench-${++n}`;
      const t = process.hrtime.bigint();
      const handle = await env.client.workflow.start('backupBatchWorkflow', { taskQueue: 'bench', workflowId, args: [{ target: 'main', ...input }] });
      const result = (await handle.result()) as BackupBatchResult;
      return { result, workflowId, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
    },
    async largestHistory(workflowId) {
      let max = 0;
      for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) max = Math.max(max, w.historyLength);
      return max;
    },
    async close() {
      worker.shutdown();
      await running;
      await pools.end();
      await env.teardown();
      await server.stop();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}

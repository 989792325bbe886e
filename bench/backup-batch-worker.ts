import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PROJECT_ROOT, loadConfig } from '../config/config';
import { createActivities } from '../workers/activities';
import { bundleWorkflowsInChild } from '../workers/bundle';
import { createTargetPools, DOSSIER_WORK, limitHeapGrowth } from '../workers/resources';

/**
 * The benchmark's worker in a process of its own (bench/backup-batch-harness.ts starts it), so that its
 * RSS is measured apart from the dossier generator and the client. Environment: the harness's config.
 * Prints "worker ready" once polling; SIGTERM shuts it down. Started with workerProcessEnv (the harness), as a
 * deployed worker is.
 */
async function main(): Promise<void> {
  limitHeapGrowth(); // as runWorker does
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadConfig();
  const pools = createTargetPools(config, 12, DOSSIER_WORK);
  const { NativeConnection } = await import('@temporalio/worker');
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: await bundleWorkflowsInChild(path.join(PROJECT_ROOT, 'workflows', 'index.ts')),
    activities: createActivities({ config, pools }),
    maxConcurrentActivityTaskExecutions: config.workerConcurrency,
  });
  process.once('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('worker ready\n');
  await running;
  await pools.end();
  await connection.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

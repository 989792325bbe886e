import { NativeConnection, Worker, Runtime, DefaultLogger } from '@temporalio/worker';
import { loadConfig } from '../../config/config';
import { createActivities } from '../../workers/activities';
import { createTargetPools } from '../../workers/resources';

/**
 * A worker child process for the SIGKILL test (the real `nightshift worker` bundles the workflows on
 * every start; this one reuses the test bundle). Configured by the environment; prints "ready".
 */
async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const config = loadConfig();
  const pools = createTargetPools(config, 4);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: { codePath: process.env.NS_TEST_WORKFLOW_BUNDLE! },
    activities: createActivities({ config, pools }),
  });
  process.stdout.write('ready\n');
  await worker.run();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

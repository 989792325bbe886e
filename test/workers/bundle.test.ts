import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { bundleWorkflowsInChild } from '../../workers/bundle';
import { quietRuntime, requireEnv, uniqueName } from '../helpers/env';
import type { failingWorkflow } from './fixtures/failing-workflow';

/**
 * The workflow bundle the worker runs (issue 11: worker RSS < 256 MB): built in a child process, its
 * inline source map without `sourcesContent` (copies of it cost the worker ~28 MB), its mappings kept,
 * so a workflow failure's stack trace still names the TypeScript file.
 */

let bundle: { code: string };

beforeAll(async () => {
  quietRuntime();
  bundle = await bundleWorkflowsInChild(require.resolve('./fixtures/failing-workflow'));
});

test('the bundle keeps an inline source map with sources and mappings, without the sources text', () => {
  const at = bundle.code.lastIndexOf('//# sourceMappingURL=data:application/json');
  expect(at).toBeGreaterThan(0);
  const map = JSON.parse(Buffer.from(bundle.code.slice(bundle.code.indexOf('base64,', at) + 'base64,'.length), 'base64').toString('utf8')) as {
    sources: string[];
    mappings: string;
    sourcesContent?: unknown;
  };
  expect(map.sourcesContent).toBeUndefined();
  expect(map.mappings.length).toBeGreaterThan(1000);
  expect(map.sources.some((s) => s.endsWith('fixtures/failing-workflow.ts'))).toBe(true);
  expect(bundle.code).toContain('failing on purpose');
});

test("a workflow failure's stack trace still names the TypeScript file and line", async () => {
  const address = requireEnv('NS_TEST_TEMPORAL_ADDRESS');
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const taskQueue = uniqueName('tq-bundle');
    const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle: bundle });
    const error = await worker.runUntil(
      client.workflow.execute<typeof failingWorkflow>('failingWorkflow', { taskQueue, workflowId: uniqueName('failing') }).then(
        () => undefined,
        (err: unknown) => err,
      ),
    );
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause?.message).toBe('failing on purpose');
    expect(cause?.stack).toMatch(/fixtures\/failing-workflow\.ts:5:/);
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
});

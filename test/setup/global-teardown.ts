import fs from 'node:fs';
import type { EmbeddedPostgresServer } from './servers';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as unknown as { __NS_PG?: EmbeddedPostgresServer; __NS_TEMPORAL?: TestWorkflowEnvironment[] };
  await Promise.allSettled([...(g.__NS_TEMPORAL ?? []).map((env) => env.teardown()), g.__NS_PG?.stop()]);
  if (process.env.NS_TEST_TMP) fs.rmSync(process.env.NS_TEST_TMP, { recursive: true, force: true });
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode } from '@temporalio/worker';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { startEmbeddedPostgres } from './servers';

/**
 * Starts the real servers once for the whole run: embedded PostgreSQL (or DATABASE_URL's server),
 * one Temporal dev server from .tools/ per Jest worker (through @temporalio/testing, existing-path),
 * and bundles the workflows once. Test files find them through NS_TEST_* variables; worker-env.ts
 * points each Jest worker's NS_TEST_TEMPORAL_ADDRESS at its own dev server.
 *
 * A dev server per worker, not one for all: every file's stack uses the target `main`, and workflow
 * ids carry the target (R-MW-2: `maintenance/main` is one window), so two files on one server at the
 * same moment collide (WorkflowExecutionAlreadyStartedError). Files on separate servers cannot.
 */

const root = path.resolve(__dirname, '..', '..');

export default async function globalSetup(globalConfig: { maxWorkers?: number } = {}): Promise<void> {
  const workers = Math.max(1, globalConfig.maxWorkers ?? 1);
  // Private (0700): as root, the starter moves the cluster where the `postgres` user can reach it.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-test-'));
  process.env.NS_TEST_TMP = tmp;
  const g = globalThis as unknown as Record<string, unknown>;

  const temporalCli = process.env.TEMPORAL_CLI ?? path.join(root, '.tools', 'bin', 'temporal');
  const testServer = process.env.TEMPORAL_TEST_SERVER ?? path.join(root, '.tools', 'bin', 'temporal-test-server');
  for (const [name, p] of [['temporal', temporalCli], ['temporal-test-server', testServer]] as const) {
    if (!fs.existsSync(p)) throw new Error(`${name} not found at ${p}: run 'npm run tools' (scripts/install-tools.sh) first`);
  }
  process.env.NS_TEST_TEMPORAL_TEST_SERVER = testServer;
  process.env.NS_TEST_TEMPORAL_CLI = temporalCli;

  const [pgReady, temporalReady, bundleReady] = [
    (async () => {
      if (process.env.DATABASE_URL) {
        process.env.NS_TEST_PG_ADMIN_URL = process.env.DATABASE_URL;
        return;
      }
      const postgres = await startEmbeddedPostgres({
        dir: path.join(tmp, 'pg'),
        flags: ['-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      });
      g.__NS_PG = postgres;
      process.env.NS_TEST_PG_ADMIN_URL = postgres.adminUrl;
    })(),
    (async () => {
      const envs = await Promise.all(
        Array.from({ length: workers }, () =>
          TestWorkflowEnvironment.createLocal({
            server: {
              executable: { type: 'existing-path', path: temporalCli },
              searchAttributes: ALL_SEARCH_ATTRIBUTES,
              extraArgs: ['--log-level', 'error'],
            },
          }),
        ),
      );
      g.__NS_TEMPORAL = envs;
      envs.forEach((env, i) => {
        process.env[`NS_TEST_TEMPORAL_ADDRESS_${i + 1}`] = env.address;
      });
      process.env.NS_TEST_TEMPORAL_ADDRESS = envs[0]!.address;
    })(),
    (async () => {
      const { code } = await bundleWorkflowCode({
        workflowsPath: path.join(root, 'workflows', 'index.ts'),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error(m: string) { console.error(m); }, log() {} } as never,
      });
      const file = path.join(tmp, 'workflow-bundle.js');
      fs.writeFileSync(file, code);
      process.env.NS_TEST_WORKFLOW_BUNDLE = file;
    })(),
  ];
  await Promise.all([pgReady, temporalReady, bundleReady]);
}

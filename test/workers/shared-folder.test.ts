import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../../config/config';
import { runWorker } from '../../workers/main';
import { createTargetPools } from '../../workers/resources';
import { createPatchActivities } from '../../activities/patch';
import { generateDemoPatches } from '../../patches/demo';
import { STORE_MARKER_FILE, SharedFolderError, patchDirectoryProblem } from '../../shared-store/marker';
import { runDoctor } from '../../cli/commands/doctor';
import { FailureType } from '../../domain/failures';
import { createTestDatabase, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { freePort } from '../helpers/net';
import { cleanEnv, runCli } from '../stack/helpers';

/**
 * Issue 10 item 4, several worker hosts: archives (R-BK-5), reports (R-BK-7), documents and patch
 * directories (R-PI-1) are files, so every worker of a target must see the same folders. The first
 * worker makes its folders the target's shared store (a `.nightshift-store` marker + its id in the
 * database); a worker whose folder differs refuses to start in one line — it never writes an
 * archive that the others would look for elsewhere. Two "hosts" here are two data dirs.
 */

let databaseUrl: string;
let metricsPort: number;
let taskQueue: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('sf');
  metricsPort = await freePort();
  taskQueue = uniqueName('tq');
});

function envFor(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    NIGHTSHIFT_METRICS_PORT: String(metricsPort),
    NIGHTSHIFT_DATA_DIR: dataDir,
    NIGHTSHIFT_LOG_LEVEL: 'warn',
    ...extra,
  };
}

function start(config: Config): { stop(): void; done: Promise<unknown>; ready: Promise<unknown> } {
  const controller = new AbortController();
  let markReady!: () => void;
  const readyP = new Promise<void>((r) => (markReady = r));
  const done = runWorker(config, {
    signal: controller.signal,
    logger: pino({ level: 'warn' }),
    workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') },
    shutdownGraceTime: '1s',
    onReady: () => markReady(),
  });
  const ready = Promise.race([readyP, done]);
  ready.catch(() => {}); // a refusal is asserted on `done`
  return { stop: () => controller.abort(), done, ready };
}

async function recordedIds(): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ kind: string; store_id: string }>('SELECT kind, store_id FROM nightshift.shared_store');
    return Object.fromEntries(rows.map((r) => [r.kind, r.store_id]));
  } finally {
    await c.end();
  }
}

const markerId = (folder: string) => (JSON.parse(fs.readFileSync(path.join(folder, STORE_MARKER_FILE), 'utf8')) as { storeId: string }).storeId;

/** Host A: the first worker of the target; its folders become the shared store. */
let hostA: string;
let first: ReturnType<typeof start> | undefined;

afterAll(async () => {
  first?.stop();
  await first?.done.catch(() => {});
});

test('the first worker makes its backup and documents folders the shared store: markers written, ids recorded', async () => {
  hostA = tempDir('host-a');
  first = start(loadConfig(envFor(hostA)));
  await first.ready;
  const ids = await recordedIds();
  expect(ids).toEqual({ backups: markerId(path.join(hostA, 'sauve')), documents: markerId(path.join(hostA, 'documents')) });
  expect(ids.backups).toMatch(/^[0-9a-f]{32}$/);
  // written whole: no temporary file left beside the marker
  expect(fs.readdirSync(path.join(hostA, 'sauve'))).toEqual([STORE_MARKER_FILE]);
}, 120_000);

test('a second worker whose backup folder is another folder is refused at start in one line, and writes nothing there', async () => {
  const hostB = tempDir('host-b');
  const refused = start(loadConfig(envFor(hostB)));
  const err = await refused.done.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SharedFolderError);
  const message = (err as Error).message;
  expect(message).not.toContain('\n');
  expect(message).toBe(
    `this worker's backup folder ${path.join(hostB, 'sauve')} is not the shared store of target main (folder missing): ` +
      `mount the shared folder there (every worker of a target must see the same backup folder, at the same path), ` +
      `or, if the store moved, copy ${STORE_MARKER_FILE} from the old folder into it; the old folder lost: make this one on the new disk, then 'nightshift store adopt --target main' marks it`,
  );
  // no marker, no archive, no report: nothing that a worker of host A would look for in vain
  expect(fs.existsSync(path.join(hostB, 'sauve'))).toBe(false);
  expect(Object.keys(await recordedIds()).sort()).toEqual(['backups', 'documents']);
}, 60_000);

test('`nightshift worker` on such a host stops at once with one line and exit code 1', async () => {
  const hostB = tempDir('host-b-cli');
  const r = await runCli(['worker'], cleanEnv({ ...envFor(hostB), NIGHTSHIFT_METRICS_PORT: String(await freePort()) }));
  expect(r.code).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  expect(lines).toEqual([expect.stringMatching(/^nightshift: this worker's backup folder .* is not the shared store of target main \(folder missing\): mount the shared folder/)]);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}, 60_000);

test('a folder holding another store\'s marker is refused (marker different), and so is a documents folder that is not shared', async () => {
  const hostC = tempDir('host-c');
  fs.mkdirSync(path.join(hostC, 'sauve'));
  fs.writeFileSync(path.join(hostC, 'sauve', STORE_MARKER_FILE), `${JSON.stringify({ storeId: 'f'.repeat(32), createdAt: 'x', createdBy: 'elsewhere' })}\n`);
  await expect(start(loadConfig(envFor(hostC))).done).rejects.toThrow(/backup folder .* is not the shared store of target main \(marker different\)/);

  // the backup folder is the shared one, the documents folder is this host's own
  const hostD = tempDir('host-d');
  const docsOnly = loadConfig(envFor(hostD, { NIGHTSHIFT_BACKUP_DIR: path.join(hostA, 'sauve') }));
  await expect(start(docsOnly).done).rejects.toThrow(`this worker's documents folder ${path.join(hostD, 'documents')} is not the shared store of target main (folder missing)`);
}, 60_000);

test('a second worker that sees the shared folders (another data dir, same mounts) starts', async () => {
  const hostE = tempDir('host-e');
  const second = start(
    loadConfig(envFor(hostE, { NIGHTSHIFT_BACKUP_DIR: path.join(hostA, 'sauve'), NIGHTSHIFT_DOCUMENTS_DIR: path.join(hostA, 'documents'), NIGHTSHIFT_METRICS_PORT: String(await freePort()) })),
  );
  try {
    await second.ready;
    // ready, not failed: a rejected `done` would have won the race
    await expect(Promise.race([second.done.then(() => 'ended'), new Promise((r) => setTimeout(() => r('running'), 500))])).resolves.toBe('running');
  } finally {
    second.stop();
    await second.done;
  }
}, 120_000);

test('doctor says the same: error with the fix for a host whose folder differs, ok for the shared one', async () => {
  const refused = await runDoctor(loadConfig(envFor(tempDir('host-f'))), 3000);
  expect(refused.services.store.main).toMatchObject({ state: 'error' });
  expect(refused.services.store.main!.message).toMatch(/backup folder .* is not the shared store of target main \(folder missing\)/);
  expect(refused.services.store.main!.fix).toMatch(/mount the shared folder there/);
  expect(refused.ok).toBe(false);
  const shared = await runDoctor(loadConfig(envFor(hostA)), 3000);
  expect(shared.services.store.main).toMatchObject({ state: 'ok' });
  expect(shared.services.store.main!.message).toMatch(/^backup folder \S+ is the shared store [0-9a-f]{8}…; documents folder \S+ is the shared store [0-9a-f]{8}…$/);
}, 60_000);

test('R-PI-1 patch directories: outside the shared store the loading activity refuses (whatever host runs it), inside it is accepted', async () => {
  const config = loadConfig(envFor(hostA));
  const pools = createTargetPools(config, 2);
  try {
    const outside = tempDir('patches-outside');
    await generateDemoPatches(outside, 1, 1);
    const inside = path.join(hostA, 'sauve', 'patches', 'batch-1');
    await generateDemoPatches(inside, 1, 1);

    expect(await patchDirectoryProblem(pools.get('main'), 'main', inside)).toBeUndefined();
    const problem = await patchDirectoryProblem(pools.get('main'), 'main', outside);
    expect(problem).toBe(
      `the patch directory ${outside} is not inside the shared store of target main (no ${STORE_MARKER_FILE} above it), so another worker host may not see it: ` +
        'put the patch packages under the shared backup folder (e.g. <backup folder>/patches/<name>)',
    );

    const activities = createPatchActivities({ config, pools });
    await expect(activities.loadPatchPackages({ target: 'main', runId: 1, dir: outside })).rejects.toMatchObject({ type: FailureType.InvalidInput, message: problem });
    // the CLI refuses before anything starts, as a usage error
    const r = await runCli(['patch', 'integrate', outside, '--target', 'main'], cleanEnv(envFor(hostA)));
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`nightshift: ${problem}`);
  } finally {
    await pools.end();
  }
}, 60_000);

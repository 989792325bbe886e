import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createOffsiteActivities } from '../../activities/offsite';
import { PROJECT_ROOT, loadConfig } from '../../config/config';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { quietRuntime, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import type { copyOffsiteForTest } from './fixtures/copy-workflow';

/**
 * R-BK-14, issue 13's "a worker killed during an upload": a real worker process runs the off-site
 * copy on the Temporal dev server and is SIGKILLed after its first parts reached the S3 server. Nothing
 * is visible in the bucket; the activity's heartbeat times out, Temporal retries it on another worker,
 * which aborts the dead attempt's unfinished upload and copies the archive whole.
 */

const MiB = 1024 * 1024;
let s3: S3TestServer;
let admin: S3Client;
let store: OffsiteStore;
let dir: string;
let bundle: WorkflowBundleWithSourceMap;
let connection: Connection;
let nativeConnection: NativeConnection;
let client: Client;
const children: ChildProcess[] = [];

function s3Env(): Record<string, string> {
  return s3.env({ NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5', NIGHTSHIFT_OFFSITE_S3_CONCURRENCY: '1' });
}

async function unfinished(key: string): Promise<{ uploadId: string; parts: number }[]> {
  const r = await admin.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: key }));
  const out: { uploadId: string; parts: number }[] = [];
  for (const u of r.Uploads ?? []) {
    if (u.Key !== key || !u.UploadId) continue;
    const parts = await admin.send(new ListPartsCommand({ Bucket: s3.bucket, Key: key, UploadId: u.UploadId }));
    out.push({ uploadId: u.UploadId, parts: parts.Parts?.length ?? 0 });
  }
  return out;
}

async function startChildWorker(queue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/offsite/fixtures/offsite-worker-child.ts', queue], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'), NIGHTSHIFT_DATA_DIR: dir, NIGHTSHIFT_LOG_LEVEL: 'warn', ...s3Env() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('ready')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`the child worker exited (${code}) before it was ready: ${output.slice(-1000)}`)));
  });
  return child;
}

beforeAll(async () => {
  quietRuntime();
  dir = tempDir('offsite-kill');
  s3 = await startS3Server();
  admin = s3.client();
  store = createOffsiteStore(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3Env() }).offsite!);
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/copy-workflow'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
  const address = requireEnv('NS_TEST_TEMPORAL_ADDRESS');
  connection = await Connection.connect({ address });
  nativeConnection = await NativeConnection.connect({ address });
  client = new Client({ connection });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  store?.close();
  admin?.destroy();
  await connection?.close();
  await nativeConnection?.close();
  await s3?.stop();
});

test('R-BK-14: a worker SIGKILLed during an upload: no visible object; the retry on another worker aborts the leftover and copies the archive whole', async () => {
  const file = path.join(dir, 'BW1.SVG');
  const data = crypto.randomBytes(64 * MiB);
  fs.writeFileSync(file, data);
  const sha256 = crypto.createHash('sha256').update(data).digest('hex');
  const key = store.keyOf('main', 'W1', 'BW1.SVG');
  const workflowQueue = uniqueName('tq');
  const activityQueue = uniqueName('tq-offsite');

  const workflows = await Worker.create({ connection: nativeConnection, taskQueue: workflowQueue, workflowBundle: bundle });
  await workflows.runUntil(async () => {
    const doomed = await startChildWorker(activityQueue);
    const handle = await client.workflow.start<typeof copyOffsiteForTest>('copyOffsiteForTest', {
      taskQueue: workflowQueue,
      workflowId: uniqueName('offsite-copy'),
      args: [{ target: 'main', code: 'W1', file, key: 'BW1.SVG', activityQueue }],
    });

    // kill the worker once the server holds some parts of the upload, not all
    const deadline = Date.now() + 60_000;
    for (;;) {
      const u = await unfinished(key);
      if (u.some((x) => x.parts >= 1)) break;
      if (Date.now() > deadline) throw new Error('the child worker never got a part to the server');
      await new Promise((r) => setTimeout(r, 25));
    }
    const gone = new Promise((r) => doomed.once('exit', r));
    doomed.kill('SIGKILL');
    await gone;

    const left = await unfinished(key);
    expect(left).toHaveLength(1);
    expect(left[0]!.parts).toBeGreaterThanOrEqual(1);
    expect(left[0]!.parts).toBeLessThan(13);
    expect(await store.head(key)).toBeUndefined();
    expect(await store.listDossier('main', 'W1')).toEqual([]);
    const { pendingActivities } = await handle.describe().then((d) => d.raw);
    expect(pendingActivities?.[0]?.activityType?.name).toBe('copyArchiveOffsite');

    // another worker takes the activity over when the dead one's heartbeat times out
    const rescuer = await Worker.create({
      connection: nativeConnection,
      taskQueue: activityQueue,
      activities: createOffsiteActivities({ offsiteStore: () => store }),
    });
    const result = await rescuer.runUntil(handle.result());
    expect(result).toMatchObject({ objectKey: key, size: 64 * MiB, sha256, abortedStaleUploads: 1 });
    expect(result.attempt).toBeGreaterThanOrEqual(2);
  });

  expect(await unfinished(key)).toEqual([]);
  const h = crypto.createHash('sha256');
  for await (const chunk of await store.getStream(key)) h.update(chunk as Buffer);
  expect(h.digest('hex')).toBe(sha256);
});

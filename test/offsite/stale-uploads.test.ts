import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createPruneActivities } from '../../activities/prune';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { createTestStack, type TestStack } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';

/**
 * R-BK-14: an upload killed mid-way (worker SIGKILL) leaves an unfinished multipart upload (storage held, invisible);
 * the prune's end (finishPrune, once per prune) aborts those of its target older than the safe age, on versitygw,
 * and leaves young ones (a copy still running), other targets' and keys Nightshift does not write.
 */

let s3: S3TestServer;
let stack: TestStack;
let store: OffsiteStore;
const PREFIX = 'stale/';

beforeAll(async () => {
  s3 = await startS3Server();
  stack = await createTestStack(s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: PREFIX }));
  store = createOffsiteStore(stack.config.offsite!, { maxAttempts: 1, connectionTimeoutMs: 1_000 });
});
afterAll(async () => {
  store?.close();
  await stack?.close();
  await s3?.stop();
});

/** What a killed copy leaves: CreateMultipartUpload and one part, never completed. */
async function deadUpload(key: string): Promise<string> {
  const client = s3.client();
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
  await client.send(new UploadPartCommand({ Bucket: s3.bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(64 * 1024, 7) }));
  return UploadId!;
}

async function unfinished(): Promise<{ key: string; initiated?: Date }[]> {
  const r = await s3.client().send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
  return (r.Uploads ?? []).map((u) => ({ key: u.Key!, initiated: u.Initiated })).sort((a, b) => (a.key < b.key ? -1 : 1));
}

test('R-BK-14: the prune aborts the target\'s unfinished uploads older than the safe age, once at its end; young ones, other targets\' and foreign keys stay; objects untouched', async () => {
  const dead = store.keyOf('main', 'ST1', 'BST1.20261201T210000Z.a1b2c3.SVG');
  const deadFolder = store.keyOf('main', 'ST2', 'EchangePrest/BST2.20261201T210000Z.d4e5f6.SVG');
  const otherTarget = store.keyOf('other', 'ST1', 'BST1.20261201T210000Z.a1b2c3.SVG');
  const foreign = `${PREFIX}main/not a dossier key`;
  const outside = 'someone-else/big-file.bin';
  for (const key of [dead, deadFolder, otherTarget, foreign, outside]) await deadUpload(key);
  // a finished object next to them: the sweep never touches objects
  const object = store.keyOf('main', 'ST1', 'BST1.20261130T210000Z.000000.SVG');
  await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: object, Body: 'kept' }));

  // versitygw lists unfinished uploads with their start date (what the age is measured on)
  const listed = await unfinished();
  expect(listed).toHaveLength(5);
  for (const u of listed) expect(u.initiated).toBeInstanceOf(Date);

  // the safe age set low for the test: 3 s (24 h by default); the server's dates may be whole seconds
  await new Promise((r) => setTimeout(r, 4_000));
  const young = store.keyOf('main', 'ST3', 'BST3.20261202T210000Z.777777.SVG');
  await deadUpload(young);
  const prune = createPruneActivities({ config: stack.config, pools: stack.pools, offsiteStore: () => store, staleUploadAgeMs: 3_000 });
  expect(await prune.finishPrune({ target: 'main', prunedBy: 'backup-prune/main/stale-test' })).toEqual({ deleted: 0, bytesFreed: 0, offsiteDeleted: 0, offsiteFinished: 0, finishedFor: [], recordedDeleted: 0, offsiteLeft: 0 });
  expect((await unfinished()).map((u) => u.key)).toEqual([foreign, young, otherTarget, outside].sort());
  expect(await store.head(object)).toMatchObject({ size: 4 });

  // again: nothing more to abort (idempotent, a retried finishPrune is harmless)
  expect(await store.abortStaleUploads('main', new Date(Date.now() - 60_000))).toEqual({ aborted: 0, kept: 2 });

  // the storage away: the prune still ends (logged, left to the next prune), within the activity's time
  await s3.kill();
  const started = Date.now();
  expect(await prune.finishPrune({ target: 'main', prunedBy: 'backup-prune/main/stale-test' })).toEqual({ deleted: 0, bytesFreed: 0, offsiteDeleted: 0, offsiteFinished: 0, finishedFor: [], recordedDeleted: 0, offsiteLeft: 0 });
  expect(Date.now() - started).toBeLessThan(10_000);
  await s3.restart();
  expect(await unfinished()).toHaveLength(4);
});

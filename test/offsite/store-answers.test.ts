import crypto from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { PassThrough } from 'node:stream';
import { CreateBucketCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../config/config';
import { failureTypeOf } from '../../domain/failures';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { tempDir } from '../helpers/env';

/**
 * R-BK-14: what the storage answers about an existing copy, on a real S3-compatible server (versitygw): the copy is
 * looked for in the bucket it was recorded in, not only the configured one; only the storage's word that the OBJECT
 * is not there makes it missing (a missing bucket, refused credentials are failures of their own type); a HEAD's
 * refusal, which has no body, is named by its S3 error code all the same.
 */

const OLD_BUCKET = 'nightshift-offsite-old';
let s3: S3TestServer;
let admin: S3Client;
let dir: string;
const stores: OffsiteStore[] = [];

function storeWith(extra: Record<string, string> = {}): OffsiteStore {
  const store = createOffsiteStore(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env(extra) }).offsite!, { maxAttempts: 1 });
  stores.push(store);
  return store;
}

async function errorOf(run: () => Promise<unknown>): Promise<{ type: string | undefined; message: string; nonRetryable: unknown }> {
  const err = await run().then(
    (value) => ({ resolved: value }),
    (e: unknown) => e,
  );
  return { type: failureTypeOf(err), message: String((err as Error).message), nonRetryable: (err as { nonRetryable?: unknown }).nonRetryable };
}

function sha256Of(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

beforeAll(async () => {
  dir = tempDir('offsite-answers');
  s3 = await startS3Server();
  admin = s3.client();
  await admin.send(new CreateBucketCommand({ Bucket: OLD_BUCKET }));
});
afterAll(async () => {
  for (const s of stores) s.close();
  admin?.destroy();
  await s3?.stop();
});

describe('a copy recorded in another bucket than the configured one (R-BK-14)', () => {
  test('R-BK-14: head, getStream, download, checkObject, deleteObject and abortIncompleteUploads act on the bucket they are given; the configured one is left alone', async () => {
    const store = storeWith();
    const key = store.keyOf('main', 'A1', 'BA1.SVG');
    const old = crypto.randomBytes(3000);
    const current = crypto.randomBytes(2000);
    // the copy made before NIGHTSHIFT_OFFSITE_S3_BUCKET changed, and another object under the same key in the new bucket
    await admin.send(new PutObjectCommand({ Bucket: OLD_BUCKET, Key: key, Body: old, ChecksumAlgorithm: 'SHA256', Metadata: { sha256: sha256Of(old) } }));
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: current, ChecksumAlgorithm: 'SHA256', Metadata: { sha256: sha256Of(current) } }));

    expect(await store.head(key, OLD_BUCKET)).toMatchObject({ size: 3000, sha256: sha256Of(old) });
    expect(await store.head(key)).toMatchObject({ size: 2000 });
    expect(sha256Of(await buffer(await store.getStream(key, OLD_BUCKET)))).toBe(sha256Of(old));
    const into = new PassThrough();
    const read = buffer(into);
    expect(await store.download(key, into, { bucket: OLD_BUCKET })).toEqual({ size: 3000, sha256: sha256Of(old) });
    expect(sha256Of(await read)).toBe(sha256Of(old));
    expect(await store.download(`${key}.none`, new PassThrough(), { bucket: OLD_BUCKET })).toBeUndefined();
    expect(await store.checkObject(key, { size: 3000, sha256: sha256Of(old) }, { bucket: OLD_BUCKET })).toMatchObject({ status: 'ok' });
    expect(await store.checkObject(key, { size: 3000, sha256: sha256Of(old) }, { bucket: OLD_BUCKET, readBack: true })).toMatchObject({ status: 'ok', method: 'read-back' });

    await store.deleteObject(key, OLD_BUCKET);
    await expect(admin.send(new HeadObjectCommand({ Bucket: OLD_BUCKET, Key: key }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    expect(await admin.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }))).toMatchObject({ ContentLength: 2000 });
    expect(await store.checkObject(key, { size: 3000, sha256: sha256Of(old) }, { bucket: OLD_BUCKET })).toEqual({ status: 'missing', reason: `no object ${key} in bucket ${OLD_BUCKET}` });
    await store.deleteObject(key, OLD_BUCKET); // already gone: fine

    const pending = await admin.send(new CreateMultipartUploadCommand({ Bucket: OLD_BUCKET, Key: key }));
    await admin.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
    expect(await store.abortIncompleteUploads(key, OLD_BUCKET)).toBe(1);
    const left = async (bucket: string) => ((await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }))).Uploads ?? []).map((u) => u.UploadId);
    expect(await left(OLD_BUCKET)).not.toContain(pending.UploadId);
    expect(await left(s3.bucket)).toHaveLength(1);
    expect(await store.abortIncompleteUploads(key)).toBe(1);
  });

  test('R-BK-14: a failure names the bucket actually used, not the configured one', async () => {
    const store = storeWith();
    const key = store.keyOf('main', 'A2', 'BA2.SVG');
    for (const run of [() => store.head(key, 'nsb-gone'), () => store.deleteObject(key, 'nsb-gone'), () => store.abortIncompleteUploads(key, 'nsb-gone'), () => store.getStream(key, 'nsb-gone'), () => store.download(key, new PassThrough(), { bucket: 'nsb-gone' })]) {
      const e = await errorOf(run);
      expect(`${e.type}: ${e.message}`).toMatch(/^OffsiteBucketMissing: .*\(NoSuchBucket, HTTP 404, bucket nsb-gone at http/);
      expect(e.message).not.toContain(s3.bucket);
    }
  });
});

describe('a bucket that does not exist is never a verdict on the copy (R-BK-14)', () => {
  test('R-BK-14: HEAD and check of an object in a missing bucket: OffsiteBucketMissing naming NoSuchBucket and the bucket, not "missing"', async () => {
    const store = storeWith({ NIGHTSHIFT_OFFSITE_S3_BUCKET: 'nsb-missing' });
    const key = store.keyOf('main', 'M1', 'BM1.SVG');
    const checks = [
      () => store.head(key),
      () => store.checkObject(key, { size: 10, sha256: 'a'.repeat(64) }),
      () => store.checkObject(key, { size: 10, sha256: 'a'.repeat(64) }, { readBack: true }),
      () => store.deleteObject(key),
      // the configured bucket exists, the recorded one does not
      () => storeWith().checkObject(key, { size: 10, sha256: 'a'.repeat(64) }, { bucket: 'nsb-missing' }),
    ];
    for (const run of checks) {
      const e = await errorOf(run);
      expect(`${e.type}: ${e.message}`).toMatch(/^OffsiteBucketMissing: off-site storage has no usable bucket while (reading|checking|deleting) main\/M1\/BM1\.SVG \(NoSuchBucket, HTTP 404, bucket nsb-missing at http/);
      expect(e.nonRetryable).toBe(true);
      expect(e.message).not.toMatch(/no object/);
    }
  });

  test('R-BK-14: an object that is not there, in a bucket that is, is still missing (HEAD and delete)', async () => {
    const store = storeWith();
    const key = store.keyOf('main', 'M2', 'BM2.SVG');
    expect(await store.head(key)).toBeUndefined();
    expect(await store.checkObject(key, { size: 10, sha256: 'a'.repeat(64) })).toEqual({ status: 'missing', reason: `no object ${key} in bucket ${s3.bucket}` });
    await store.deleteObject(key);
  });
});

describe('refused credentials on a HEAD are named by their S3 error code (R-BK-14)', () => {
  test('R-BK-14: wrong secret: SignatureDoesNotMatch; unknown key id: InvalidAccessKeyId (versitygw: XAdminUserNotFound); never "missing", never the secret', async () => {
    const wrongSecret = 'wrong' + s3.secretAccessKey.slice(5);
    const cases: [Record<string, string>, RegExp][] = [
      [{ NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: wrongSecret }, /\(SignatureDoesNotMatch, HTTP 403, bucket nightshift-offsite at /],
      [{ NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY000000' }, /\((InvalidAccessKeyId|XAdminUserNotFound), HTTP (403|404), bucket nightshift-offsite at /],
    ];
    for (const [extra, code] of cases) {
      const store = storeWith(extra);
      const key = store.keyOf('main', 'C1', 'BC1.SVG');
      for (const run of [() => store.head(key), () => store.checkObject(key, { size: 10, sha256: 'a'.repeat(64) }), () => store.deleteObject(key)]) {
        const e = await errorOf(run);
        expect(`${e.type}: ${e.message}`).toMatch(/^OffsiteCredentialsRejected: off-site storage refused the credentials while (reading|checking|deleting) main\/C1\/BC1\.SVG /);
        expect(e.message).toMatch(code);
        expect(e.message).not.toMatch(/Unknown|no object/);
        expect(e.nonRetryable).toBe(true);
        for (const secret of [wrongSecret, s3.secretAccessKey, 'AKIAUNKNOWNKEY000000']) expect(e.message).not.toContain(secret);
      }
    }
  });
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadConfig } from '../../config/config';
import { failureTypeOf } from '../../domain/failures';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { tempDir } from '../helpers/env';

/**
 * R-BK-14: the storage going away in the middle of an upload, on a real S3-compatible server: the
 * upload fails clearly (a retryable OffsiteUnavailable naming the endpoint, never a credential), no
 * object is visible, and the next attempt (a retry, as Temporal would make it) succeeds.
 */

const MiB = 1024 * 1024;
let dir: string;

function randomFile(name: string, bytes: number): { file: string; sha256: string } {
  const file = path.join(dir, name);
  const data = crypto.randomBytes(bytes);
  fs.writeFileSync(file, data);
  return { file, sha256: crypto.createHash('sha256').update(data).digest('hex') };
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The object as the server holds it, read by the admin client (straight to the server, not through the test's relay). */
async function storedSha256(client: S3Client, bucket: string, key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256Of(r.Body as NodeJS.ReadableStream);
}

async function unfinishedUploads(client: S3Client, bucket: string, key: string): Promise<number> {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  return (r.Uploads ?? []).filter((u) => u.Key === key).length;
}

/**
 * The descriptors this process holds open on `file` once they had a moment to close (Linux's /proc): a failed upload
 * must not keep the archive open (a worker would run out of descriptors, and keep pruned archives' space held).
 */
async function openDescriptorsOn(file: string): Promise<number> {
  let open = 0;
  for (let i = 0; i < 20; i++) {
    open = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
      } catch {
        return false; // closed meanwhile
      }
    }).length;
    if (open === 0) return 0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return open;
}

function storeFor(s3: S3TestServer): OffsiteStore {
  // one part in flight, 5 MiB parts: the fault lands between two parts; few SDK attempts, short timeouts
  const settings = loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5', NIGHTSHIFT_OFFSITE_S3_CONCURRENCY: '1' }) }).offsite!;
  return createOffsiteStore(settings, { maxAttempts: 2, connectionTimeoutMs: 2_000, idleTimeoutMs: 10_000 });
}

beforeAll(() => {
  dir = tempDir('offsite-faults');
});

describe('the S3 server process stops during an upload (R-BK-14)', () => {
  let s3: S3TestServer;
  let store: OffsiteStore;
  beforeAll(async () => {
    s3 = await startS3Server();
    store = storeFor(s3);
  });
  afterAll(async () => {
    store?.close();
    await s3?.stop();
  });

  test('R-BK-14: SIGKILL of the server after the first part: a retryable OffsiteUnavailable, no visible object; after its restart the retry succeeds', async () => {
    const { file, sha256 } = randomFile('BK1.SVG', 26 * MiB);
    const key = store.keyOf('main', 'K1', 'BK1.SVG');
    let killed: Promise<void> | undefined;
    const started = Date.now();
    const err = await store
      .upload({
        file,
        key,
        onProgress: (p) => {
          if (!killed && p.loaded > 0 && p.loaded < p.total) killed = s3.kill();
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    await killed;
    expect(killed).toBeDefined();
    expect(failureTypeOf(err)).toBe('OffsiteUnavailable');
    expect(err).toMatchObject({ nonRetryable: false });
    const message = String((err as Error).message);
    expect(message).toMatch(/off-site storage failed while uploading nightshift|off-site storage failed while uploading main\/K1\/BK1\.SVG/);
    expect(message).toMatch(/ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|ETIMEDOUT|TimeoutError/);
    expect(message).toContain(s3.endpoint);
    expect(message).not.toContain(s3.secretAccessKey);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(await openDescriptorsOn(file)).toBe(0);

    // the server comes back with what it had on disk: the unfinished upload, invisible to GET and LIST
    await s3.restart();
    expect(await store.head(key)).toBeUndefined();
    expect(await store.listDossier('main', 'K1')).toEqual([]);
    const admin = s3.client();
    try {
      expect(await unfinishedUploads(admin, s3.bucket, key)).toBe(1);
      const up = await store.upload({ file, key });
      expect(up).toMatchObject({ sha256, abortedStaleUploads: 1 });
      expect(await unfinishedUploads(admin, s3.bucket, key)).toBe(0);
    } finally {
      admin.destroy();
    }
    expect(await sha256Of(await store.getStream(key))).toBe(sha256);
  });
});

describe('the network to the S3 server goes away during an upload, the server keeps its state (R-BK-14)', () => {
  let s3: S3TestServer;
  let store: OffsiteStore;
  let admin: S3Client;
  beforeAll(async () => {
    s3 = await startS3Server({ proxy: true });
    store = storeFor(s3);
    admin = s3.client();
  });
  afterAll(async () => {
    admin?.destroy();
    store?.close();
    await s3?.stop();
  });

  test('R-BK-14: connections cut after the first part: OffsiteUnavailable, nothing visible, the unfinished upload is aborted by the next attempt, which succeeds', async () => {
    const { file, sha256 } = randomFile('BK2.SVG', 16 * MiB);
    const key = store.keyOf('main', 'K2', 'BK2.SVG');
    let cut = false;
    const err = await store
      .upload({
        file,
        key,
        onProgress: (p) => {
          if (!cut && p.loaded > 0 && p.loaded < p.total) {
            cut = true;
            s3.cut();
          }
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(cut).toBe(true);
    expect(failureTypeOf(err)).toBe('OffsiteUnavailable');
    expect(err).toMatchObject({ nonRetryable: false });
    expect(await openDescriptorsOn(file)).toBe(0);

    // the server never saw the upload complete, and the abort could not reach it
    s3.restore();
    expect(await unfinishedUploads(admin, s3.bucket, key)).toBe(1);
    expect(await store.head(key)).toBeUndefined();
    expect(await store.listDossier('main', 'K2')).toEqual([]);

    const up = await store.upload({ file, key });
    expect(up).toMatchObject({ sha256, size: 16 * MiB, abortedStaleUploads: 1 });
    expect(await unfinishedUploads(admin, s3.bucket, key)).toBe(0);
    expect(await storedSha256(admin, s3.bucket, key)).toBe(sha256);
  });
});

describe('credentials and bucket the storage refuses (R-BK-14)', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  function storeWith(extra: Record<string, string>): OffsiteStore {
    return createOffsiteStore(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env(extra) }).offsite!, { maxAttempts: 2 });
  }

  test('R-BK-14: the right key works; a wrong secret or an unknown key id is a non-retryable OffsiteCredentialsRejected that shows neither', async () => {
    const { file } = randomFile('BK3.SVG', 6 * MiB);
    const good = storeWith({});
    try {
      await good.upload({ file, key: good.keyOf('main', 'K3', 'BK3.SVG') });
      expect((await good.listDossier('main', 'K3')).length).toBe(1);
    } finally {
      good.close();
    }

    const wrongSecret = 'wrong' + s3.secretAccessKey.slice(5);
    const wrongs: Record<string, string>[] = [{ NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: wrongSecret }, { NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: 'AKIAUNKNOWNKEY000000' }];
    for (const extra of wrongs) {
      const bad = storeWith(extra);
      try {
        for (const attempt of [() => bad.upload({ file, key: bad.keyOf('main', 'K3', 'BK3b.SVG') }), () => bad.listDossier('main', 'K3')]) {
          const err = await attempt().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(`${failureTypeOf(err)}: ${String((err as Error).message)}`).toMatch(/^OffsiteCredentialsRejected: /);
          expect(err).toMatchObject({ nonRetryable: true });
          const shown = `${String((err as Error).message)} ${JSON.stringify(err)} ${String((err as Error).stack)}`;
          expect(shown).toMatch(/InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied|XAdminUserNotFound/);
          expect(shown).not.toContain(wrongSecret);
          expect(shown).not.toContain(s3.secretAccessKey);
          expect(shown).not.toContain('AKIAUNKNOWNKEY000000');
        }
      } finally {
        bad.close();
      }
    }
  });

  test('R-BK-14: a bucket that does not exist is a non-retryable OffsiteBucketMissing', async () => {
    const store = storeWith({ NIGHTSHIFT_OFFSITE_S3_BUCKET: 'no-such-bucket' });
    try {
      const err = await store.upload({ file: randomFile('BK4.SVG', 100).file, key: store.keyOf('main', 'K4', 'BK4.SVG') }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failureTypeOf(err)).toBe('OffsiteBucketMissing');
      expect(err).toMatchObject({ nonRetryable: true });
      expect(String((err as Error).message)).toMatch(/NoSuchBucket.*no-such-bucket/);
    } finally {
      store.close();
    }
  });
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { buffer } from 'node:stream/consumers';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { loadConfig, type OffsiteSettings } from '../../config/config';
import { failureTypeOf } from '../../domain/failures';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { tempDir } from '../helpers/env';

/** R-BK-14: the off-site store against a real S3-compatible server (moto), not a mocked client. */

const MiB = 1024 * 1024;
let s3: S3TestServer;
let admin: S3Client;
let dir: string;

function settings(extra: Record<string, string> = {}): OffsiteSettings {
  const config = loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'nightshift/prod', NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5', ...extra }) });
  return config.offsite!;
}

/** a file of random bytes (incompressible, every part different) and its SHA-256 */
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

beforeAll(async () => {
  dir = tempDir('offsite');
  s3 = await startS3Server();
  admin = s3.client();
});
afterAll(async () => {
  admin?.destroy();
  await s3?.stop();
});

describe('off-site store (R-BK-14)', () => {
  let store: OffsiteStore;
  beforeAll(() => {
    store = createOffsiteStore(settings());
  });
  afterAll(() => store.close());

  test('R-BK-14: a 12 MiB archive goes up in 5 MiB parts with per-part SHA-256 checksums, is listed, read back identical and deleted', async () => {
    const { file, sha256 } = randomFile('BD1.SVG', 12 * MiB);
    const key = store.keyOf('main', 'D1', '2026-12-02/BD1.SVG');
    expect(key).toBe('nightshift/prod/main/D1/2026-12-02/BD1.SVG');
    const progress: number[] = [];
    const up = await store.upload({ file, key, onProgress: (p) => progress.push(p.loaded) });
    expect(up).toMatchObject({ key, size: 12 * MiB, sha256, abortedStaleUploads: 0 });
    // three parts, each checked by the storage: the object's checksum is the checksum of the 3 part checksums
    expect(up.storageChecksum).toMatch(/^[A-Za-z0-9+/=]+-3$/);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toBe(12 * MiB);

    await store.upload({ file: randomFile('other.SVG', 1000).file, key: store.keyOf('main', 'D10', 'BD10.SVG') });
    const listed = await store.listDossier('main', 'D1');
    expect(listed.map((o) => [o.name, o.size])).toEqual([['2026-12-02/BD1.SVG', 12 * MiB]]);
    expect(await store.head(key)).toMatchObject({ size: 12 * MiB, sha256 });
    expect(await sha256Of(await store.getStream(key))).toBe(sha256);

    await store.deleteObject(key);
    expect(await store.listDossier('main', 'D1')).toEqual([]);
    expect(await store.head(key)).toBeUndefined();
  });

  test('R-BK-14: a small archive goes up in one PUT with its SHA-256, and replaces the older copy under the same key', async () => {
    const key = store.keyOf('main', 'D2', 'BD2.SVG');
    await store.upload({ file: randomFile('BD2-old.SVG', 2000).file, key });
    expect(await buffer(await store.getStream(key))).toHaveLength(2000);
    const { file, sha256 } = randomFile('BD2.SVG', 3000);
    const up = await store.upload({ file, key });
    expect(up.size).toBe(3000);
    expect(up.storageChecksum).toBe(Buffer.from(sha256, 'hex').toString('base64'));
    expect(await sha256Of(await store.getStream(key))).toBe(sha256);
    expect((await store.listDossier('main', 'D2')).map((o) => o.name)).toEqual(['BD2.SVG']);
  });

  test('R-BK-14: the storage verifies the checksum it is given: a body that does not match is refused and nothing is stored', async () => {
    const key = store.keyOf('main', 'D3', 'BD3.SVG');
    const wrong = crypto.createHash('sha256').update('something else').digest('base64');
    await expect(admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: Buffer.from('the archive'), ChecksumSHA256: wrong }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 400 },
    });
    expect(await store.head(key)).toBeUndefined();
  });

  test('R-BK-14: deleteObject is idempotent: deleting twice, or a key never written, is fine and leaves the neighbours alone', async () => {
    const key = store.keyOf('main', 'D6', '2026-12-01T02-00-00Z/BD6.SVG');
    const other = store.keyOf('main', 'D6', '2026-12-02T02-00-00Z/BD6.SVG');
    await store.upload({ file: randomFile('BD6a.SVG', 500).file, key });
    await store.upload({ file: randomFile('BD6b.SVG', 600).file, key: other });
    await store.deleteObject(key);
    await store.deleteObject(key);
    await store.deleteObject(store.keyOf('main', 'D6', 'never-written.SVG'));
    expect((await store.listDossier('main', 'D6')).map((o) => o.name)).toEqual(['2026-12-02T02-00-00Z/BD6.SVG']);
  });

  test('R-BK-14: checkObject: ok by the storage\'s own SHA-256 (single PUT) or by reading back (multipart); missing; corrupt with the reason', async () => {
    // a single PUT: the storage keeps the whole object's SHA-256, a HEAD is enough
    const small = randomFile('BD7.SVG', 4000);
    const smallKey = store.keyOf('main', 'D7', 'BD7.SVG');
    await store.upload({ file: small.file, key: smallKey });
    expect(await store.checkObject(smallKey, { size: 4000, sha256: small.sha256 })).toEqual({ status: 'ok', size: 4000, sha256: small.sha256, method: 'storage-checksum' });
    // multipart: the storage has a checksum of the parts' checksums only, so the object is read back and hashed
    const big = randomFile('BD8.SVG', 11 * MiB);
    const bigKey = store.keyOf('main', 'D8', 'BD8.SVG');
    await store.upload({ file: big.file, key: bigKey });
    expect(await store.checkObject(bigKey, { size: 11 * MiB, sha256: big.sha256 })).toEqual({ status: 'ok', size: 11 * MiB, sha256: big.sha256, method: 'read-back' });

    expect(await store.checkObject(store.keyOf('main', 'D7', 'nope.SVG'), { size: 1, sha256: small.sha256 })).toMatchObject({ status: 'missing', reason: expect.stringContaining('nope.SVG') as string });
    expect(await store.checkObject(smallKey, { size: 4001, sha256: small.sha256 })).toEqual({ status: 'corrupt', method: 'size', reason: 'stored 4000 bytes, expected 4001' });
    const otherSha = crypto.createHash('sha256').update('x').digest('hex');
    expect(await store.checkObject(smallKey, { size: 4000, sha256: otherSha })).toMatchObject({ status: 'corrupt', method: 'metadata' });

    // someone else's bytes of the same size under the key, with the expected metadata: the storage's checksum tells
    const forged = crypto.randomBytes(4000);
    await admin.send(new PutObjectCommand({ Bucket: s3.bucket, Key: smallKey, Body: forged, ChecksumAlgorithm: 'SHA256', Metadata: { sha256: small.sha256 } }));
    const c = await store.checkObject(smallKey, { size: 4000, sha256: small.sha256 });
    expect(c).toMatchObject({ status: 'corrupt', method: 'storage-checksum' });
    expect(c.status === 'corrupt' && c.reason).toContain(crypto.createHash('sha256').update(forged).digest('hex'));
  });

  test('R-BK-14: bytes rotted on the storage\'s disk: its HEAD still says ok, checkObject with readBack finds it', async () => {
    const { file, sha256 } = randomFile('BD9.SVG', 5000);
    const key = store.keyOf('main', 'D9', 'BD9.SVG');
    await store.upload({ file, key });
    // versitygw's posix backend keeps the object as a plain file <data>/<bucket>/<key>
    const onDisk = path.join(s3.dataDir, s3.bucket, key);
    const bytes = fs.readFileSync(onDisk);
    bytes[1234] = bytes[1234]! ^ 0xff;
    fs.writeFileSync(onDisk, bytes);
    expect(await store.checkObject(key, { size: 5000, sha256 })).toMatchObject({ status: 'ok', method: 'storage-checksum' });
    const full = await store.checkObject(key, { size: 5000, sha256 }, { readBack: true });
    expect(full).toMatchObject({ status: 'corrupt', method: 'read-back' });
    expect(full.status === 'corrupt' && full.reason).toMatch(/^the bytes read back do not match the storage's own checksum|^read back 5000 bytes/);
  });

  test('keys stay inside their dossier: no "..", no absolute name, no other dossier', () => {
    expect(() => store.keyOf('main', 'D1', '../D2/BD2.SVG')).toThrow(/not an object name/);
    expect(() => store.keyOf('main', 'D1', '/BD1.SVG')).toThrow(/not an object name/);
    expect(() => store.keyOf('main', '../x', 'B.SVG')).toThrow(/not a dossier code/);
    expect(() => store.keyOf('Main', 'D1', 'B.SVG')).toThrow(/not a target name/);
  });

  test('a missing local archive is a non-retryable OffsiteSourceMissing', async () => {
    const err = await store.upload({ file: path.join(dir, 'nope.SVG'), key: store.keyOf('main', 'D4', 'BD4.SVG') }).catch((e: unknown) => e);
    expect(failureTypeOf(err)).toBe('OffsiteSourceMissing');
    expect(err).toMatchObject({ nonRetryable: true });
  });
});

describe('configuration', () => {
  test('NIGHTSHIFT_OFFSITE_S3_*: path-style for an endpoint, prefix ends with "/", the secret never printed', () => {
    const s = settings();
    expect(s).toMatchObject({ bucket: s3.bucket, prefix: 'nightshift/prod/', forcePathStyle: true, partSizeBytes: 5 * MiB, concurrency: 4 });
    const shown = JSON.stringify(s) + inspect(s, { depth: 5 }) + String((s.credentials as { secretAccessKey: unknown }).secretAccessKey);
    expect(shown).not.toContain(s3.secretAccessKey);
    expect(shown).toContain('[redacted]');
  });

  test('incomplete or contradictory settings name the variable and never echo the secret', () => {
    const base = { NIGHTSHIFT_DATA_DIR: dir };
    expect(() => loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_ENDPOINT: 'http://127.0.0.1:9000' })).toThrow(/NIGHTSHIFT_OFFSITE_S3_BUCKET: off-site copies need a bucket/);
    expect(() => loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'b1b', NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: 'TOPSECRETVALUE' })).toThrow(/NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: a secret key needs its access key id/);
    expect(() => loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'b1b', NIGHTSHIFT_OFFSITE_S3_ENDPOINT: 'http://user:TOPSECRETVALUE@host:9000' })).toThrow(/expected no user or password/);
    // drill X, session 40: a query string (a signature, a key) was accepted and `backup info` printed it back
    for (const endpoint of ['http://127.0.0.1:9000/?X-Amz-Credential=TOPSECRETVALUE', 'http://127.0.0.1:9000/s3#TOPSECRETVALUE', 'http://127.0.0.1:9000/?']) {
      let said = '';
      try {
        loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'b1b', NIGHTSHIFT_OFFSITE_S3_ENDPOINT: endpoint });
      } catch (e) {
        said = (e as Error).message;
      }
      expect(said).toMatch(/NIGHTSHIFT_OFFSITE_S3_ENDPOINT: expected no query string or fragment in the URL/);
      expect(said).not.toContain('TOPSECRETVALUE');
    }
    expect(loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'b1b', NIGHTSHIFT_OFFSITE_S3_ENDPOINT: 'https://s3.example.net:9000/storage' }).offsite?.endpoint).toBe('https://s3.example.net:9000/storage');
    let message = '';
    try {
      loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'b1b', NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: 'AK', NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: 'TOPSECRET\nVALUE' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY/);
    expect(message).not.toMatch(/TOPSECRET/);
    expect(() => loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'Bad_Bucket' })).toThrow(/NIGHTSHIFT_OFFSITE_S3_BUCKET: expected a bucket name/);
    expect(() => loadConfig({ ...base, NIGHTSHIFT_OFFSITE_S3_BUCKET: 'b1b', NIGHTSHIFT_OFFSITE_S3_PREFIX: 'a/../b' })).toThrow(/NIGHTSHIFT_OFFSITE_S3_PREFIX/);
    expect(loadConfig(base).offsite).toBeUndefined();
  });

  test('the secret key from a file (NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE) works; an unreadable file is OffsiteNotConfigured, naming the file only', async () => {
    const secretFile = path.join(dir, 's3-secret');
    fs.writeFileSync(secretFile, `${s3.secretAccessKey}\n`, { mode: 0o600 });
    const env = s3.env({ NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: '', NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE: secretFile });
    const store = createOffsiteStore(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...env }).offsite!);
    try {
      const { file } = randomFile('BD5.SVG', 100);
      await store.upload({ file, key: store.keyOf('main', 'D5', 'BD5.SVG') });
      expect((await store.listDossier('main', 'D5')).length).toBe(1);
    } finally {
      store.close();
    }
    const missing = loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: '', NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE: path.join(dir, 'none') }) }).offsite!;
    let err: unknown;
    try {
      createOffsiteStore(missing);
    } catch (e) {
      err = e;
    }
    expect(failureTypeOf(err)).toBe('OffsiteNotConfigured');
    expect(String((err as Error).message)).toContain(path.join(dir, 'none'));
  });
});

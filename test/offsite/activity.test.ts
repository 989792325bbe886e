import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { createOffsiteActivities, type CopyArchiveOffsiteResult } from '../../activities/offsite';
import { loadConfig } from '../../config/config';
import { failureTypeOf } from '../../domain/failures';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { quietRuntime, tempDir } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';

/** R-BK-14: the copyArchiveOffsite activity (MockActivityEnvironment for its context) on a real S3 server. */

const MiB = 1024 * 1024;
let s3: S3TestServer;
let store: OffsiteStore;
let dir: string;

function randomFile(name: string, bytes: number): { file: string; sha256: string } {
  const file = path.join(dir, name);
  const data = crypto.randomBytes(bytes);
  fs.writeFileSync(file, data);
  return { file, sha256: crypto.createHash('sha256').update(data).digest('hex') };
}

beforeAll(async () => {
  quietRuntime();
  dir = tempDir('offsite-activity');
  s3 = await startS3Server();
  store = createOffsiteStore(
    loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'ns', NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5', NIGHTSHIFT_OFFSITE_S3_CONCURRENCY: '1' }) }).offsite!,
  );
});
afterAll(async () => {
  store?.close();
  await s3?.stop();
});

describe('copyArchiveOffsite (R-BK-14)', () => {
  test('R-BK-14: copies the archive under <prefix><target>/<code>/<key>, heartbeating its progress, and says what the storage checked', async () => {
    const { file, sha256 } = randomFile('BA1.SVG', 11 * MiB);
    const env = new MockActivityEnvironment({ attempt: 2 });
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const acts = createOffsiteActivities({ offsiteStore: () => store });
    const r = (await env.run(acts.copyArchiveOffsite, { target: 'main', code: 'A1', file, key: '2026-12-02/BA1.SVG' })) as CopyArchiveOffsiteResult;
    expect(r).toMatchObject({ objectKey: 'ns/main/A1/2026-12-02/BA1.SVG', bucket: s3.bucket, size: 11 * MiB, sha256, abortedStaleUploads: 0, attempt: 2 });
    expect(r.storageChecksum).toMatch(/-3$/);
    expect(beats[0]).toEqual({ phase: 'checksum', loaded: 0, total: 0 });
    expect(beats).toContainEqual({ phase: 'upload', loaded: 11 * MiB, total: 11 * MiB });
    expect(beats.filter((b) => (b as { phase: string }).phase === 'upload').length).toBeGreaterThanOrEqual(3);
    expect((await store.listDossier('main', 'A1')).map((o) => o.name)).toEqual(['2026-12-02/BA1.SVG']);
  });

  test('R-BK-14: cancelled in the middle (the workflow gave up, the worker stops): the upload stops, nothing is visible, nothing is left unfinished', async () => {
    const { file } = randomFile('BA2.SVG', 21 * MiB);
    const env = new MockActivityEnvironment();
    env.on('heartbeat', (d: { phase: string; loaded: number }) => {
      if (d.phase === 'upload' && d.loaded > 0) env.cancel();
    });
    const acts = createOffsiteActivities({ offsiteStore: () => store });
    const err = await env.run(acts.copyArchiveOffsite, { target: 'main', code: 'A2', file, key: 'BA2.SVG' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect((err as Error).name).toMatch(/AbortError|CancelledFailure/);
    expect(await store.head(store.keyOf('main', 'A2', 'BA2.SVG'))).toBeUndefined();
    // lib-storage aborts the multipart upload when it is cancelled
    await new Promise((r) => setTimeout(r, 500));
    expect(await store.abortIncompleteUploads(store.keyOf('main', 'A2', 'BA2.SVG'))).toBe(0);
  });

  test('no bucket configured: a non-retryable OffsiteNotConfigured; a bad input: InvalidInput', async () => {
    const env = new MockActivityEnvironment();
    const none = createOffsiteActivities({ offsiteStore: () => undefined });
    const { file } = randomFile('BA3.SVG', 10);
    const err = await env.run(none.copyArchiveOffsite, { target: 'main', code: 'A3', file, key: 'BA3.SVG' }).catch((e: unknown) => e);
    expect(failureTypeOf(err)).toBe('OffsiteNotConfigured');
    expect(err).toMatchObject({ nonRetryable: true });

    const acts = createOffsiteActivities({ offsiteStore: () => store });
    for (const bad of [
      { target: 'main', code: 'A3', file: 'relative/BA3.SVG', key: 'BA3.SVG' },
      { target: 'main', code: 'A3', file, key: '../A4/BA3.SVG' },
      { target: 'main', code: '../A3', file, key: 'BA3.SVG' },
    ]) {
      const e = await env.run(acts.copyArchiveOffsite, bad).catch((x: unknown) => x);
      expect(failureTypeOf(e)).toBe('InvalidInput');
    }
  });

  test('R-BK-14: the secret key and the key id appear in no log line and no failure, with good or refused credentials', async () => {
    const entries: LogEntry[] = [];
    const logger = new DefaultLogger('TRACE', (e) => entries.push(e));
    const { file } = randomFile('BA5.SVG', 6 * MiB);
    const good = createOffsiteActivities({ offsiteStore: () => store });
    await new MockActivityEnvironment({}, { logger }).run(good.copyArchiveOffsite, { target: 'main', code: 'A5', file, key: 'BA5.SVG' });
    const wrongSecret = `${s3.secretAccessKey.slice(0, -6)}WRONG0`;
    const refusedStore = createOffsiteStore(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: wrongSecret }) }).offsite!);
    let err: unknown;
    try {
      const refused = createOffsiteActivities({ offsiteStore: () => refusedStore });
      err = await new MockActivityEnvironment({}, { logger }).run(refused.copyArchiveOffsite, { target: 'main', code: 'A5', file, key: 'BA5b.SVG' }).catch((e: unknown) => e);
    } finally {
      refusedStore.close();
    }
    expect(failureTypeOf(err)).toBe('OffsiteCredentialsRejected');
    expect(entries.some((e) => e.message === 'archive copied off-site')).toBe(true);
    const everything = inspect(entries, { depth: 8 }) + String((err as Error).message) + String((err as Error).stack) + JSON.stringify(err);
    for (const secret of [s3.secretAccessKey, wrongSecret, s3.accessKeyId]) expect(everything).not.toContain(secret);
  });
});

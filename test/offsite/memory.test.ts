import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../config/config';
import { tempDir } from '../helpers/env';
import { startS3Server, type S3TestServer } from '../helpers/s3';

/**
 * R-BK-14 "multipart streaming without staging the whole archive in memory": a process uploading a 50 MiB and a
 * 250 MiB archive (5 MiB parts, 4 in flight) grows by about the same for both, never by the archive's size.
 * Measured in a process of its own (its RSS only), on versitygw. Seen: +47 / +57 / +52 MiB for 50 / 150 / 400 MiB:
 * the parts in flight and the next one being read (5 x 5 MiB), each part's checksum pass, and freed buffers the
 * garbage collector has not returned yet.
 */

const MiB = 1024 * 1024;
let s3: S3TestServer;
let dir: string;

beforeAll(async () => {
  dir = tempDir('offsite-rss');
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.stop();
});

/** a file of `mib` MiB of random bytes, written 1 MiB at a time (the test process does not hold it either) */
function randomFile(name: string, mib: number): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  for (let i = 0; i < mib; i++) fs.writeSync(fd, crypto.randomBytes(MiB));
  fs.closeSync(fd);
  return file;
}

async function uploadRss(file: string, key: string): Promise<{ grewMiB: number; size: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/offsite/fixtures/upload-rss.ts', file, key], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5', NIGHTSHIFT_OFFSITE_S3_CONCURRENCY: '4' }) },
  });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { before: number; peak: number; size: number };
  return { grewMiB: (r.peak - r.before) / MiB, size: r.size };
}

test('R-BK-14: uploading a 50 MiB and a 250 MiB archive grows the process by about the same (the parts in flight), not by the archive', async () => {
  const small = await uploadRss(randomFile('B50.SVG', 50), 'rss/main/R1/B50.SVG');
  fs.rmSync(path.join(dir, 'B50.SVG'));
  const big = await uploadRss(randomFile('B250.SVG', 250), 'rss/main/R2/B250.SVG');
  fs.rmSync(path.join(dir, 'B250.SVG'));
  console.log(`RSS growth while uploading: 50 MiB archive +${small.grewMiB.toFixed(1)} MiB, 250 MiB archive +${big.grewMiB.toFixed(1)} MiB (5 MiB parts, 4 in flight)`);
  expect(small.size).toBe(50 * MiB);
  expect(big.size).toBe(250 * MiB);
  // far from the 250 MiB archive
  expect(big.grewMiB).toBeLessThan(100);
  // five times the archive, about the same memory
  expect(big.grewMiB).toBeLessThan(small.grewMiB + 32);
});

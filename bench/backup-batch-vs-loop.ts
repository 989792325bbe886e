import fs from 'node:fs';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { generateDemoDossiers } from '../registry/demo';
import { backupDossierArchive } from '../archive/engine';
import { BackupKeyring, ensureBackupKeyFile, loadBackupKeyring } from '../archive/keys';
import { PROJECT_ROOT, loadConfig } from '../config/config';
import { schemaNameFor } from '../domain/dossier';
import { startBackupBatch } from '../starts';
import { type BackupBatchResult, batchResult } from '../workflows/backup-batch.api';
import { startS3Server } from '../test/helpers/s3';
import { workerProcessEnv } from '../workers/resources';
import { batchFollowUps, startBenchStack, type BenchStack } from './backup-batch-harness';

/**
 * N demo dossiers of ~200 KB (default 1000; `node bin/run-ts.js bench/backup-batch-vs-loop.ts 200`):
 *  1. the backup batch (workflow, chunks, ledger, report) with 2 chunks x 2 dossiers in flight, plain,
 *     then encrypted (issue 13.2: a key file appears in the worker's data dir, as `nightshift dev` writes it),
 *  2. the same engine in a plain loop, 4 lanes, in one process (goal: batch <= 1.2x the loop), plain and encrypted;
 *     the batch and the loop in three interleaved rounds each way, medians (a first batch, the data's first read,
 *     is shown apart: a cold batch against warm loops favoured the loops),
 *  3. a sequential `pg_dump -n <schema> -Fc` loop (goal: the batch at least 4x faster),
 *  4. local vs S3 (issue 13.4): the same plain batch on a second worker that has NIGHTSHIFT_OFFSITE_S3_* (a
 *     versitygw server on this machine, installed by scripts/install-s3-server.sh), so that each dossier's step
 *     is its archive and its off-site copy; with that worker's peak RSS.
 * Prints the ratios last (encryption's cost: goal <= +15%).
 */

/**
 * The plain batch again, on a worker of its own (queue bench-s3) configured with an S3-compatible bucket: the
 * harness's worker stays as it is (no bucket), so both figures come from one run of one stack.
 */
async function batchWithS3Copies(s: BenchStack, selected: number): Promise<{ seconds: number; ok: number; failed: number; objects: number; bytes: number; peakRss: number }> {
  // the test helper keeps the server's folders under NS_TEST_TMP: here, the bench's work folder (removed at the end)
  process.env.NS_TEST_TMP ??= path.join(s.work, 's3');
  const s3 = await startS3Server({ bucket: 'nightshift-bench' });
  const env = {
    ...process.env,
    // started as the harness's worker is (and a deployed one): two malloc arenas, the young generation capped
    ...workerProcessEnv(),
    DATABASE_URL: s.url,
    NIGHTSHIFT_DATA_DIR: path.join(s.work, 'data'),
    TEMPORAL_ADDRESS: s.config.temporal.address,
    TEMPORAL_TASK_QUEUE: 'bench-s3',
    ...s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'bench/' }),
  };
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'bench/backup-batch-worker.ts'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const rss = () => {
    try {
      return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      return 0;
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => (d.toString().includes('worker ready') ? resolve() : undefined));
      child.once('exit', (code) => reject(new Error(`the S3 bench worker exited (${code})`)));
    });
    // every dossier changed since the first batch: the S3 batch writes a new archive of each and copies it (an unmodified
    // dossier's newest archive would be copied as it is, R-BK-14, and the batch would time uploads only)
    await s.pools.get('main').query("UPDATE nightshift.dossier SET change_seq = nextval('nightshift.change_seq')");
    let peakRss = rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rss())), 200);
    const t = process.hrtime.bigint();
    const handle = await startBackupBatch(s.client, { target: 'main', all: true, tuning: { window: 2, concurrency: 2, chunkSize: 50 } }, { taskQueue: 'bench-s3', workflowId: 'backup/main/bench-s3', searchAttributes: false });
    const result = await batchResult(handle.result()).finally(() => clearInterval(sampler));
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    const { rows } = await s.pools
      .get('main')
      .query<{ n: number; bytes: string }>("SELECT count(*)::int AS n, coalesce(sum(size), 0)::text AS bytes FROM nightshift.backup_generation WHERE run_id = $1 AND offsite_state = 'copied'", [result.runId]);
    if (rows[0]!.n !== selected) throw new Error(`the S3 batch copied ${rows[0]!.n} of ${selected} dossiers`);
    // its verification and prune, on this worker's queue, end before the worker does
    await batchFollowUps(s.client, 'backup/main/bench-s3');
    return { seconds, ok: result.ok, failed: result.failed, objects: rows[0]!.n, bytes: Number(rows[0]!.bytes), peakRss };
  } finally {
    child.kill('SIGTERM');
    await exited;
    await s3.stop();
  }
}

const N = Number(process.argv[2] ?? process.env.BENCH_DOSSIERS ?? 1000);
const SIZE_KB = Number(process.env.BENCH_SIZE_KB ?? 200);
const LANES = 4;
const PG_DUMP = process.env.PG_DUMP ?? '/usr/bin/pg_dump';

async function main(): Promise<void> {
  const s = await startBenchStack();
  try {
    const pool = s.pools.get('main');
    const made = await generateDemoDossiers(pool, { target: 'main', count: N, sizeKb: SIZE_KB, prefix: 'BENCH' });
    // every phase starts settled: the fresh demo rows' hint bits set once (the first reader of new rows writes them:
    // the phase that came first paid for it, the plain batch, and encrypted/plain read 0.74), and a checkpoint written
    // before, not during, a phase
    const settle = async () => {
      for (const sql of ['VACUUM', 'CHECKPOINT']) await pool.query(sql);
    };
    const tuning = { window: 2, concurrency: 2, chunkSize: 50 };
    await settle();
    // the first batch reads the generated data for the first time (cold): shown, not compared
    const first = await s.runBatch({ all: true, tuning });
    // the loops back up exactly what the batch selected (the demo has template, test and non-transferable dossiers, R-BK-2)
    const { rows } = await pool.query<{ code: string }>('SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code', [first.result.runId]);
    const codes = rows.map((r) => r.code);
    console.log(`${made.length} demo dossiers of ~${SIZE_KB} KB, ${codes.length} selected`);
    console.log(`first batch (the data read for the first time, not compared): ${first.seconds.toFixed(2)} s (${first.result.ok} ok, ${first.result.failed} failed)`);

    const loopRun = async (label: string, keys?: BackupKeyring) => {
      const loopDir = path.join(s.work, `loop-${label}`);
      fs.mkdirSync(loopDir);
      // connections of its own, cold as the batch worker's are (it recycles them every 50 checkouts; recycling the
      // loop's so too: median 6.06 s against 5.68 s)
      const lanes = new pg.Pool({ connectionString: s.url, max: LANES });
      let next = 0;
      const t = process.hrtime.bigint();
      try {
        await Promise.all(
          Array.from({ length: LANES }, async () => {
            while (next < codes.length) await backupDossierArchive({ pool: lanes, target: 'main', code: codes[next++]!, destinationDir: loopDir, keys, plainOnPurpose: !keys });
          }),
        );
        return Number(process.hrtime.bigint() - t) / 1e9;
      } finally {
        await lanes.end();
      }
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    /** three rounds of the batch then the loop, each after a VACUUM and a CHECKPOINT: their medians (a shared machine's noise hits both alike) */
    const rounds = async (label: string, keys?: BackupKeyring): Promise<{ batch: number; loop: number; result: BackupBatchResult }> => {
      const batchTimes: number[] = [];
      const loopTimes: number[] = [];
      let result: BackupBatchResult | undefined;
      for (let round = 1; round <= 3; round++) {
        await settle();
        const b = await s.runBatch({ all: true, tuning });
        if (b.result.ok !== codes.length) throw new Error(`the ${label} batch backed up ${b.result.ok} of ${codes.length} dossiers`);
        result = b.result;
        batchTimes.push(b.seconds);
        await settle();
        loopTimes.push(await loopRun(`${label}-${round}`, keys));
        console.log(`${label} round ${round}: batch ${batchTimes.at(-1)!.toFixed(2)} s, loop ${loopTimes.at(-1)!.toFixed(2)} s`);
      }
      return { batch: median(batchTimes), loop: median(loopTimes), result: result! };
    };

    const plain = await rounds('plain');
    console.log(`batch: ${plain.batch.toFixed(2)} s (median of 3, ${plain.result.ok} ok, ${plain.result.failed} failed), ${(codes.length / plain.batch).toFixed(1)} dossiers/s`);
    console.log(`plain loop (${LANES} lanes): ${plain.loop.toFixed(2)} s (median of 3)`);
    await settle();
    const s3 = await batchWithS3Copies(s, codes.length);
    console.log(
      `batch + S3 copy: ${s3.seconds.toFixed(2)} s (${s3.ok} ok, ${s3.failed} failed), ${(codes.length / s3.seconds).toFixed(1)} dossiers/s, ` +
        `${s3.objects} objects, ${(s3.bytes / 1e6).toFixed(1)} MB copied; worker peak RSS ${(s3.peakRss / 1048576).toFixed(0)} MiB`,
    );

    // the worker process reads <its data dir>/backup-keys at each dossier: from now on its archives are encrypted
    const workerConfig = loadConfig({ NIGHTSHIFT_DATA_DIR: path.join(s.work, 'data') });
    const keysSettings = workerConfig.backupKeys;
    ensureBackupKeyFile(keysSettings);
    const encrypted = await rounds('encrypted', loadBackupKeyring(keysSettings));
    const sample = fs.readFileSync(path.join(workerConfig.backupDir, `B${codes[0]}.SVG`)).subarray(0, 200).toString('latin1');
    if (!/ aes-256-gcm key=/.test(sample)) throw new Error('the encrypted batch wrote a plain archive');
    console.log(`batch encrypted: ${encrypted.batch.toFixed(2)} s (median of 3), ${(codes.length / encrypted.batch).toFixed(1)} dossiers/s`);
    console.log(`plain loop (${LANES} lanes), encrypted: ${encrypted.loop.toFixed(2)} s (median of 3)`);

    const dumpDir = path.join(s.work, 'dump');
    fs.mkdirSync(dumpDir);
    await settle();
    const t2 = process.hrtime.bigint();
    for (const code of codes) {
      await promisify(execFile)(PG_DUMP, ['-d', s.url, '-n', `"${schemaNameFor(code)}"`, '-Fc', '-f', path.join(dumpDir, `${code}.dump`)]);
    }
    const dump = Number(process.hrtime.bigint() - t2) / 1e9;
    console.log(`sequential pg_dump -n -Fc: ${dump.toFixed(2)} s`);
    console.log(`RATIO pg_dump/batch = ${(dump / plain.batch).toFixed(2)} (goal >= 4); batch/loop = ${(plain.batch / plain.loop).toFixed(2)} (goal <= 1.2)`);
    console.log(`RATIO S3/local: batch ${(s3.seconds / plain.batch).toFixed(2)} (the copy step, on a local versitygw)`);
    console.log(
      `RATIO encrypted/plain: batch ${(encrypted.batch / plain.batch).toFixed(3)}, loop ${(encrypted.loop / plain.loop).toFixed(3)} (goal <= 1.15); ` +
        `pg_dump/batch encrypted = ${(dump / encrypted.batch).toFixed(2)}`,
    );
  } finally {
    await s.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

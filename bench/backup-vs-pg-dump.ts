import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { serverVersion } from '../store/server/server-version';
import { generateDemoDossiers } from '../registry/demo';
import { backupDossierArchive } from '../archive/engine';
import { ARCHIVE_FILE_MODE, type CodecSettings, DEFAULT_CODEC, WRITE_BATCH_BYTES, openPrivateFile, publishSyncedFile } from '../archive/writer';
import { BackupKeyring } from '../archive/keys';
import { ChunkSealer, newEnvelope } from '../archive/envelope';
import { readStructure } from '../archive/structure';
import { loadConfig } from '../config/config';
import { createOffsiteStore } from '../offsite/store';
import { archiveFileName } from '../domain/dossier';
import { backupSnapshotRow } from '../store/dossiers/backup-snapshot-row';
import { beginSnapshot } from '../store/catalog/begin-snapshot';
import { copyToSql } from '../store/catalog/copy-statements';
import { readSchemaCatalog } from '../store/catalog/read-schema-catalog';
import { commit } from '../store/backup/transaction';
import { migrate } from '../db/migrate';
import { schemaNameFor } from '../domain/dossier';
import { loadAverage, runBench } from './database';
import { S3_SERVER, startS3Server } from '../test/helpers/s3';

/**
 * 200 demo dossiers of ~200 KB backed up through the engine (B{code}.SVG each), plain and encrypted
 * (issue 13.2), with `pg_dump -n <schema> -Fc` for each schema, and read by the physical floor: the
 * same tables with `COPY … TO STDOUT` into a discarding stream inside one read-only snapshot per
 * dossier. All at the same concurrency: 4, the worker's default NIGHTSHIFT_WORKER_CONCURRENCY, i.e.
 * what one worker runs at once. The floor and both engine variants run ROUNDS times, interleaved
 * (a shared machine's noise hits them alike), and their medians count. Prints times, sizes and the
 * ratios last (goals: engine >= 8x faster than pg_dump -Fc, <= 1.3x the floor, encryption <= +15%).
 * With the embedded server, the CPU each side spent is printed too (this process, and PostgreSQL's
 * backends from /proc): on a shared machine, what a run costs is steadier than how long it took.
 * Then the engine with an off-site copy: each archive written locally, then uploaded with the off-site
 * store (offsite/store.ts, as the batch's copy step does) to a real S3 server, versitygw, started here
 * (scripts/install-s3-server.sh installs it; without it the row is skipped, saying why).
 *
 *   npm run bench:backup                      embedded PostgreSQL 15 in a temp folder (same major as /usr/bin/pg_dump 15)
 *   DATABASE_URL=postgres://… npm run bench:backup   an existing, migrated-or-empty database instead
 *   BENCH_CODECS=1 npm run bench:backup       also measures the codec candidates (gzip 1, gzip 6, brotli 0, 1, 4)
 *   BENCH_CONCURRENCY=2 npm run bench:backup  every step at another concurrency (the goals are set at 4): how the
 *                                             engine / floor ratio depends on the cores the floor leaves idle
 */

const DOSSIERS = Number(process.env.BENCH_DOSSIERS ?? 200);
const SIZE_KB = Number(process.env.BENCH_SIZE_KB ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PG_DUMP = process.env.PG_DUMP ?? '/usr/bin/pg_dump';

let codes: string[] = [];

async function inLanes<T>(items: T[], lanes: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** CPU ms (user + system) of `pid` and its children (PostgreSQL's backends), from /proc; 0 where there is none. */
function processTreeCpuMs(pid: number | undefined): number {
  if (!pid || !fs.existsSync('/proc/self/stat')) return 0;
  const tick = 10; // USER_HZ is 100 on Linux
  let ticks = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // f[1] ppid; f[11..14] utime, stime, cutime, cstime
    if (Number(d) === pid || Number(f[1]) === pid) ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks * tick;
}

function folderBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

interface Run {
  seconds: number;
  bytes: number;
  /** CPU ms per dossier: this process, and PostgreSQL (0 with DATABASE_URL) */
  cpu: { node: number; pg: number };
}

/** `fn` timed, with the CPU this process and PostgreSQL (`pgPid`'s tree) spent meanwhile. */
async function measured(pgPid: number | undefined, fn: () => Promise<number>): Promise<Run> {
  const node0 = process.cpuUsage();
  const pg0 = processTreeCpuMs(pgPid);
  let bytes = 0;
  const seconds = await timed(async () => {
    bytes = await fn();
  });
  const node = process.cpuUsage(node0);
  return { seconds, bytes, cpu: { node: (node.user + node.system) / 1000 / codes.length, pg: (processTreeCpuMs(pgPid) - pg0) / codes.length } };
}

runBench('nightshift-bench-', async ({ work, url, server }) => {
  const pool = new pg.Pool({ connectionString: url, max: CONCURRENCY + 2 });
  try {
    const version = await serverVersion(pool);
    const { stdout: dumpVersion } = await promisify(execFile)(PG_DUMP, ['--version']);
    console.log(`PostgreSQL ${version}, ${dumpVersion.trim()}, ${os.cpus().length} cores, concurrency ${CONCURRENCY}`);
    await migrate(url);
    const prefix = `BENCH${Date.now().toString(36).toUpperCase()}`;
    const genTime = await timed(async () => {
      codes = await generateDemoDossiers(pool, { target: 'main', count: DOSSIERS, sizeKb: SIZE_KB, prefix });
    });
    const { rows: size } = await pool.query<{ mb: string }>(
      `SELECT round(sum(pg_total_relation_size(c.oid)) / 1048576.0, 1)::text AS mb FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname LIKE 'd\\_' || $1 || '%' AND c.relkind = 'r'`,
      [prefix],
    );
    console.log(`${codes.length} demo dossiers of ~${SIZE_KB} KB generated in ${genTime.toFixed(1)} s (${size[0]!.mb} MB on disk)`);

    const keys = new BackupKeyring([{ id: 'bench', key: crypto.randomBytes(32) }]);
    const pgPid = server?.postgres.pid;
    const engineRun = (codec: CodecSettings, label: string, encrypted = false) =>
      measured(pgPid, async () => {
        const dir = path.join(work, `svg-${label}`);
        fs.rmSync(dir, { recursive: true, force: true });
        await inLanes(codes, CONCURRENCY, async (code) => {
          await backupDossierArchive({ pool, target: 'main', code, destinationDir: dir, codec, keys: encrypted ? keys : undefined });
        });
        return folderBytes(dir);
      });

    // the floor reads what the engine reads (every table's COPY columns) and throws it away
    const tablesOf = new Map<string, { name: string; columns: string[] }[]>();
    for (const code of codes) {
      const schema = schemaNameFor(code);
      const { columns } = await readSchemaCatalog(pool, schema);
      const tables = new Map<string, string[]>();
      for (const c of columns) if (!c.generated) tables.set(c.table, [...(tables.get(c.table) ?? []), c.column]);
      tablesOf.set(code, [...tables].map(([name, cols]) => ({ name, columns: cols })));
    }
    const floorRun = () =>
      measured(pgPid, async () => {
        let bytes = 0;
        await inLanes(codes, CONCURRENCY, async (code) => {
          const client = await pool.connect();
          try {
            await beginSnapshot(client);
            for (const t of tablesOf.get(code)!) {
              const discard = new Writable({
                write(chunk: Buffer, _enc, done) {
                  bytes += chunk.length;
                  done();
                },
              });
              await pipeline(client.query(copyTo(copyToSql(schemaNameFor(code), t.name, t.columns))), discard);
            }
            await commit(client);
          } finally {
            client.release();
          }
        });
        return bytes;
      });
    // not a floor: what the engine reads besides the data (its snapshot row and the schema's structure, one statement each), alone
    const catalogRun = () =>
      measured(pgPid, async () => {
        await inLanes(codes, CONCURRENCY, async (code) => {
          const client = await pool.connect();
          try {
            await beginSnapshot(client);
            const d = (await backupSnapshotRow(client, code))!;
            await readStructure(client, d.schema_name);
            await commit(client);
          } finally {
            client.release();
          }
        });
        return 0;
      });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const medianRun = (runs: Run[]): Run => {
      const m = median(runs.map((r) => r.seconds));
      return runs.find((r) => r.seconds === m)!;
    };

    if (process.env.BENCH_CODECS) {
      for (const [label, codec] of [
        ['gzip-1', { codec: 'gzip', level: 1 }],
        ['gzip-6', { codec: 'gzip', level: 6 }],
        ['brotli-0', { codec: 'brotli', level: 0 }],
        ['brotli-1', { codec: 'brotli', level: 1 }],
        ['brotli-4', { codec: 'brotli', level: 4 }],
      ] as const) {
        const r = await engineRun(codec, label);
        const cpu = pgPid ? `  CPU ${r.cpu.node.toFixed(1)} ms here + ${r.cpu.pg.toFixed(1)} ms PostgreSQL per dossier` : '';
        console.log(`codec ${label.padEnd(9)} ${r.seconds.toFixed(2)} s  ${(r.bytes / 1048576).toFixed(2)} MB${cpu}`);
      }
    }

    const floors: Run[] = [];
    const plains: Run[] = [];
    const encs: Run[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // the order turns each round: none of the three always runs first (cold caches) or last
      const runs = [() => floorRun(), () => engineRun(DEFAULT_CODEC, 'plain'), () => engineRun(DEFAULT_CODEC, 'encrypted', true)];
      const out: Run[] = [];
      for (let i = 0; i < runs.length; i++) {
        const k = (i + round - 1) % runs.length;
        out[k] = await runs[k]!();
      }
      const [f, p, e] = out as [Run, Run, Run];
      floors.push(f);
      plains.push(p);
      encs.push(e);
      console.log(
        `round ${round}: COPY floor ${f.seconds.toFixed(2)} s, engine plain ${p.seconds.toFixed(2)} s, engine encrypted ${e.seconds.toFixed(2)} s` +
          ` (encrypted/plain ${(e.seconds / p.seconds).toFixed(3)}; load average ${loadAverage()})`,
      );
    }
    const catalog = await catalogRun();
    // the CPU budget of what the engine adds to the floor, each step alone at the same concurrency (this process only):
    // the codec over each dossier's COPY text in memory (in the thread pool, as the writer runs it), and the durable
    // file (exclusive 0600 create, write, fsync, rename, folder fsync: R-BK-6) of each archive's size
    const copyText = new Map<string, Buffer>();
    for (const code of codes) {
      const client = await pool.connect();
      try {
        const chunks: Buffer[] = [];
        for (const t of tablesOf.get(code)!) {
          for await (const c of client.query(copyTo(copyToSql(schemaNameFor(code), t.name, t.columns))) as AsyncIterable<Buffer>) chunks.push(c);
        }
        copyText.set(code, Buffer.concat(chunks));
      } finally {
        client.release();
      }
    }
    const plainSizes = new Map(codes.map((code) => [code, fs.statSync(path.join(work, 'svg-plain', archiveFileName(code))).size]));
    const compress = (text: Buffer) =>
      new Promise<Buffer>((resolve, reject) => {
        const done = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
        if (DEFAULT_CODEC.codec === 'gzip') zlib.gzip(text, { level: DEFAULT_CODEC.level, chunkSize: WRITE_BATCH_BYTES }, done);
        else zlib.brotliCompress(text, { chunkSize: WRITE_BATCH_BYTES, params: { [zlib.constants.BROTLI_PARAM_QUALITY]: DEFAULT_CODEC.level } }, done);
      });
    const codecRun = await measured(pgPid, async () => {
      await inLanes(codes, CONCURRENCY, async (code) => {
        await compress(copyText.get(code)!);
      });
      return 0;
    });
    const fileDir = path.join(work, 'durable');
    fs.mkdirSync(fileDir);
    const fileRun = await measured(pgPid, async () => {
      await inLanes(codes, CONCURRENCY, async (code) => {
        const tmp = path.join(fileDir, `.${code}.tmp`);
        const fh = await openPrivateFile(tmp, ARCHIVE_FILE_MODE);
        try {
          await fh.write(copyText.get(code)!.subarray(0, plainSizes.get(code)));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await publishSyncedFile(tmp, path.join(fileDir, archiveFileName(code)), fileDir);
      });
      return 0;
    });
    // the cipher alone over the same compressed bytes (in memory, 64 KiB pieces as gzip hands them over):
    // encryption's own cost, without the disk and with less of the machine's noise
    const plainDir = path.join(work, 'svg-plain');
    const archives = fs.readdirSync(plainDir).map((f) => fs.readFileSync(path.join(plainDir, f)));
    const cipherSeconds = await timed(async () => {
      for (const a of archives) {
        const { fileKey } = newEnvelope('bench', crypto.randomBytes(32));
        const sealer = new ChunkSealer(fileKey, Buffer.from('bench\n'));
        for (let i = 0; i < a.length; i += 65536) sealer.push(a.subarray(i, i + 65536));
        sealer.final();
      }
    });
    const engine = medianRun(plains);
    const encrypted = medianRun(encs);
    const floorRunMedian = medianRun(floors);
    const floor = floorRunMedian.seconds;

    // local vs S3: the archive written locally, then copied with the off-site store (what the batch's copy step does)
    let s3: { seconds: number; bytes: number } | string;
    if (!fs.existsSync(S3_SERVER)) s3 = `skipped: no S3 server at ${S3_SERVER} (bash scripts/install-s3-server.sh installs versitygw)`;
    else {
      process.env.NS_TEST_TMP ??= work; // the test helper keeps the server's folders there
      const server = await startS3Server();
      const store = createOffsiteStore(loadConfig({ NIGHTSHIFT_DATA_DIR: path.join(work, 'data'), ...server.env() }).offsite!);
      try {
        const dir = path.join(work, 'svg-s3');
        let bytes = 0;
        const seconds = await timed(() =>
          inLanes(codes, CONCURRENCY, async (code) => {
            const r = await backupDossierArchive({ pool, target: 'main', code, destinationDir: dir, codec: DEFAULT_CODEC, keys });
            const up = await store.upload({ file: r.file, key: store.keyOf('main', code, archiveFileName(code)) });
            bytes += up.size;
          }),
        );
        s3 = { seconds, bytes };
      } finally {
        store.close();
        await server.stop();
      }
    }

    const dumpDir = path.join(work, 'pg_dump');
    fs.mkdirSync(dumpDir);
    const run = promisify(execFile);
    const dumpSeconds = await timed(() =>
      inLanes(codes, CONCURRENCY, async (code) => {
        // -n takes a pattern: the quotes keep the schema's case
        await run(PG_DUMP, ['--dbname', url!, '-n', `"${schemaNameFor(code)}"`, '-Fc', '-f', path.join(dumpDir, `${code}.dump`)]);
      }),
    );
    const dumpBytes = folderBytes(dumpDir);
    const mb = (b: number) => (b / 1048576).toFixed(2);
    const per = (sec: number) => `${((sec / codes.length) * 1000).toFixed(1)} ms per dossier`;
    const cpu = (r: Run) => (pgPid ? `; CPU ${r.cpu.node.toFixed(1)} ms here + ${r.cpu.pg.toFixed(1)} ms PostgreSQL per dossier` : '');
    console.log(`COPY floor          ${floor.toFixed(2)} s  ${mb(floorRunMedian.bytes)} MB read, discarded  (${per(floor)}, median of ${ROUNDS}${cpu(floorRunMedian)})`);
    console.log(`engine plain        ${engine.seconds.toFixed(2)} s  ${mb(engine.bytes)} MB  (${per(engine.seconds)}, ${DEFAULT_CODEC.codec} ${DEFAULT_CODEC.level}, median of ${ROUNDS}${cpu(engine)})`);
    console.log(`engine encrypted    ${encrypted.seconds.toFixed(2)} s  ${mb(encrypted.bytes)} MB  (${per(encrypted.seconds)}, + aes-256-gcm, median of ${ROUNDS}${cpu(encrypted)})`);
    console.log(
      typeof s3 === 'string'
        ? `engine + S3 copy    ${s3}`
        : `engine + S3 copy    ${s3.seconds.toFixed(2)} s  ${mb(s3.bytes)} MB uploaded  (${per(s3.seconds)}, encrypted, written locally then uploaded to versitygw on this machine; ${(s3.seconds / encrypted.seconds).toFixed(2)}x the local encrypted engine)`,
    );
    console.log(`pg_dump -Fc         ${dumpSeconds.toFixed(2)} s  ${mb(dumpBytes)} MB  (${per(dumpSeconds)})`);
    console.log(`catalog read alone  ${catalog.seconds.toFixed(2)} s  (${per(catalog.seconds)}: snapshot row + structure, no data; not part of the floor${cpu(catalog)})`);
    console.log(`ratio engine / pg_dump: time ${(engine.seconds / dumpSeconds).toFixed(2)}, size ${(engine.bytes / dumpBytes).toFixed(2)}`);
    console.log(
      `RATIOS pg_dump / engine = ${(dumpSeconds / engine.seconds).toFixed(2)}x faster (goal >= 8; encrypted ${(dumpSeconds / encrypted.seconds).toFixed(2)}x); ` +
        `engine / COPY floor = ${(engine.seconds / floor).toFixed(2)} (goal <= 1.3; encrypted ${(encrypted.seconds / floor).toFixed(2)}); ` +
        `encrypted / plain = ${(encrypted.seconds / engine.seconds).toFixed(3)} (goal <= 1.15)`,
    );
    if (pgPid) {
      const total = (r: Run) => r.cpu.node + r.cpu.pg;
      console.log(
        `CPU per dossier (this process + PostgreSQL): floor ${total(floorRunMedian).toFixed(1)} ms, engine ${total(engine).toFixed(1)} ms (${(total(engine) / total(floorRunMedian)).toFixed(2)}x), ` +
          `encrypted ${total(encrypted).toFixed(1)} ms (${(total(encrypted) / total(engine)).toFixed(3)}x plain), catalog read alone ${total(catalog).toFixed(1)} ms`,
      );
    }
    console.log(
      `cipher alone: AES-256-GCM over the ${mb(engine.bytes)} MB of plain archives (in memory) in ${(cipherSeconds * 1000).toFixed(0)} ms, ` +
        `${((cipherSeconds / engine.seconds) * 100).toFixed(1)}% of the plain engine's time (the encrypted/plain ratio above also carries the machine's noise)`,
    );
    if (pgPid) {
      const total = (r: Run) => r.cpu.node + r.cpu.pg;
      const f = total(floorRunMedian);
      const steps = f + total(catalog) + codecRun.cpu.node + fileRun.cpu.node;
      console.log(
        `CPU budget per dossier, each step alone: floor ${f.toFixed(1)} ms + catalog read ${total(catalog).toFixed(1)} ms ` +
          `+ ${DEFAULT_CODEC.codec} ${DEFAULT_CODEC.level} over the COPY text ${codecRun.cpu.node.toFixed(1)} ms + durable file (create, write, fsync, rename, folder fsync) ${fileRun.cpu.node.toFixed(1)} ms ` +
          `= ${steps.toFixed(1)} ms (${(steps / f).toFixed(2)}x the floor); the engine ${total(engine).toFixed(1)} ms, so frames, hashing, its other round trips ` +
          `and JavaScript ${(total(engine) - steps).toFixed(1)} ms (each figure carries the machine's noise); 1.3x the floor is ${(1.3 * f).toFixed(1)} ms`,
      );
    }
  } finally {
    await pool.end();
  }
});

import pg from 'pg';
import { generateDemoDossiers } from '../registry/demo';
import { type BackupSnapshotRow, backupSnapshotRow } from '../store/dossiers/backup-snapshot-row';
import type { NewGeneration } from '../domain/generation';
import { recordBackup } from '../store/dossiers/record-backup';
import { recordGeneration } from '../store/generations/record-generation';
import { insertRun } from '../store/backup/insert-run';
import { recordItem } from '../store/backup/record-item';
import { begin, rollback } from '../store/backup/transaction';
import { generationById } from '../store/generations/generation-by-id';
import { releaseGenerationLease, takeGenerationLease } from '../store/generations/lease';
import { markGenerationVerified } from '../store/generations/mark-verified';
import { insertVerifyRun } from '../store/verify/insert-run';
import { recordVerifyItem } from '../store/verify/record-item';
import type { Queryable } from '../store/queryable';
import { migrate } from '../db/migrate';
import { runBench } from './database';
import { treeCpuSeconds } from './cpu';

/**
 * The statements a backup batch runs per dossier to record it (archive/engine.ts: the dossier's backup, its
 * generation, the run's ledger item and totals), and those a verification runs per generation (its lease, its row,
 * its state, the run's item), through the store's own functions: as they run them, on named statements prepared
 * once per connection, and with the names stripped (every statement parsed and planned each time, as they ran
 * before). In a transaction rolled back each time, so that every iteration does the same work; a batch's registry
 * row (already named) is read first in both modes, for the snapshot's values. The two modes interleave, each block on
 * a new connection (its first execution includes the prepare). With the embedded server, PostgreSQL's CPU is printed too.
 *
 *   node bin/run-ts.js bench/backup-record.ts [iterations per block]     default 2,000, 3 blocks per mode
 *   DATABASE_URL=postgres://… node bin/run-ts.js bench/backup-record.ts   (wall time only)
 */

const PER_BLOCK = Number(process.argv[2] ?? 2000);
const BLOCKS = 3;
const MODES = ['unnamed', 'named'] as const;

/** `client` with the names taken out of its statements: PostgreSQL parses and plans each one at every execution. */
function unnamed(client: pg.PoolClient): Queryable {
  return {
    query: (config: string | pg.QueryConfig, values?: unknown[]) =>
      typeof config === 'string' ? client.query(config, values) : client.query({ text: config.text, values: config.values ?? values }),
  } as Queryable;
}

runBench('nightshift-bench-record-', async ({ work, url, server }) => {
  const pgPid = server?.postgres.pid;
  const pgCpuMs = () => (pgPid ? treeCpuSeconds(pgPid) * 1000 : 0);
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const codes = await generateDemoDossiers(pool, { target: 'main', count: 100, sizeKb: 5, prefix: `REC${Date.now().toString(36).toUpperCase()}` });
  const runId = await insertRun(pool, {
    workflowId: `bench-record-${Date.now()}`,
    kind: 'run',
    retryOf: null,
    previousRun: null,
    settings: { destinationDir: work, documents: false, copyStatuses: ['original'], modifiedOnly: true, reportFolder: work, reportRecipients: [], generationsRoot: work },
    onlyCodes: null,
  });
  /** A generation of the dossier whose registry row is `d`, as a backup of ~200 KB records it. */
  const newGeneration = (d: BackupSnapshotRow, file: string, o: { links: string[]; runId: number | null; reason: string }): NewGeneration => ({
    code: d.code, kind: 'normal', file, ...o, snapshotAt: d.snapshot_at,
    size: 200_000, sha256: null, keyId: null, patchLevel: d.patch_level, changeSeq: d.change_seq, tables: 4, rowCount: 1000,
  });
  // one kept generation per dossier, for the verification's statements
  const generations: { id: number; code: string; file: string; snapshotAt: Date }[] = [];
  for (const code of codes) {
    const d = (await backupSnapshotRow(pool, code))!;
    const file = `${work}/g/${code}.SVG`;
    const id = await recordGeneration(pool, newGeneration(d, file, { links: [], runId: null, reason: 'bench' }));
    generations.push({ id, code, file, snapshotAt: d.snapshot_at });
  }
  const verifyRunId = await insertVerifyRun(pool, {
    workflowId: `bench-record-verify-${Date.now()}`, scope: { kind: 'all' }, full: false, samplePercent: 0, seed: 1, anchor: null, selected: generations.length,
    settings: { reportFolder: work, reportRecipients: [] },
  });

  /** A batch's dossier: the registry row (already named), then the transaction that records its backup. */
  const backupRecord = async (client: pg.PoolClient, db: Queryable, i: number) => {
    const code = codes[i % codes.length]!;
    const d = (await backupSnapshotRow(client, code))!;
    await begin(client);
    await recordBackup(db, { code, schema: d.schema_name, snapshotAt: d.snapshot_at, changeSeq: d.change_seq });
    const generationId = await recordGeneration(db, newGeneration(d, `${work}/g/${code}-${i}.SVG`, { links: [`${work}/B${code}.SVG`], runId, reason: 'batch' }));
    const added = await recordItem(db, runId, { code, status: 'ok', attempts: 1, error: null, file: `${work}/B${code}.SVG`, size: 200_000, durationMs: 5 });
    if (!generationId || added !== 'added') throw new Error(`recorded ${generationId}, ${added}`);
    await rollback(client);
  };
  /** A verified generation (activities/verify.ts, R-BK-13): its lease, its row, its state, the run's item, the lease gone. */
  const verifyRecord = async (client: pg.PoolClient, db: Queryable, i: number) => {
    const g = generations[i % generations.length]!;
    await begin(client);
    if (!(await takeGenerationLease(db, g.id, 'bench', 600))) throw new Error(`no lease on ${g.id}`);
    if (!(await generationById(db, g.id))) throw new Error(`no generation ${g.id}`);
    await markGenerationVerified(db, g.id, { state: 'ok', error: null, restored: false, sha256: 'a'.repeat(64) });
    const alive = await recordVerifyItem(db, verifyRunId, { generationId: g.id, code: g.code, file: g.file, snapshotAt: g.snapshotAt, status: 'ok', restored: false, sha256: null, error: null, durationMs: 1 });
    if (!alive) throw new Error('verify run closed');
    await releaseGenerationLease(db, g.id, 'bench');
    await rollback(client);
  };

  type Figures = { wall: number; node: number; pg: number };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  for (const [label, step] of [
    ['a batch dossier (registry row, BEGIN, backup, generation, ledger item, ROLLBACK)', backupRecord],
    ['a verified generation (BEGIN, lease, row, state, run item, lease released, ROLLBACK)', verifyRecord],
  ] as const) {
    const results = Object.fromEntries(MODES.map((m) => [m, [] as Figures[]])) as Record<(typeof MODES)[number], Figures[]>;
    for (let block = 0; block < BLOCKS; block++) {
      for (const mode of block % 2 ? [...MODES].reverse() : MODES) {
        const client = await pool.connect();
        const db = mode === 'named' ? client : unnamed(client);
        const pg0 = pgCpuMs();
        const node0 = process.cpuUsage();
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < PER_BLOCK; i++) await step(client, db, i);
        const wall = Number(process.hrtime.bigint() - t0) / 1e6 / PER_BLOCK;
        const node = process.cpuUsage(node0);
        results[mode].push({ wall, node: (node.user + node.system) / 1000 / PER_BLOCK, pg: (pgCpuMs() - pg0) / PER_BLOCK });
        client.release(true);
      }
    }
    const m = (mode: (typeof MODES)[number], k: keyof Figures) => median(results[mode].map((r) => r[k]));
    console.log(`${label}: ${BLOCKS} blocks of ${PER_BLOCK} per mode, medians, ms each`);
    for (const mode of MODES) {
      console.log(`  ${mode.padEnd(8)} wall ${m(mode, 'wall').toFixed(3)}  this process CPU ${m(mode, 'node').toFixed(3)}${pgPid ? `  PostgreSQL CPU ${m(mode, 'pg').toFixed(3)}` : ''}`);
    }
    console.log(
      `RATIO unnamed / named: wall ${(m('unnamed', 'wall') / m('named', 'wall')).toFixed(2)}` +
        (pgPid ? `, PostgreSQL CPU ${(m('unnamed', 'pg') / m('named', 'pg')).toFixed(2)} (${(m('unnamed', 'pg') - m('named', 'pg')).toFixed(2)} ms saved each)` : ''),
    );
  }
  await pool.end();
});

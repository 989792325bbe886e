import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { generateDemoDossiers } from '../registry/demo';
import { restoreDossierArchive } from '../archive/engine';
import { ident } from '../db/ident';
import { schemaNameFor } from '../domain/dossier';
import { startRestoreDossier, startRestoreRun } from '../starts';
import { restoreRunWorkflowId } from '../workflows/backup-restore-run.api';
import { restoreDossierWorkflowId } from '../workflows/backup-dossier.api';
import { startBenchStack } from './backup-batch-harness';

/**
 * A lost database: N demo dossiers of ~200 KB (default 300; `node bin/run-ts.js bench/restore-run-vs-loop.ts 500`)
 * backed up by a batch, then lost (schemas and registry rows dropped, the generations catalog kept) and brought back
 * three ways, each timed on the same stack:
 *  1. the bulk restore run (`backup restore --all --at DATE`: workflow, claim, ledger, chunks; 2 dossiers at once),
 *  2. the same restore engine in a plain loop, 2 lanes, in one process (goal: the run <= 1.2x the loop),
 *  3. what an operator did before it: one `backup restore CODE --at DATE` workflow per dossier, 4 in flight,
 *  4. `pg_restore` of a `pg_dump -n <schema> -Fc` of each dossier, 2 lanes (what operators trust; the dumps are made
 *     before the loss, not timed).
 * Prints the ratios last.
 */

const N = Number(process.argv[2] ?? process.env.BENCH_DOSSIERS ?? 300);
const SIZE_KB = Number(process.env.BENCH_SIZE_KB ?? 200);
const PG_DUMP = process.env.PG_DUMP ?? '/usr/bin/pg_dump';
const PG_RESTORE = process.env.PG_RESTORE ?? '/usr/bin/pg_restore';
const run = promisify(execFile);

/** The dossiers gone as with a lost database: their schemas and registry rows (the generations catalog stays). */
async function lose(pool: pg.Pool, codes: string[]): Promise<void> {
  for (const code of codes) {
    await pool.query(`DROP SCHEMA IF EXISTS ${ident(schemaNameFor(code))} CASCADE`);
    await pool.query('DELETE FROM nightshift.dossier WHERE code = $1', [code]);
  }
}

async function present(pool: pg.Pool, codes: string[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = ANY ($1::text[])', [codes.map(schemaNameFor)]);
  return rows[0]!.n;
}

async function lanes<T>(items: T[], n: number, each: (item: T) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await each(items[next++]!);
    }),
  );
  return Number(process.hrtime.bigint() - t) / 1e9;
}

async function main(): Promise<void> {
  const s = await startBenchStack();
  try {
    const pool = s.pools.get('main');
    await generateDemoDossiers(pool, { target: 'main', count: N, sizeKb: SIZE_KB, prefix: 'BENCH' });
    const batch = await s.runBatch({ all: true, tuning: { window: 2, concurrency: 2, chunkSize: 50 } });
    const { rows } = await pool.query<{ code: string; file: string }>(
      `SELECT DISTINCT ON (code) code, file FROM nightshift.backup_generation WHERE run_id = $1 ORDER BY code, id DESC`,
      [batch.result.runId],
    );
    const codes = rows.map((r) => r.code);
    console.log(`${N} demo dossiers of ~${SIZE_KB} KB, ${codes.length} backed up by the batch in ${batch.seconds.toFixed(2)} s`);
    const at = new Date().toISOString();

    const dumpDir = path.join(s.work, 'dump');
    fs.mkdirSync(dumpDir);
    await lanes(codes, 2, (code) => run(PG_DUMP, ['-d', s.url, '-n', `"${schemaNameFor(code)}"`, '-Fc', '-f', path.join(dumpDir, `${code}.dump`)]));

    await lose(pool, codes);
    const t = process.hrtime.bigint();
    const handle = await startRestoreRun(s.client, { target: 'main', all: true, at, replace: false, from: 'auto' }, { taskQueue: 'bench', workflowId: restoreRunWorkflowId('main', 'bench'), searchAttributes: false });
    const result = await handle.result();
    const bulk = Number(process.hrtime.bigint() - t) / 1e9;
    if (result.restored !== codes.length || (await present(pool, codes)) !== codes.length) throw new Error(`the restore run restored ${result.restored} of ${codes.length}`);
    console.log(`restore run (--all --at): ${bulk.toFixed(2)} s, ${(codes.length / bulk).toFixed(1)} dossiers/s`);

    await lose(pool, codes);
    const loop = await lanes(rows, 2, (r) => restoreDossierArchive({ pool, target: 'main', file: r.file, replace: false, documentsDir: s.config.documentsDir }));
    if ((await present(pool, codes)) !== codes.length) throw new Error('the engine loop did not restore every dossier');
    console.log(`engine loop (2 lanes): ${loop.toFixed(2)} s`);

    await lose(pool, codes);
    const { rows: generations } = await pool.query<{ code: string; id: string; file: string }>(
      `SELECT DISTINCT ON (code) code, id::text, file FROM nightshift.backup_generation WHERE code = ANY ($1::text[]) ORDER BY code, id DESC`,
      [codes],
    );
    const single = await lanes(generations, 4, async (g) => {
      const h = await startRestoreDossier(
        s.client,
        { target: 'main', file: g.file, as: g.code, replace: false, generationId: Number(g.id) },
        { taskQueue: 'bench', workflowId: `${restoreDossierWorkflowId('main', g.code)}/bench`, searchAttributes: false },
      );
      await h.result();
    });
    if ((await present(pool, codes)) !== codes.length) throw new Error('the single restores did not restore every dossier');
    console.log(`one restore workflow per dossier (4 in flight): ${single.toFixed(2)} s`);

    await lose(pool, codes);
    const pgRestore = await lanes(codes, 2, (code) => run(PG_RESTORE, ['-d', s.url, path.join(dumpDir, `${code}.dump`)]));
    if ((await present(pool, codes)) !== codes.length) throw new Error('pg_restore did not restore every dossier');
    console.log(`pg_restore of pg_dump -Fc (2 lanes): ${pgRestore.toFixed(2)} s`);

    console.log(
      `RATIO run/loop = ${(bulk / loop).toFixed(2)} (goal <= 1.2); single workflows/run = ${(single / bulk).toFixed(2)}; pg_restore/run = ${(pgRestore / bulk).toFixed(2)}`,
    );
  } finally {
    await s.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import fs from 'node:fs';
import path from 'node:path';
import { generateDemoDossiers } from '../registry/demo';
import { generateDemoPatches } from '../patches/demo';
import { partialPatchResult, type PatchRunResult } from '../workflows/patch-integration.api';
import { startPatchRun } from '../starts';
import { startBenchStack, type BenchStack } from './backup-batch-harness';

/**
 * The cost of restore points (R-PI-11, issue 14.2): the window payload `backup+patch` against `patch`. One
 * stack (embedded PostgreSQL, Temporal dev server, the worker in a process of its own:
 * bench/backup-batch-harness.ts) holding two sets of N demo dossiers of K KB (prefixes P and R, same
 * generator), then `patch integrate` of M demo patches over set P without restore points and over set R
 * with them (each dossier: a verified archive written, read back, leased and recorded before its patches).
 * Both runs take a list without the supervisor, so they do the same patch work. Prints each run's time per
 * dossier, the restore points' bytes, and the ratio last.
 *
 *   node bin/run-ts.js bench/patch-restore-points.ts [--dossiers 500] [--patches 3] [--size-kb 20]
 */

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const N = flag('--dossiers', 500);
const PATCHES = flag('--patches', 3);
const SIZE_KB = flag('--size-kb', 20);

interface Run {
  label: string;
  seconds: number;
  msPerDossier: number;
  result: PatchRunResult;
}

async function run(s: BenchStack, label: string, dir: string, dossiers: string[], restorePoints: boolean): Promise<Run> {
  const t = process.hrtime.bigint();
  const handle = await startPatchRun(
    s.client,
    { target: 'main', mode: 'integrate', dir, dossiers, ...(restorePoints ? { restorePoints } : {}) },
    { taskQueue: s.config.temporal.taskQueue, workflowId: `patch/main/bench-${label}`, searchAttributes: false },
  );
  const result = await handle.result().catch((err: unknown) => partialPatchResult(err) ?? Promise.reject(err));
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const r: Run = { label, seconds, msPerDossier: (seconds * 1000) / result.total, result };
  console.log(
    `${label}: ${result.total} dossiers x ${PATCHES} patches in ${seconds.toFixed(1)} s, ${r.msPerDossier.toFixed(1)} ms/dossier, state ${result.state}` +
      `${result.failed ? ` (${result.failed} FAILED)` : ''}${result.restorePoints ? `, restore points ${JSON.stringify(result.restorePoints)}` : ''}`,
  );
  return r;
}

async function main(): Promise<void> {
  console.log(`restore points: ${N} dossiers of ${SIZE_KB} KB per run, ${PATCHES} patches`);
  const s = await startBenchStack();
  try {
    const pool = s.pools.get('main');
    // the supervisor comes with the first set; neither run takes it (same patch work in both)
    const plain = (await generateDemoDossiers(pool, { target: 'main', count: N, sizeKb: SIZE_KB, prefix: 'P' })).filter((c) => c !== 'P0001');
    const withPoints = await generateDemoDossiers(pool, { target: 'main', count: N, sizeKb: SIZE_KB, prefix: 'R' });
    await pool.query(
      `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
       VALUES (gen_random_uuid(), 'maintenance/bench', 'deployment', 'in_progress', 'working', now(), now() + interval '1 day')`,
    );
    for (const sql of ['VACUUM ANALYZE nightshift.dossier', 'CHECKPOINT']) await pool.query(sql);
    const dir = path.join(s.config.backupDir, 'patches');
    fs.mkdirSync(dir, { recursive: true });
    await generateDemoPatches(dir, PATCHES);

    const a = await run(s, 'patch', dir, plain, false);
    const b = await run(s, 'backup+patch', dir, withPoints.slice(0, plain.length), true);
    const { rows } = await pool.query<{ n: number; bytes: string }>(`SELECT count(*)::int AS n, coalesce(sum(size), 0)::bigint AS bytes FROM nightshift.backup_generation WHERE reason = 'restore-point'`);
    const perPoint = rows[0]!.n ? Number(rows[0]!.bytes) / rows[0]!.n : 0;
    console.log(`restore points: ${rows[0]!.n} archives, ${(Number(rows[0]!.bytes) / 2 ** 20).toFixed(1)} MB (${(perPoint / 1024).toFixed(1)} KB each)`);
    console.log(
      `cost of restore points: ${(b.msPerDossier - a.msPerDossier).toFixed(1)} ms/dossier more; backup+patch / patch time ratio ${(b.msPerDossier / a.msPerDossier).toFixed(2)}`,
    );
  } finally {
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

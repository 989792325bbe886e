import fs from 'node:fs';
import type pg from 'pg';
import path from 'node:path';
import { generateDemoDossiers } from '../registry/demo';
import { generateDemoPatches } from '../patches/demo';
import { readPatchDirectory, sealPatchPackage } from '../patches/package';
import { realign, repairItems } from '../patches/repair';
import { DEFAULT_PATCH_TUNING, partialPatchResult, patchProgressQuery, type PatchRunResult } from '../workflows/patch-integration.api';
import { startPatchRun } from '../starts';
import { startBenchStack } from './backup-batch-harness';
import { treeCpuSeconds } from './cpu';

/**
 * Patch integration at scale (issue 11.2): for each size (default 10000 and 100000), a fresh stack (embedded
 * PostgreSQL, Temporal dev server, the worker in a process of its own: bench/backup-batch-harness.ts) with that
 * many demo dossiers of 2 KB, then `patch integrate` of 5 demo patches (`--patches N`) on the fan-out engine
 * with the default tuning. Prints per size the time per dossier, the largest history of any workflow run
 * (goal: <= 10,000 events) and the peak RSS of the worker's process (goal: < 512 MB, sampled every 250 ms);
 * the per-dossier time ratio last (largest size against the smallest; goal: within 1.2), in wall time and in CPU
 * time of the whole process tree (bench/cpu.ts: the figure that holds when the machine is shared). Then `patch repair`
 * (Flyway's repair, R-PI-8) of the last patch resealed with another description, in this process: its time per
 * dossier and its ratio to the integration's (which applied every patch).
 *
 *   node bin/run-ts.js bench/patch-integration.ts [sizes...] [--patches 5]
 *
 * With `--restore-points [--dossiers 500] [--patches 3] [--size-kb 20]`: the cost of restore points instead (R-PI-11,
 * the window payload `backup+patch` against `patch`, bench/patch-restore-points.ts), ratio last.
 */

const args = process.argv.slice(2);
const at = args.indexOf('--patches');
const PATCHES = at >= 0 ? Number(args[at + 1]) : 5;
const SIZES = args.filter((_, i) => at < 0 || (i !== at && i !== at + 1)).map(Number).filter((n) => n > 0);
const sizes = SIZES.length ? SIZES : [10_000, 100_000];

/** Catalog statistics the planner needs after many schemas were created, and no checkpoint debt: not timed. */
const SETTLE_SQL = [
  'ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_type, pg_catalog.pg_depend, pg_catalog.pg_constraint, pg_catalog.pg_index',
  'VACUUM ANALYZE nightshift.dossier',
  'CHECKPOINT',
];

interface Measure {
  n: number;
  msPerDossier: number;
  cpuMsPerDossier: number;
  history: number;
  rssMb: number;
  repairMsPerDossier: number;
}

async function measure(n: number): Promise<Measure> {
  const s = await startBenchStack();
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, s.workerRss())), 250);
  try {
    const pool = s.pools.get('main');
    const t0 = process.hrtime.bigint();
    await generateDemoDossiers(pool, { target: 'main', count: n, sizeKb: 2, prefix: 'S' });
    const gen = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(`${n}: generated ${n} dossiers of 2 KB in ${gen.toFixed(1)} s (${(n / gen).toFixed(1)} dossiers/s)`);
    // single-user mode (R-PI-2): an in-progress window of the target, as a deployment night has
    await pool.query(
      `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
       VALUES (gen_random_uuid(), 'maintenance/bench', 'deployment', 'in_progress', 'working', now(), now() + interval '1 day')`,
    );
    for (const sql of SETTLE_SQL) await pool.query(sql);
    const dir = path.join(s.config.backupDir, 'patches');
    fs.mkdirSync(dir, { recursive: true });
    await generateDemoPatches(dir, PATCHES);
    peak = 0;

    const workflowId = `patch/main/bench-${n}`;
    const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const load0 = load();
    const cpu0 = treeCpuSeconds();
    const t = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - t) / 1e9;
    const handle = await startPatchRun(s.client, { target: 'main', mode: 'integrate', dir }, { taskQueue: s.config.temporal.taskQueue, workflowId, searchAttributes: false });
    const ticker = setInterval(() => {
      // the latest run of the chain answers; a query racing a continue-as-new is skipped
      void (async () => {
        const latest = s.client.workflow.getHandle(workflowId);
        const p = await latest.query(patchProgressQuery);
        // visibility gives a run's history length once it is closed: the running one is described
        const h = Math.max(await s.largestHistory(workflowId), (await latest.describe()).historyLength);
        console.log(
          `  ${p.done} / ${p.total} after ${elapsed().toFixed(0)} s: ${((elapsed() * 1000) / Math.max(1, p.done)).toFixed(2)} ms/dossier, ` +
            `CPU ${(((treeCpuSeconds() - cpu0) * 1000) / Math.max(1, p.done)).toFixed(2)} ms/dossier, load ${load()}, ` +
            `worker RSS ${(s.workerRss() / 2 ** 20).toFixed(0)} MB (peak ${(peak / 2 ** 20).toFixed(0)}), largest run history so far ${h} events`,
        );
      })().catch(() => {});
    }, 60_000);
    let r: PatchRunResult;
    try {
      r = await handle.result().catch((err: unknown) => partialPatchResult(err) ?? Promise.reject(err));
    } finally {
      clearInterval(ticker);
    }
    const seconds = elapsed();
    const history = await s.largestHistory(workflowId);
    const m: Measure = { n, msPerDossier: (seconds * 1000) / r.total, cpuMsPerDossier: ((treeCpuSeconds() - cpu0) * 1000) / r.total, history, rssMb: peak / 2 ** 20, repairMsPerDossier: 0 };
    console.log(
      `${n} dossiers x ${PATCHES} patches: ${seconds.toFixed(1)} s, ${(r.total / seconds).toFixed(1)} dossiers/s, ${m.msPerDossier.toFixed(2)} ms/dossier, CPU ${m.cpuMsPerDossier.toFixed(2)} ms/dossier (load ${load0} -> ${load()}), ` +
        `state ${r.state}${r.failed ? ` (${r.failed} FAILED)` : ''}, largest run history ${history} events (goal <= 10,000), peak worker RSS ${m.rssMb.toFixed(0)} MB (goal < 512)`,
    );
    m.repairMsPerDossier = await timeRepair(pool, dir, n, m);
    return m;
  } finally {
    clearInterval(sampler);
    await s.close();
  }
}

/** `patch repair` of the last patch, its description changed and resealed: every dossier's ledger realigned. */
async function timeRepair(pool: pg.Pool, dir: string, n: number, integrated: Measure): Promise<number> {
  const last = (await readPatchDirectory(dir)).at(-1)!;
  const manifest = path.join(dir, last.folder, 'patch.json');
  fs.writeFileSync(manifest, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifest, 'utf8')), description: `${last.manifest.description} (reworded)` }));
  await sealPatchPackage(path.join(dir, last.folder));
  const packages = await readPatchDirectory(dir);
  const cpu0 = treeCpuSeconds();
  const t = process.hrtime.bigint();
  const done = await realign(pool, 'main', dir, packages, await repairItems(pool, packages));
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const cpuMs = (treeCpuSeconds() - cpu0) * 1000;
  console.log(
    `${n}: patch repair of patch ${last.manifest.number}: ${done[0]?.realigned ?? 0} ledgers realigned in ${(ms / 1000).toFixed(1)} s, ${(ms / n).toFixed(3)} ms/dossier, CPU ${(cpuMs / n).toFixed(3)} ms/dossier: ` +
      `${(ms / n / integrated.msPerDossier).toFixed(3)} of the integration's time per dossier (${PATCHES} patches applied)`,
  );
  return ms / n;
}

async function main(): Promise<void> {
  console.log(`patch integration, ${PATCHES} patches, tuning ${JSON.stringify(DEFAULT_PATCH_TUNING)}, sizes ${sizes.join(', ')}`);
  const results: Measure[] = [];
  for (const n of sizes) results.push(await measure(n));
  const first = results[0]!;
  const last = results[results.length - 1]!;
  console.log(
    `largest history ${Math.max(...results.map((x) => x.history))} events, peak worker RSS ${Math.max(...results.map((x) => x.rssMb)).toFixed(0)} MB; ` +
      `per-dossier time ${first.n} -> ${last.n}: ${first.msPerDossier.toFixed(2)} -> ${last.msPerDossier.toFixed(2)} ms, ratio ${(last.msPerDossier / first.msPerDossier).toFixed(2)} wall; ` +
        `CPU ${first.cpuMsPerDossier.toFixed(2)} -> ${last.cpuMsPerDossier.toFixed(2)} ms, ratio ${(last.cpuMsPerDossier / first.cpuMsPerDossier).toFixed(2)} (goal <= 1.2); ` +
        `patch repair ${first.repairMsPerDossier.toFixed(3)} -> ${last.repairMsPerDossier.toFixed(3)} ms/dossier, ratio ${(last.repairMsPerDossier / first.repairMsPerDossier).toFixed(2)}`,
  );
}

if (args.includes('--restore-points')) {
  // the companion bench runs itself when loaded (loaded only here: it would start a stack of its own)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('./patch-restore-points');
} else {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

import fs from 'node:fs';
import type { Pool } from 'pg';
import { generateDemoDossiers } from '../registry/demo';
import { startBenchStack } from './backup-batch-harness';
import { type CpuPart, cpuSince, cpuTotal, formatCpuParts, treeCpuByProcess } from './cpu';

/**
 * Small dossiers at scale (default 10000 and 100000; `node bin/run-ts.js bench/backup-batch-scale.ts 200 2000`):
 * throughput of the batch, the largest history of any workflow run (goal: under 10,000 events), and the
 * peak RSS of the worker's process (goal: under 256 MB; sampled every 250 ms from /proc). Prints the
 * per-dossier time ratio last (largest size against the smallest; goal: within 1.1), in wall time and in CPU time
 * of the whole process tree (bench/cpu.ts: the figure that holds when the machine is shared), and the CPU time
 * per dossier of each process (worker, PostgreSQL, Temporal server, the bench itself). Progress lines give each
 * process's CPU per dossier over the last interval: a cost that grows with the run's progress shows there.
 */

const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
const sizes = SIZES.length ? SIZES : [10_000, 100_000];

/** Autovacuum and autoanalyze runs so far, by table (PostgreSQL's share of CPU includes them). */
async function autovacuumRuns(pool: Pool): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ name: string; runs: number }>(
    `SELECT schemaname || '.' || relname AS name, (autovacuum_count + autoanalyze_count)::int AS runs FROM pg_stat_all_tables WHERE autovacuum_count + autoanalyze_count > 0`,
  );
  return new Map(rows.map((r) => [r.name, r.runs]));
}

/** e.g. `pg_catalog.pg_attribute 1, nightshift.dossier 3`: the tables autovacuum worked on between two readings. */
function autovacuumSince(before: Map<string, number>, after: Map<string, number>): string {
  const runs = [...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const).filter(([, n]) => n > 0);
  return runs.length ? runs.map(([name, n]) => `${name} ${n}`).join(', ') : 'none';
}

/**
 * Catalog statistics the planner needs after 100,000 schemas were created, the vacuum autovacuum would otherwise
 * run on the generator's catalog rows in the middle of the next batch (seen in its PostgreSQL CPU), and no
 * checkpoint debt: not timed.
 */
const SETTLE_SQL = [
  'VACUUM (ANALYZE) pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_attrdef, pg_catalog.pg_type, pg_catalog.pg_depend, pg_catalog.pg_constraint, pg_catalog.pg_index, pg_catalog.pg_sequence, pg_catalog.pg_trigger, pg_catalog.pg_namespace',
  'VACUUM ANALYZE nightshift.dossier',
  'CHECKPOINT',
];

async function main(): Promise<void> {
  const s = await startBenchStack();
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= s.close());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: stopping the worker, Temporal and PostgreSQL`);
      void close().finally(() => process.exit(130));
    });
  }
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, s.workerRss())), 250);
  try {
    const pool = s.pools.get('main');
    const perDossier: number[] = [];
    const cpuPerDossier: number[] = [];
    /** CPU seconds per dossier by process, per size */
    const partsPerDossier: Record<CpuPart, number>[] = [];
    let made = 0;
    for (const n of sizes) {
      if (n > made) {
        const t = process.hrtime.bigint();
        await generateDemoDossiers(pool, { target: 'main', count: n - made, sizeKb: 2, prefix: 'S' });
        const seconds = Number(process.hrtime.bigint() - t) / 1e9;
        console.log(`generated ${n - made} dossiers of 2 KB in ${seconds.toFixed(1)} s: ${((n - made) / seconds).toFixed(1)} dossiers/s`);
        for (const sql of SETTLE_SQL) await pool.query(sql);
      }
      made = Math.max(made, n);
      peak = 0;
      const cpu = () => treeCpuByProcess(process.pid, s.workerPid);
      const total = cpuTotal;
      const vacuums0 = await autovacuumRuns(pool);
      const cpu0 = cpu();
      let last = { cpu: cpu0, done: 0 };
      const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const load0 = load();
      const { result, seconds, workflowId, followUps } = await s.runBatch(
        { all: true, only: undefined, tuning: { chunkSize: 100, window: 2, concurrency: 2 } },
        {
          everyMs: 60_000,
          onProgress: (done, selected, sec) => {
            const now = cpu();
            const sinceStart = cpuSince(cpu0, now);
            console.log(
              `  ${done} / ${selected} after ${sec.toFixed(0)} s: ${((sec * 1000) / Math.max(1, done)).toFixed(2)} ms/dossier, ` +
                `CPU ${((total(sinceStart) * 1000) / Math.max(1, done)).toFixed(2)} ms/dossier, worker RSS ${(s.workerRss() / 2 ** 20).toFixed(0)} MB, load ${load()}; ` +
                `last ${done - last.done}: CPU ms/dossier ${formatCpuParts(cpuSince(last.cpu, now), done - last.done)}`,
            );
            last = { cpu: now, done };
          },
        },
      );
      const history = await s.largestHistory(workflowId);
      const parts = cpuSince(cpu0, cpu());
      perDossier.push((seconds * 1000) / result.total);
      cpuPerDossier.push((total(parts) * 1000) / result.total);
      partsPerDossier.push(cpuSince({ bench: 0, worker: 0, postgres: 0, temporal: 0, other: 0, system: 0 }, parts, result.total));
      console.log(
        `${result.total} dossiers: ${seconds.toFixed(1)} s, ${(result.total / seconds).toFixed(1)} dossiers/s, ` +
          `${((seconds * 1000) / result.total).toFixed(2)} ms/dossier, CPU ${cpuPerDossier[cpuPerDossier.length - 1]!.toFixed(2)} ms/dossier (load ${load0} -> ${load()}), largest run history ${history} events, peak worker RSS ${(peak / 2 ** 20).toFixed(0)} MB` +
          (result.failed ? `, ${result.failed} FAILED` : ''),
      );
      console.log(`  CPU ms/dossier by process: ${formatCpuParts(parts, result.total)}; autovacuum/autoanalyze runs meanwhile: ${autovacuumSince(vacuums0, await autovacuumRuns(pool))}`);
      const v = followUps.verify;
      // its CPU is in the figures above (the batch's follow-ups are waited for): its own time, for the weekly verification of every kept generation
      if (v) console.log(`  the verification after the batch (R-BK-13): ${v.generations} generations (${v.restored} restored and compared) in ${v.seconds.toFixed(1)} s, ${((v.seconds * 1000) / Math.max(1, v.generations)).toFixed(2)} ms per generation`);
    }
    console.log(
      `RATIO per-dossier time ${sizes[sizes.length - 1]} vs ${sizes[0]} = ${(perDossier[perDossier.length - 1]! / perDossier[0]!).toFixed(2)} wall, ` +
        `${(cpuPerDossier[cpuPerDossier.length - 1]! / cpuPerDossier[0]!).toFixed(2)} CPU (goal <= 1.1)`,
    );
    const first = partsPerDossier[0]!;
    const lastParts = partsPerDossier[partsPerDossier.length - 1]!;
    const ratio = (p: CpuPart) => (lastParts[p] / Math.max(1e-9, first[p])).toFixed(2);
    console.log(`RATIO CPU per dossier by process: worker ${ratio('worker')}, postgres ${ratio('postgres')}, temporal ${ratio('temporal')}, bench ${ratio('bench')} (system time ${ratio('system')})`);
  } finally {
    clearInterval(sampler);
    await close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

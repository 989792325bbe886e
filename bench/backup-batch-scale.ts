import fs from 'node:fs';
import { generateDemoDossiers } from '../registry/demo';
import { startBenchStack } from './backup-batch-harness';
import { treeCpuSeconds } from './cpu';

/**
 * Small dossiers at scale (default 10000 and 100000; `node bin/run-ts.js bench/backup-batch-scale.ts 200 2000`):
 * throughput of the batch, the largest history of any workflow run (goal: under 10,000 events), and the
 * peak RSS of the worker's process (goal: under 256 MB; sampled every 250 ms from /proc). Prints the
 * per-dossier time ratio last (largest size against the smallest; goal: within 1.1), in wall time and in CPU time
 * of the whole process tree (bench/cpu.ts: the figure that holds when the machine is shared).
 */

const SIZES = process.argv.slice(2).map(Number).filter((n) => n > 0);
const sizes = SIZES.length ? SIZES : [10_000, 100_000];

/** Catalog statistics the planner needs after 100,000 schemas were created, and no checkpoint debt: not timed. */
const SETTLE_SQL = [
  'ANALYZE pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_type, pg_catalog.pg_depend, pg_catalog.pg_constraint, pg_catalog.pg_index',
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
      const cpu0 = treeCpuSeconds();
      const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      const { result, seconds, workflowId } = await s.runBatch(
        { all: true, only: undefined, tuning: { chunkSize: 100, window: 2, concurrency: 2 } },
        {
          everyMs: 60_000,
          onProgress: (done, selected, sec) =>
            console.log(
              `  ${done} / ${selected} after ${sec.toFixed(0)} s: ${((sec * 1000) / Math.max(1, done)).toFixed(2)} ms/dossier, ` +
                `CPU ${(((treeCpuSeconds() - cpu0) * 1000) / Math.max(1, done)).toFixed(2)} ms/dossier, worker RSS ${(s.workerRss() / 2 ** 20).toFixed(0)} MB, load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
            ),
        },
      );
      const history = await s.largestHistory(workflowId);
      perDossier.push((seconds * 1000) / result.total);
      cpuPerDossier.push(((treeCpuSeconds() - cpu0) * 1000) / result.total);
      console.log(
        `${result.total} dossiers: ${seconds.toFixed(1)} s, ${(result.total / seconds).toFixed(1)} dossiers/s, ` +
          `${((seconds * 1000) / result.total).toFixed(2)} ms/dossier, CPU ${cpuPerDossier[cpuPerDossier.length - 1]!.toFixed(2)} ms/dossier (load ${load0} -> ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}), largest run history ${history} events, peak worker RSS ${(peak / 2 ** 20).toFixed(0)} MB` +
          (result.failed ? `, ${result.failed} FAILED` : ''),
      );
    }
    console.log(
      `RATIO per-dossier time ${sizes[sizes.length - 1]} vs ${sizes[0]} = ${(perDossier[perDossier.length - 1]! / perDossier[0]!).toFixed(2)} wall, ` +
        `${(cpuPerDossier[cpuPerDossier.length - 1]! / cpuPerDossier[0]!).toFixed(2)} CPU (goal <= 1.1)`,
    );
  } finally {
    clearInterval(sampler);
    await close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

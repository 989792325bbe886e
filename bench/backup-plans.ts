import pg from 'pg';
import { generateDemoDossiers } from '../registry/demo';
import { backupSnapshotRow } from '../store/dossiers/backup-snapshot-row';
import { readSchemaCatalog } from '../store/catalog/read-schema-catalog';
import { migrate } from '../db/migrate';
import { runBench } from './database';

/**
 * What a fresh connection's first executions of the backup's prepared statements cost (the registry row and the
 * catalog read of store/catalog, as a dossier's backup runs them), with PostgreSQL's default plan choice (`auto`:
 * the first five executions planned for their parameters) and with the generic plan from the first
 * (`force_generic_plan`, what beginBackupSnapshot sets): a worker recycles its connections every few dozen
 * dossiers (workers/resources.ts), so every new one pays the first executions again.
 *
 *   node bin/run-ts.js bench/backup-plans.ts [connections]     default 20 connections of 10 dossiers each, per mode
 *   DATABASE_URL=postgres://… node bin/run-ts.js bench/backup-plans.ts
 */

const CONNECTIONS = Number(process.argv[2] ?? 20);
const PER_CONNECTION = 10;
const MODES = ['auto', 'force_generic_plan'] as const;

runBench('nightshift-bench-plans-', async ({ url }) => {
  await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const codes = await generateDemoDossiers(pool, { target: 'main', count: CONNECTIONS * PER_CONNECTION, sizeKb: 20, prefix: `PLANS${Date.now().toString(36).toUpperCase()}` });
  await pool.end();
  // per mode, per execution number: milliseconds of each connection's BEGIN + registry row + catalog read + COMMIT
  const times = Object.fromEntries(MODES.map((m) => [m, Array.from({ length: PER_CONNECTION }, () => [] as number[])])) as Record<(typeof MODES)[number], number[][]>;
  for (let conn = 0; conn < CONNECTIONS; conn++) {
    // the two modes interleaved, each on a new connection reading the same dossiers
    for (const mode of conn % 2 ? [...MODES].reverse() : MODES) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (let i = 0; i < PER_CONNECTION; i++) {
          const t = process.hrtime.bigint();
          await client.query(`BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL plan_cache_mode = ${mode}`);
          const d = (await backupSnapshotRow(client, codes[conn * PER_CONNECTION + i]!))!;
          await readSchemaCatalog(client, d.schema_name);
          await client.query('COMMIT');
          times[mode][i]!.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      } finally {
        await client.end();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const sum = (mode: (typeof MODES)[number], from: number, to: number) => times[mode].slice(from, to).reduce((s, xs) => s + median(xs), 0);
  console.log(`${CONNECTIONS} fresh connections per mode, ${PER_CONNECTION} dossiers each (medians per execution, ms; the first includes the statements' parse)`);
  for (const mode of MODES) console.log(`${mode.padEnd(18)} ${times[mode].map((xs) => median(xs).toFixed(2).padStart(6)).join(' ')}`);
  const auto = sum('auto', 1, 6);
  const forced = sum('force_generic_plan', 1, 6);
  console.log(`executions 2-6: auto ${auto.toFixed(1)} ms, generic ${forced.toFixed(1)} ms`);
  console.log(`RATIO auto / generic over executions 2-6 = ${(auto / forced).toFixed(2)}; per new connection ${(auto - forced).toFixed(1)} ms saved`);
});

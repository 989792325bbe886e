import { failedOffsiteCopies } from '../../store/generations/failed-offsite-copies';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-14: the batch now asks every dossier it backs up for its kept generations whose copy is left to make
 * (`failed`, or `none`: never tried), not only the pending ones. That read must stay one index range of the dossier's
 * kept generations (backup_generation_kept), whatever the table's size: 100,000 dossiers × 10 generations here.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const DOSSIERS = 100_000;
const PER_DOSSIER = 10;

beforeAll(async () => {
  stack = await createTestStack();
  const client = await pool().connect();
  try {
    // the fixture only: no trigger per row (the pending set is not what is measured here)
    await client.query("SET session_replication_role = 'replica'");
    await client.query(
      `INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, offsite_state, offsite_key)
       SELECT 'S' || lpad(i::text, 6, '0'), CASE WHEN n = 3 THEN 'Cloture' ELSE 'normal' END, '/b/' || i || '.' || n,
              now() - n * interval '1 day', 1000,
              -- 1 % of the dossiers: an older Cloture archive never copied
              CASE WHEN n = 3 AND i % 100 = 0 THEN 'none' ELSE 'copied' END, 'k/' || i || '.' || n
         FROM generate_series(1, $1::int) i, generate_series(1, $2::int) n`,
      [DOSSIERS, PER_DOSSIER],
    );
    // and as many pruned ones, which the read must not walk
    await client.query(
      `INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, offsite_state, deleted_at)
       SELECT 'S' || lpad(i::text, 6, '0'), 'normal', '/b/' || i || '.old' || n, now() - (100 + n) * interval '1 day', 1000, 'none', now()
         FROM generate_series(1, $1::int) i, generate_series(1, $2::int) n`,
      [DOSSIERS, PER_DOSSIER],
    );
  } finally {
    await client.query("SET session_replication_role = 'origin'");
    client.release();
  }
  await pool().query('VACUUM ANALYZE nightshift.backup_generation');
}, 600_000);
afterAll(async () => {
  await stack?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows': number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

test('R-BK-14: a dossier\'s copies left to make (failed or none) are one read of its kept generations through backup_generation_kept, at 100,000 dossiers × 10 generations', async () => {
  expect((await failedOffsiteCopies(pool(), 'S000100')).map((g) => [g.kind, g.offsiteState])).toEqual([['Cloture', 'none']]);
  expect(await failedOffsiteCopies(pool(), 'S000101')).toEqual([]);

  const times: number[] = [];
  for (const code of ['S000100', 'S050001', 'S099999']) {
    let plan: { Plan: PlanNode; 'Execution Time': number } | undefined;
    await failedOffsiteCopies(
      {
        query: async (sql: string, values: unknown[]) => {
          const { rows } = await pool().query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, values);
          plan = rows[0]!['QUERY PLAN'][0];
          return { rows: [], rowCount: 0 };
        },
      } as never,
      code,
    );
    // an index scan, or a bitmap heap scan over a bitmap index scan (the planner may take either, as the statistics
    // say): the index read is backup_generation_kept either way, never a sequential scan
    const generations = nodes(plan!.Plan).filter((n) => n['Relation Name'] === 'backup_generation');
    expect(generations.map((n) => n['Node Type'])).not.toContain('Seq Scan');
    const indexes = generations.flatMap((n) =>
      n['Node Type'] === 'Bitmap Heap Scan' ? nodes(n).filter((c) => c['Node Type'] === 'Bitmap Index Scan').map((c) => c['Index Name']) : [n['Index Name']],
    );
    expect(indexes).toEqual(['backup_generation_kept']);
    times.push(plan!['Execution Time']);
  }
  // and with the round trip, as the batch's step pays it
  const started = process.hrtime.bigint();
  for (let i = 1; i <= 200; i++) await failedOffsiteCopies(pool(), `S${String(i * 499).padStart(6, '0')}`);
  const roundTrip = Number(process.hrtime.bigint() - started) / 1e6 / 200;
  console.log(`copies left to make, one dossier: ${times.map((t) => t.toFixed(3)).join(' / ')} ms in PostgreSQL, ${roundTrip.toFixed(2)} ms with the round trip (${DOSSIERS} dossiers × ${PER_DOSSIER} kept + ${PER_DOSSIER} pruned)`);
});

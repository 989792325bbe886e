import { countSelection } from '../../store/backup/count-selection';
import { selectPage } from '../../store/backup/select-page';
import type { Queryable } from '../../store/queryable';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-14, R-BK-4: the nightly selection of dossiers whose newest generation has no off-site copy stays cheap at
 * 100,000 dossiers: it reads the pending set (nightshift.backup_offsite_pending, kept by migration 0017's trigger)
 * once per statement, never a probe of backup_generation per dossier. Synthetic registry by fixture SQL.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const DOSSIERS = 100_000;

beforeAll(async () => {
  stack = await createTestStack();
  const db = pool();
  await db.query(`INSERT INTO nightshift.dossier (code, label, schema_name) SELECT 'S' || lpad(i::text, 6, '0'), 'd', 'd_s' || i FROM generate_series(1, $1::int) i`, [DOSSIERS]);
  await db.query('UPDATE nightshift.dossier SET backup_seq = change_seq');
  // 5% modified since their backup
  await db.query(`UPDATE nightshift.dossier SET change_seq = nextval('nightshift.change_seq') WHERE right(code, 2)::int < 5`);
  const settings = { destinationDir: '/b', documents: false, copyStatuses: ['original', 'copy'], modifiedOnly: true, reportFolder: '/b/log', reportRecipients: [] };
  await db.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings) VALUES ('plan-1', 'run', 'completed', $1)`, [settings]);
  // R-BK-4: an operator's `backup run --only` since, of 1,000 dossiers (20 of them failed the night before)
  await db.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings, only_codes) VALUES ('plan-only', 'run', 'completed', $1, '{}')`, [settings]);
  await db.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, previous_run, settings) VALUES ('plan-3', 'run', 'running', 2, $1)`, [{ ...settings, offsite: true }]);
  // the previous night: 100 dossiers failed
  await db.query(`INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, duration_ms) SELECT 1, code, 'failed', 1, 1 FROM nightshift.dossier WHERE right(code, 3) = '007'`);
  await db.query(
    `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, duration_ms)
     SELECT 2, code, 'ok', 1, 1 FROM nightshift.dossier WHERE code < 'S001000' OR right(code, 4) = '1007' ORDER BY code LIMIT 1000`,
  );
  // each dossier's newest generation copied off-site but for 300 whose copy failed (the trigger keeps the pending set)
  await db.query(
    `INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, offsite_state, offsite_key)
     SELECT code, 'normal', '/b/generations/' || code, now() - interval '1 day', 1000,
            CASE WHEN right(code, 3)::int IN (11, 12, 13) THEN 'failed' ELSE 'copied' END, 'k/' || code FROM nightshift.dossier`,
  );
  // R-BK-13: a verification found 100 unmodified dossiers' newest archive missing (a lost disk); 20 of them were
  // backed up again since (a newer generation): the other 80 are taken again
  await db.query(`UPDATE nightshift.backup_generation SET verify_state = 'missing' WHERE right(code, 3) = '021'`);
  await db.query(
    `INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, offsite_state, offsite_key)
     SELECT code, 'normal', '/b/generations/' || code || '-2', now(), 1000, 'copied', 'k2/' || code FROM nightshift.dossier
      WHERE right(code, 4) IN ('0021', '1021')`,
  );
  await db.query('VACUUM ANALYZE');
}, 300_000);
afterAll(async () => {
  await stack?.close();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Loops': number;
  'Actual Rows': number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

/** Runs the store function's statement under EXPLAIN ANALYZE: the plan's nodes and its time. */
async function explained(run: (db: Queryable) => Promise<unknown>): Promise<{ nodes: PlanNode[]; ms: number }> {
  let out: { nodes: PlanNode[]; ms: number } | undefined;
  const db = {
    query: async (sql: string, values: unknown[]) => {
      const { rows } = await pool().query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, values);
      const [p] = rows[0]!['QUERY PLAN'];
      out = { nodes: nodes(p.Plan), ms: p['Execution Time'] };
      return { rows: [{ n: 0 }], rowCount: 0 };
    },
  } as unknown as Queryable;
  await run(db);
  return out!;
}

test('R-BK-14, R-BK-4, R-BK-13: at 100,000 dossiers the priority page, the rest page and the count read the pending set once, and backup_generation only where a verification found an archive missing', async () => {
  expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.backup_offsite_pending')).rows[0].n).toBe(300);
  // what the pages return: the 300 unmodified dossiers whose copy failed, first (the 100 failed ones are unmodified: not taken)
  const priority = await selectPage(pool(), 3, 'priority', '', 1000);
  expect(priority).toHaveLength(300);
  expect(priority.every((c) => ['011', '012', '013'].includes(c.slice(-3)))).toBe(true);
  const rest = await selectPage(pool(), 3, 'rest', '', 100_000);
  // the 5,000 modified ones and the 80 whose newest archive was found missing (R-BK-11, R-BK-13)
  expect(rest).toHaveLength(5080);
  expect(rest.filter((c) => c.endsWith('021')).sort()).toEqual(
    Array.from({ length: 100 }, (_, i) => `S${String(i * 1000 + 21).padStart(6, '0')}`).filter((c) => !/(0021|1021)$/.test(c)),
  );
  expect(await countSelection(pool(), 'run', 3)).toBe(5380);

  for (const [what, run] of [
    ['priority page', (db: Queryable) => selectPage(db, 3, 'priority', '', 1000)],
    ['rest page', (db: Queryable) => selectPage(db, 3, 'rest', '', 1000)],
    ['count', (db: Queryable) => countSelection(db, 'run', 3)],
  ] as const) {
    const plan = await explained(run);
    console.log(`${what}: ${plan.ms.toFixed(1)} ms at ${DOSSIERS} dossiers; backup_generation: ${JSON.stringify(plan.nodes.filter((n) => n['Relation Name'] === 'backup_generation').map((n) => [n['Node Type'], n['Index Name'], n['Actual Loops']]))}`);
    // backup_generation only through the generations found unreadable: read once, each probed once for a newer one
    const generations = plan.nodes.filter((n) => n['Relation Name'] === 'backup_generation');
    expect(generations.every((n) => n['Node Type'] !== 'Seq Scan')).toBe(true);
    // an index scan of it, or a bitmap index scan (which names no relation) under a bitmap heap scan: either is the planner's to take
    const unreadable = plan.nodes.filter((n) => n['Index Name'] === 'backup_generation_unreadable');
    expect(unreadable.length).toBeGreaterThan(0);
    for (const n of unreadable) expect(n['Actual Loops']).toBeLessThanOrEqual(1);
    for (const n of generations) expect(n['Actual Loops']).toBeLessThanOrEqual(100);
    for (const n of plan.nodes.filter((x) => x['Relation Name'] === 'backup_offsite_pending')) expect(n['Actual Loops']).toBe(1);
    // R-BK-4: what the runs since the last full one left, read once per statement (never a probe per dossier)
    console.log(`${what}: backup_run_item: ${JSON.stringify(plan.nodes.filter((n) => n['Relation Name'] === 'backup_run_item').map((n) => [n['Node Type'], n['Index Name'], n['Actual Loops']]))}`);
    for (const n of plan.nodes.filter((x) => x['Relation Name'] === 'backup_run_item')) {
      expect(n['Node Type']).not.toBe('Seq Scan');
      expect(n['Actual Loops']).toBeLessThanOrEqual(100);
    }
  }
});

test('R-BK-12: a run claimed while a key of kept generations is not given takes the dossiers whose newest archive uses it, reading the generations once per statement (not per dossier)', async () => {
  const db = pool();
  // every generation encrypted: 1,000 dossiers' newest under a key the claiming worker no longer gives (below S010000, hundreds digit 9)
  await db.query(`UPDATE nightshift.backup_generation SET key_id = CASE WHEN substr(code, 5, 1) = '9' AND code < 'S010000' THEN 'k-lost' ELSE 'k-cur' END`);
  await db.query('ANALYZE nightshift.backup_generation');
  const settings = { destinationDir: '/b', documents: false, copyStatuses: ['original', 'copy'], modifiedOnly: true, reportFolder: '/b/log', reportRecipients: [], lostKeys: ['k-lost'] };
  await db.query(`UPDATE nightshift.backup_run SET state = 'completed' WHERE workflow_id = 'plan-3'`);
  const { rows } = await db.query<{ id: string }>(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, previous_run, settings) VALUES ('plan-lost', 'run', 'running', 2, $1) RETURNING id`, [settings]);
  const run = Number(rows[0]!.id);
  const rest = await selectPage(db, run, 'rest', '', 100_000);
  const lost = rest.filter((c) => c < 'S010000' && c[4] === '9');
  expect(lost).toHaveLength(1000);
  // besides them, what a run without lost keys takes: the 5,000 modified and the 80 found missing (it copies nothing off-site)
  expect(rest.length - lost.filter((c) => Number(c.slice(-2)) >= 5).length).toBe(5080);
  for (const [what, page] of [
    ['rest page', (q: Queryable) => selectPage(q, run, 'rest', '', 1000)],
    ['count', (q: Queryable) => countSelection(q, 'run', run)],
  ] as const) {
    const plan = await explained(page);
    console.log(`${what} with a lost key: ${plan.ms.toFixed(1)} ms at ${DOSSIERS} dossiers; backup_generation: ${JSON.stringify(plan.nodes.filter((n) => n['Relation Name'] === 'backup_generation').map((n) => [n['Node Type'], n['Index Name'], n['Actual Loops']]))}`);
    for (const n of plan.nodes.filter((x) => x['Relation Name'] === 'backup_generation')) expect(n['Actual Loops']).toBeLessThanOrEqual(100);
  }
});

import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, closeWindows, demoDossiers, levels, openWindow, startRun } from '../workflows/patch-helpers';

/** A patch run whose workflow is terminated by hand, as `nightshift patch status|retry` (spawned processes) find it (R-PI-2, R-PI-8, R-PI-9). */

const ctx = useCliStack(120_000);
jest.setTimeout(240_000);

/** The advisory lock a dossier holding a table `hold` waits for inside its patch: the test holds it, the dossier is "being patched". */
const HOLD = 7_424_242;

async function waitUntil(check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('R-PI-2, R-PI-8: a run terminated half-way is closed with the dossiers it had begun failed as not finished (NotDone): status --run lists them, retry takes them (QA: "failed as a whole before any dossier", items pending for good)', async () => {
  const { stack, cli } = ctx;
  const pool = stack.pools.get('main');
  await demoDossiers(stack, 6);
  await openWindow(pool);
  const dir = tempDir('cli-abandoned');
  await blockablePatches(dir, [1], () => `DO $$ BEGIN IF to_regclass('hold') IS NOT NULL THEN PERFORM pg_advisory_xact_lock(${HOLD}); END IF; END $$;\n`);
  await pool.query(`CREATE TABLE ${qualified(schemaNameFor('DEMO0003'), 'hold')} (x integer)`);
  const holder = await pool.connect();
  await holder.query('SELECT pg_advisory_lock($1)', [HOLD]);
  const waiting = async () => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows[0]!.n;
  try {
    const worker = await createTestWorker(stack, ctx.temporal.nativeConnection);
    await worker.runUntil(async () => {
      // the supervisor first, then one chunk of the others: DEMO0003 held inside its patch, the chunk's later ones begun (pending)
      const handle = await startRun(ctx.temporal.client, stack, { mode: 'integrate', dir });
      await waitUntil(async () => (await waiting()) > 0);
      await handle.terminate('operator stops it');
      const runId = Number((await pool.query<{ id: string }>(`SELECT id FROM nightshift.patch_run WHERE workflow_id = $1`, [handle.workflowId])).rows[0]!.id);
      const items = async () =>
        (await pool.query<{ code: string; status: string; failure_type: string | null; error: string | null; to_level: number }>(
          'SELECT code, status, failure_type, error, to_level FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code',
          [runId],
        )).rows;
      const begun = (await items()).filter((i) => i.status === 'pending').map((i) => i.code);
      expect(begun).toContain('DEMO0003');
      expect((await items()).filter((i) => i.status === 'ok').map((i) => i.code)).toEqual(expect.arrayContaining(['DEMO0001', 'DEMO0002']));

      // `patch status --run` closes it as abandoned: its begun dossiers failed, NotDone, listed with why; the retry advised
      const shown = await cli(['patch', 'status', '--run', String(runId)]);
      expect(shown.code).toBe(0);
      const retry = `nightshift patch retry --target main --run ${runId}`;
      expect(shown.stderr).toBe(
        // tester B: the chunk's later dossiers are pending too, never begun: not said "it had begun" (DEMO0003's patch, cut off mid-transaction, left no trace)
        `nightshift: closed patch run ${runId} (${handle.workflowId}): its workflow is terminated; ${begun.length} dossier(s) of its last chunk(s) failed as not finished ` +
          `(none of them had a patch applied or a restore point taken), a retry takes them: ${retry}\n`,
      );
      expect(shown.stdout).toMatch(new RegExp(`^run ${runId} \\S+: integrate failed patch 1, ${begun.length} failed \\(abandoned: its workflow is terminated\\)\n  retry them: ${retry}$`, 'm'));
      expect(shown.stdout).toContain(['failed dossiers:', ...begun.map((c) => `  ${c}: not finished: the run was abandoned: its workflow is terminated`)].join('\n'));
      const closed = await items();
      expect(closed.filter((i) => i.status === 'pending')).toEqual([]);
      for (const i of closed.filter((c) => begun.includes(c.code))) {
        expect(i).toMatchObject({ status: 'failed', failure_type: 'NotDone', error: 'not finished: the run was abandoned: its workflow is terminated', to_level: 0 });
      }

      // the terminated run's late work (DEMO0003's patch, still waiting) ends: its statement cancelled, its result refused
      await pool.query(`SELECT pg_cancel_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`);
      await waitUntil(async () => (await waiting()) === 0);
      await pool.query(`DROP TABLE ${qualified(schemaNameFor('DEMO0003'), 'hold')}`);
      await holder.query('SELECT pg_advisory_unlock($1)', [HOLD]);

      // the retry takes them (it said "failed as a whole before any dossier: nothing to retry", exit 1)
      const again = await cli(['patch', 'retry', '--run', String(runId), '--wait', '--json']);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(0);
      expect(JSON.parse(again.stdout).result).toMatchObject({ state: 'completed', total: begun.length, failed: 0 });
      expect(Object.values(await levels(pool))).toEqual(Array(6).fill(1));
      // patch 1 applied once in each dossier, the late work's included
      for (const code of Object.keys(await levels(pool))) {
        expect((await pool.query(`SELECT n FROM ${qualified(schemaNameFor(code), 'applylog')}`)).rows).toEqual([{ n: 1 }]);
      }
    });
  } finally {
    holder.release();
  }
});

test('R-PI-9: retry of a run that failed after some dossiers without a failed one (closed as abandoned between two chunks, or before this fix) says nothing to retry and where the rest is, not "failed as a whole before any dossier"', async () => {
  const pool = ctx.stack.pools.get('main');
  const runId = Number(
    (await pool.query<{ id: string }>(
      `INSERT INTO nightshift.patch_run (workflow_id, mode, state, error, first_patch, last_patch, finished_at)
       VALUES ('patch/main/cli-abandoned-between-chunks', 'integrate', 'failed', 'abandoned: its workflow is terminated', 1, 1, now()) RETURNING id`,
    )).rows[0]!.id,
  );
  await pool.query(`INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, applied) VALUES ($1, 'DEMO0001', 'ok', 0, 1, '{1}')`, [runId]);
  const said = await ctx.cli(['patch', 'retry', '--run', String(runId)]);
  expect(said).toMatchObject({
    code: 0,
    stderr: '',
    stdout:
      `patch run ${runId} has no failed dossier: nothing to retry (it failed: abandoned: its workflow is terminated; ` +
      "the dossiers it did not finish are below the supervisor's level: nightshift patch revalidate --target main, R-PI-9)\n",
  });
});

test('tester B: an abandoned run counts its dossiers not finished and, of them, those the ledger shows begun (a patch applied, a restore point), not every pending row as "begun"', async () => {
  const { stack, cli } = ctx;
  const pool = stack.pools.get('main');
  if (!Object.keys(await levels(pool)).length) await demoDossiers(stack, 6);
  await pool.query(`UPDATE nightshift.dossier SET patch_level = 1 WHERE code IN ('DEMO0001', 'DEMO0002', 'DEMO0003', 'DEMO0004')`);
  // a chunk of four: DEMO0001 one patch in, DEMO0002 its restore point being taken, DEMO0003 and DEMO0004 not begun; its workflow gone
  const runId = Number(
    (await pool.query<{ id: string }>(
      `INSERT INTO nightshift.patch_run (workflow_id, mode, state, first_patch, last_patch) VALUES ('patch/main/cli-abandoned-begun', 'integrate', 'running', 1, 2) RETURNING id`,
    )).rows[0]!.id,
  );
  await pool.query(
    `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, restore_point_state)
     VALUES ($1, 'DEMO0001', 'pending', 0, 0, NULL), ($1, 'DEMO0002', 'pending', 1, 1, 'taking'), ($1, 'DEMO0003', 'pending', 1, 1, NULL), ($1, 'DEMO0004', 'pending', 1, 1, NULL)`,
    [runId],
  );
  const shown = await cli(['patch', 'status', '--run', String(runId)]);
  expect(shown.code).toBe(0);
  expect(shown.stderr).toBe(
    `nightshift: closed patch run ${runId} (patch/main/cli-abandoned-begun): its workflow is not_found; 4 dossier(s) of its last chunk(s) failed as not finished ` +
      `(2 of them had begun: a patch applied or a restore point taken), a retry takes them: nightshift patch retry --target main --run ${runId}\n`,
  );
  const items = (await pool.query<{ code: string; status: string; to_level: number }>('SELECT code, status, to_level FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code', [runId])).rows;
  expect(items).toEqual([
    { code: 'DEMO0001', status: 'failed', to_level: 1 },
    { code: 'DEMO0002', status: 'failed', to_level: 1 },
    { code: 'DEMO0003', status: 'failed', to_level: 1 },
    { code: 'DEMO0004', status: 'failed', to_level: 1 },
  ]);
});

test('AWS SSM MaxErrors: retry of a run --max-failures stopped, without --max-failures, says that it runs with no limit (drill A, session 35: it ran past it, unsaid)', async () => {
  const pool = ctx.stack.pools.get('main');
  if (!Object.keys(await levels(pool)).length) await demoDossiers(ctx.stack, 6);
  await pool.query(`UPDATE nightshift.dossier SET patch_level = CASE WHEN code = 'DEMO0001' THEN 1 ELSE 0 END`);
  const runId = Number(
    (await pool.query<{ id: string }>(
      `INSERT INTO nightshift.patch_run (workflow_id, mode, state, first_patch, last_patch, not_started, finished_at)
       VALUES ('patch/main/cli-max-failures-stopped', 'integrate', 'partial', 1, 1, 2, now()) RETURNING id`,
    )).rows[0]!.id,
  );
  await pool.query(`INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, error) VALUES ($1, 'DEMO0005', 'failed', 0, 0, 'boom')`, [runId]);
  // no window: the retry is then refused (R-PI-2), nothing started; the note comes first
  await closeWindows(pool);
  const said = await ctx.cli(['patch', 'retry', '--run', String(runId)]);
  expect(said.stderr).toContain(`patch run ${runId} was stopped by --max-failures: this retry has no limit (give --max-failures again to keep one)\n`);
  const kept = await ctx.cli(['patch', 'retry', '--run', String(runId), '--max-failures', '3']);
  expect(kept.stderr).not.toContain('this retry has no limit');
});

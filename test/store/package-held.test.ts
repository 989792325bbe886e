import { faultAdvice } from '../../domain/patch';
import { runPackageHeld } from '../../store/patch/package-held';
import { listRecentRuns } from '../../store/patch/recent-runs';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * Whose fault a run's failures are (`patch status`, --wait, the run's Web UI details): a package is blamed only when a
 * patch failed and no dossier holds the lowest one that failed. Tester B: a run terminated by hand (its dossiers
 * `NotDone`) and a restore point that failed (`RestorePointFailed`) carry no failed patch; compared with NULL they
 * blamed the package although dossiers held the run's patches.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack();
  // two dossiers hold patch 17, one stayed at 16
  await pool().query(
    `INSERT INTO nightshift.dossier (code, label, schema_name, patch_level) VALUES ('PH1', 'd', 'd_PH1', 17), ('PH2', 'd', 'd_PH2', 17), ('PH3', 'd', 'd_PH3', 16)`,
  );
});
afterAll(async () => {
  await stack?.close();
});

type Failure = { type: string; patch: number | null };
let runs = 0;
async function runWith(failures: Failure[]): Promise<number> {
  const db = pool();
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.patch_run (workflow_id, mode, state, first_patch, last_patch, finished_at) VALUES ($1, 'integrate', 'partial', 17, 18, now()) RETURNING id::text`,
    [`patch/main/ph-${++runs}`],
  );
  const id = Number(rows[0]!.id);
  for (const [n, f] of failures.entries()) {
    await db.query(
      `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, failed_patch, failure_type, error) VALUES ($1, $2, 'failed', 16, 16, $3, $4, 'x')`,
      [id, `PH${n + 3}`, f.patch, f.type],
    );
  }
  return id;
}

async function held(runId: number): Promise<boolean> {
  const byClose = await runPackageHeld(pool(), runId);
  const [byStatus] = await listRecentRuns(pool(), runId);
  // the run's close (--wait, the Web UI details) and `patch status` say the same
  expect(byStatus!.packageHeld).toBe(byClose);
  return byClose;
}

test('a run whose failures carry no failed patch (NotDone, RestorePointFailed) never blames a package', async () => {
  expect(await held(await runWith([{ type: 'NotDone', patch: null }]))).toBe(true);
  expect(await held(await runWith([{ type: 'RestorePointFailed', patch: null }]))).toBe(true);
  // nobody holds anything above 17 here: still not the package's fault, no patch failed
  await pool().query(`UPDATE nightshift.dossier SET patch_level = 0`);
  try {
    expect(await held(await runWith([{ type: 'NotDone', patch: null }, { type: 'RestorePointFailed', patch: null }]))).toBe(true);
    // a dossier restored meanwhile (PatchGap) is its own state, not the package's
    expect(await held(await runWith([{ type: 'PatchGap', patch: 17 }]))).toBe(true);
  } finally {
    await pool().query(`UPDATE nightshift.dossier SET patch_level = CASE WHEN code = 'PH3' THEN 16 ELSE 17 END`);
  }
  expect(faultAdvice(true)).toBe('no package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)');
});

test('a patch that failed: the package is blamed only when no dossier holds it, also beside failures without a patch', async () => {
  // patch 17 is held by PH1 and PH2: the cause is in the failed dossier
  expect(await held(await runWith([{ type: 'PatchSqlFailed', patch: 17 }, { type: 'NotDone', patch: null }]))).toBe(true);
  // patch 18 is held nowhere: the package is suspect, whatever else failed beside it
  const nowhere = await runWith([{ type: 'NotDone', patch: null }, { type: 'PatchSqlFailed', patch: 18 }]);
  expect(await held(nowhere)).toBe(false);
  expect(faultAdvice(false)).toMatch(/^a package at fault \(not the dossiers\)/);
});

test('drill P (session 37): a patch held by the supervisor alone that failed in two dossiers or more blames the package; in one dossier, that dossier', async () => {
  await pool().query(`INSERT INTO nightshift.dossier (code, label, schema_name, patch_level, role) VALUES ('PHSUP', 's', 'd_PHSUP', 19, 'supervisor')`);
  try {
    expect(await held(await runWith([{ type: 'PatchSqlFailed', patch: 19 }, { type: 'PatchSqlFailed', patch: 19 }]))).toBe(false);
    expect(await held(await runWith([{ type: 'PatchSqlFailed', patch: 19 }]))).toBe(true);
    // a regular dossier holding it besides: the failed dossiers' own cause
    await pool().query(`UPDATE nightshift.dossier SET patch_level = 19 WHERE code = 'PH1'`);
    expect(await held(await runWith([{ type: 'PatchSqlFailed', patch: 19 }, { type: 'PatchSqlFailed', patch: 19 }]))).toBe(true);
  } finally {
    await pool().query(`DELETE FROM nightshift.dossier WHERE code = 'PHSUP'`);
    await pool().query(`UPDATE nightshift.dossier SET patch_level = 17 WHERE code = 'PH1'`);
  }
});

import { WorkflowFailedError } from '@temporalio/client';
import { failureTypeOf } from '../../domain/failures';
import { RestoreRunFailure } from '../../workflows/backup-restore-run.api';
import { NightshiftKind, NightshiftPhase } from '../../workflows/search-attributes';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { demoDossiers } from './patch-helpers';
import { backUp, contentOf, contentsOf, lose, restoreLedger, runRestore, startRestore, writeTo } from './backup-restore-run-helpers';

/** Bulk restore (`backup restore --all|--codes|--retry --at DATE`) on the dev server with real activities, a real database and real archives. */

jest.setTimeout(300_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

async function withStack(dossiers: number, fn: (stack: TestStack, codes: string[]) => Promise<void>): Promise<void> {
  const stack = await createTestStack();
  try {
    const codes = await demoDossiers(stack, dossiers);
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(fn(stack, codes));
  } finally {
    await stack.close();
  }
}

const DAY1 = '2026-12-01T10:00:00Z';
const DAY3 = '2026-12-03T10:00:00Z';
/** 2026-12-02 11:00 in UTC: after DAY1's generations, before DAY3's */
const AT = '2026-12-02T11:00:00.000Z';

test('R-BK-11: a lost database of 30 dossiers, `--all --at DATE` restores every lost one from its generation at or before DATE (data equal, an older generation when the newest is after DATE), once each in the transaction of its ledger row; dossiers there are kept without --replace, not failed', async () => {
  await withStack(30, async (stack, codes) => {
    const pool = stack.pools.get('main');
    const before = await contentsOf(pool, codes);
    await backUp(stack, codes, DAY1);
    // DEMO0003 written to and backed up again after DATE: its DAY1 generation is the one restored
    await writeTo(pool, 'DEMO0003', 'after DATE');
    await backUp(stack, ['DEMO0003'], DAY3);
    const there = ['DEMO0029', 'DEMO0030'];
    // DEMO0030 written to since: kept as it is now (no --replace)
    await writeTo(pool, 'DEMO0030', 'since');
    const thereNow = await contentsOf(pool, there);
    const lost = codes.filter((c) => !there.includes(c));
    // DEMO0028 only lost its schema (dropped by hand): its registry row stays, and it is restored too
    await lose(pool, lost.filter((c) => c !== 'DEMO0028'));
    await pool.query('DROP SCHEMA "d_DEMO0028" CASCADE');

    const r = await runRestore(temporal.client, stack, { all: true, at: AT, replace: false, from: 'auto', tuning: { chunkSize: 4 } });
    expect(r).toMatchObject({ state: 'completed', phase: 'completed', total: 30, done: 30, failed: 0, restored: 28, kept: 2, keptCodes: there, failuresTotal: 0 });
    expect(r.restoredCodes).toEqual(lost);
    expect(r.retryCommand).toBeUndefined();
    expect(await contentsOf(pool, lost)).toEqual(Object.fromEntries(lost.map((c) => [c, before[c]])));
    expect(await contentsOf(pool, there)).toEqual(thereNow);
    const ledger = await restoreLedger(pool);
    expect(ledger.ok).toEqual(Object.fromEntries(lost.map((c) => [c, 1])));
    expect(ledger.kept).toEqual(there);
    expect(Object.values(ledger.sameTransaction).every(Boolean)).toBe(true);
    expect(Object.keys(ledger.sameTransaction)).toEqual(lost);
    // the generation each restored (the DAY1 one for DEMO0003), from the ledger
    const { rows } = await pool.query(`SELECT g.snapshot_at FROM nightshift.restore_run_item i JOIN nightshift.backup_generation g ON g.id = i.generation_id WHERE i.code = 'DEMO0003'`);
    expect(rows[0].snapshot_at.toISOString()).toBe('2026-12-01T10:00:00.000Z');
    // R-BK-2 (drill D2): restored from their newest generation's file, the dossiers are what it holds: not modified since
    // their last backup, the next nightly batch leaves them; DEMO0003, restored from an older one, is modified (its newest
    // archive holds other data)
    const modified = await pool.query(`SELECT code, last_backup_at FROM nightshift.dossier WHERE code = ANY ($1) AND (backup_seq IS NULL OR change_seq > backup_seq) ORDER BY code`, [lost]);
    expect(modified.rows.map((m) => m.code)).toEqual(['DEMO0003']);
    const dated = await pool.query(`SELECT DISTINCT last_backup_at FROM nightshift.dossier WHERE code = ANY ($1) AND code <> 'DEMO0003'`, [lost]);
    expect(dated.rows.map((d) => d.last_backup_at.toISOString())).toEqual(['2026-12-01T10:00:00.000Z']);
    // a write after the restore makes it modified again
    await writeTo(pool, 'DEMO0001', 'after the restore');
    expect((await pool.query(`SELECT change_seq > backup_seq AS m FROM nightshift.dossier WHERE code = 'DEMO0001'`)).rows[0].m).toBe(true);
  });
});

test('R-BK-11 R-OP-1: `--codes` with --replace replaces a dossier there; one with no generation at or before DATE fails with that reason and the run FAILS RestoreRunPartial (its result in the details); `--retry` restores it once fixed', async () => {
  await withStack(6, async (stack, codes) => {
    const pool = stack.pools.get('main');
    const before = await contentsOf(pool, codes);
    const ids = await backUp(stack, codes.slice(0, 5), DAY1);
    // DEMO0005's only generation is after DATE
    await pool.query('UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1', [ids.DEMO0005, DAY3]);
    await lose(pool, ['DEMO0001', 'DEMO0002', 'DEMO0005']);
    // DEMO0004 is there, written to since its backup: --replace puts its generation back over it
    await writeTo(pool, 'DEMO0004', 'since');
    expect(await contentOf(pool, 'DEMO0004')).not.toEqual(before.DEMO0004);

    const asked = ['DEMO0001', 'DEMO0002', 'DEMO0004', 'DEMO0005'];
    const handle = await startRestore(temporal.client, stack, { codes: asked, at: AT, replace: true, from: 'auto' });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(failureTypeOf(err)).toBe(RestoreRunFailure.RunPartial);
    const r = (err as WorkflowFailedError & { cause: { details: unknown[] } }).cause.details[0] as Awaited<ReturnType<typeof runRestore>>;
    expect(r).toMatchObject({ state: 'partial', total: 4, restored: 3, kept: 0, failuresTotal: 1, restoredCodes: ['DEMO0001', 'DEMO0002', 'DEMO0004'] });
    expect(r.failures).toEqual([{ code: 'DEMO0005', status: 'failed', error: expect.stringMatching(/^no kept generation of dossier DEMO0005 at or before 2026-12-02 \d\d:00:00 \(.+\); see 'nightshift backup list DEMO0005'$/) }]);
    expect(r.retryCommand).toBe(`nightshift backup restore --retry ${r.runId} --target main --wait`);
    expect(await contentsOf(pool, ['DEMO0001', 'DEMO0002', 'DEMO0004'])).toEqual({ DEMO0001: before.DEMO0001, DEMO0002: before.DEMO0002, DEMO0004: before.DEMO0004 });
    expect((await pool.query(`SELECT 1 FROM nightshift.dossier WHERE code = 'DEMO0005'`)).rowCount).toBe(0);
    // R-OP-1: the Web UI's list shows the run failed, its details say the failure and the retry
    const described = await handle.describe();
    expect(described.status.name).toBe('FAILED');
    expect(described.typedSearchAttributes.get(NightshiftKind)).toBe('backup-restore-run');
    expect(described.typedSearchAttributes.get(NightshiftPhase)).toBe('partial');
    const details = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(details).toContain('DEMO0005');
    expect(details).toContain(`nightshift backup restore --retry ${r.runId} --target main --wait`);

    // fixed: a generation of DEMO0005 at or before DATE
    await pool.query('UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1', [ids.DEMO0005, DAY1]);
    const again = await runRestore(temporal.client, stack, { retryOf: r.runId!, at: AT, replace: true, from: 'auto' });
    expect(again).toMatchObject({ state: 'completed', total: 1, restored: 1, restoredCodes: ['DEMO0005'], failuresTotal: 0, scope: `the failed dossiers of restore run ${r.runId}` });
    expect(await contentOf(pool, 'DEMO0005')).toEqual(before.DEMO0005);
    const ledger = await restoreLedger(pool);
    expect(ledger.ok).toEqual({ DEMO0001: 1, DEMO0002: 1, DEMO0004: 1, DEMO0005: 1 });
    expect(Object.values(ledger.sameTransaction).every(Boolean)).toBe(true);

    // a retry of a run that names nothing: refused, nothing changed
    const none = await startRestore(temporal.client, stack, { retryOf: 999_999, at: AT, replace: false, from: 'auto' });
    await expect(none.result()).rejects.toThrow(WorkflowFailedError);
  });
});

test('R-BK-1: a restore run is refused (RestorePrerequisiteFailed, nothing restored) while a backup batch runs on the target', async () => {
  await withStack(2, async (stack, codes) => {
    const pool = stack.pools.get('main');
    await backUp(stack, codes, DAY1);
    await lose(pool, codes);
    await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings) VALUES ('backup/main/test-running', 'run', 'running', '{}')`);
    const handle = await startRestore(temporal.client, stack, { all: true, at: AT, replace: false, from: 'auto' });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failureTypeOf(err)).toBe(RestoreRunFailure.PrerequisiteFailed);
    expect(String((err as Error & { cause?: Error }).cause?.message)).toMatch(/no backup batch: backup batch backup\/main\/test-running is running on main/);
    expect((await pool.query('SELECT 1 FROM nightshift.dossier')).rowCount).toBe(0);
  });
});

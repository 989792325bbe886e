import { closeRun } from '../../store/backup/close-run';
import { insertRun } from '../../store/backup/insert-run';
import { recordItem } from '../../store/backup/record-item';
import { recordNotDone } from '../../store/backup/record-not-done';
import { recordNotDoneSelection } from '../../store/backup/record-not-done-selection';
import { runProgress } from '../../store/backup/run-progress';
import type { BackupRunSettings } from '../../store/backup/run-row';
import { generateDemoDossiers } from '../../registry/demo';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * Issue 11: the details' refresh reads a running batch's totals from its row (migration 0018), kept by every
 * statement that adds ledger rows, instead of counting the run's rows every few seconds; the totals must say what
 * the rows say (R-BK-7's report counts the rows).
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const settings: BackupRunSettings = {
  destinationDir: '/nowhere',
  documents: false,
  copyStatuses: ['original', 'copy'],
  modifiedOnly: false,
  reportFolder: '/nowhere/log',
  reportRecipients: [],
};
let n = 0;
const newRun = () => insertRun(pool(), { workflowId: `backup/main/progress-${++n}`, kind: 'run', retryOf: null, previousRun: null, settings, onlyCodes: null });
const item = (code: string, status: 'ok' | 'failed' | 'in_use') => ({ code, status, attempts: 1, error: status === 'ok' ? null : 'x', file: null, size: null, durationMs: 1 });
const counted = async (runId: number) => {
  const { rows } = await pool().query<{ done: number; failed: number }>(
    `SELECT count(*)::int AS done, (count(*) FILTER (WHERE status <> 'ok'))::int AS failed FROM nightshift.backup_run_item WHERE run_id = $1`,
    [runId],
  );
  return rows[0]!;
};

beforeAll(async () => {
  stack = await createTestStack();
  await generateDemoDossiers(pool(), { target: 'main', count: 5, sizeKb: 1, prefix: 'PRG' });
});
afterAll(async () => {
  await stack.close();
});

test('the run row counts each dossier once, failures apart, and says when the last one ended (R-BK-1, R-BK-7)', async () => {
  const runId = await newRun();
  expect(await runProgress(pool(), runId)).toEqual({ done: 0, failed: 0, sinceLastEndSeconds: null });
  expect(await recordItem(pool(), runId, item('PRG0001', 'ok'))).toBe('added');
  expect(await recordItem(pool(), runId, item('PRG0002', 'failed'))).toBe('added');
  expect(await recordItem(pool(), runId, item('PRG0003', 'in_use'))).toBe('added');
  // a retried chunk records a dossier again: the ledger keeps the first row, the totals do not count it twice
  expect(await recordItem(pool(), runId, item('PRG0001', 'failed'))).toBe('present');
  const p = await runProgress(pool(), runId);
  expect(p).toEqual({ done: 3, failed: 2, sinceLastEndSeconds: 0 });
  expect(await counted(runId)).toEqual({ done: 3, failed: 2 });

  // a stopped batch's not attempted dossiers (one of them already has a row)
  await recordNotDone(pool(), runId, ['PRG0003', 'PRG0004'], 'destination full');
  expect(await runProgress(pool(), runId)).toMatchObject({ done: 4, failed: 3 });
  await recordNotDoneSelection(pool(), 'run', runId, 'destination full');
  expect(await runProgress(pool(), runId)).toMatchObject({ done: 5, failed: 4 });
  expect(await counted(runId)).toEqual({ done: 5, failed: 4 });

  // a closed run refuses late rows, and its totals stay as they were
  expect(await closeRun(pool(), runId, { state: 'partial', ok: 1, failed: 4, reportPath: '/nowhere/log/r.txt', mailWanted: false })).toBe(true);
  expect(await recordItem(pool(), runId, item('PRG0005', 'ok'))).toBe('closed');
  await recordNotDone(pool(), runId, ['PRG0005'], 'late');
  expect(await runProgress(pool(), runId)).toMatchObject({ done: 5, failed: 4 });
  expect(await counted(runId)).toEqual({ done: 5, failed: 4 });
});

test('dossiers ending at once (the lanes of several chunks) are each counted once', async () => {
  const runId = await newRun();
  const codes = Array.from({ length: 40 }, (_, i) => `PAR${String(i).padStart(4, '0')}`);
  // the ledger does not check codes against the registry: forty rows written by concurrent statements, some twice
  const results = await Promise.all([...codes, ...codes.slice(0, 10)].map((c, i) => recordItem(pool(), runId, item(c, i % 4 === 0 ? 'failed' : 'ok'))));
  expect(results.filter((r) => r === 'added').length).toBe(40);
  expect(results.filter((r) => r === 'present').length).toBe(10);
  const rows = await counted(runId);
  expect(rows.done).toBe(40);
  expect(await runProgress(pool(), runId)).toMatchObject(rows);
  await closeRun(pool(), runId, { state: 'partial', ok: 0, failed: 0, reportPath: '/nowhere/log/r3.txt', mailWanted: false });
});

test('a run claimed before the totals existed (NULL) is counted from its rows, and stays so', async () => {
  const runId = await newRun();
  await pool().query('UPDATE nightshift.backup_run SET items_done = NULL, items_failed = NULL WHERE id = $1', [runId]);
  expect(await recordItem(pool(), runId, item('PRG0001', 'ok'))).toBe('added');
  expect(await recordItem(pool(), runId, item('PRG0002', 'failed'))).toBe('added');
  expect(await runProgress(pool(), runId)).toEqual({ done: 2, failed: 1, sinceLastEndSeconds: 0 });
  const { rows } = await pool().query('SELECT items_done, items_failed FROM nightshift.backup_run WHERE id = $1', [runId]);
  expect(rows[0]).toEqual({ items_done: null, items_failed: null });
  await closeRun(pool(), runId, { state: 'partial', ok: 1, failed: 1, reportPath: '/nowhere/log/r2.txt', mailWanted: false });
});

test('an unknown run reads as nothing done', async () => {
  expect(await runProgress(pool(), 987654)).toEqual({ done: 0, failed: 0, sinceLastEndSeconds: null });
});

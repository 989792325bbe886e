import fs from 'node:fs';
import path from 'node:path';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { REPORT_FOLDER } from '../../domain/backup-batch';
import { FailureType, failureTypeOf } from '../../domain/failures';
import { generateDemoDossiers } from '../../registry/demo';
import { STORE_MARKER_FILE, claimSharedFolder } from '../../shared-store/marker';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-7 with the backup folder not the shared store (issue 10: a share not mounted, or a folder set on another host):
 * the run's report never makes the backup folder nor writes into it. It goes to `<data>/log`, where `backup status` and
 * the mail (the run's report_path) point, and the next run finds the folder as the last one did (the same diagnosis).
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: Error) => e);

beforeAll(async () => {
  stack = await createTestStack();
  await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix: 'GONE' });
  fs.mkdirSync(stack.config.backupDir, { recursive: true });
  expect(await claimSharedFolder(pool(), 'backups', stack.config.backupDir)).toMatchObject({ state: 'ok' });
});
afterAll(async () => {
  await stack.close();
});

/** One batch as the workflow runs it: claim, its one chunk (refused here), the run's end. */
async function runBatch(workflowId: string) {
  const batch = createBackupBatchActivities({ config: stack.config, pools: stack.pools });
  const claim = await batch.claimBackupRun({ target: 'main', workflowId });
  const chunk = await rejection(batch.backupChunk({ target: 'main', runId: claim.runId, codes: ['GONE0001'], settings: claim.settings, concurrency: 1, timeBudgetMs: 10_000 }));
  const finish = await batch.finishBackupRun({ target: 'main', runId: claim.runId, endedEarly: chunk !== undefined });
  const { rows } = await pool().query<{ report_path: string; note: string | null }>('SELECT report_path, note FROM nightshift.backup_run WHERE id = $1', [claim.runId]);
  return { chunk, finish: { ...finish, reportPath: finish.reportPath! }, row: rows[0]! };
}

test('R-BK-7: a missing backup folder is not made for the report: the report goes to <data>/log, and the next run says "folder missing" again', async () => {
  const away = `${stack.config.backupDir}.away`;
  fs.renameSync(stack.config.backupDir, away);
  const fallback = path.join(stack.config.dataDir, REPORT_FOLDER);
  try {
    for (const n of [1, 2]) {
      const { chunk, finish, row } = await runBatch(`backup/main/gone-${n}`);
      expect(failureTypeOf(chunk)).toBe(FailureType.DestinationUnavailable);
      // the second run's diagnosis is the first's: the first made nothing at the folder's path
      expect(chunk!.message).toMatch(/is not the shared store of target main \(folder missing\)/);
      expect(fs.existsSync(stack.config.backupDir)).toBe(false);
      expect(path.dirname(finish.reportPath)).toBe(fallback);
      expect(row.report_path).toBe(finish.reportPath);
      expect(fs.readFileSync(finish.reportPath, 'utf8')).toMatch(/GONE0001/);
      expect(row.note).toMatch(new RegExp(`^report written to ${fallback}: this worker's backup folder .* is not the shared store of target main \\(folder missing\\)`));
    }
  } finally {
    // what a report written there would have made (the assertions above say so first)
    fs.rmSync(stack.config.backupDir, { recursive: true, force: true });
    fs.renameSync(away, stack.config.backupDir);
  }
});

test('R-BK-7: a backup folder there but not the shared store (an empty mount point) gets no log folder: the report goes to <data>/log', async () => {
  const away = `${stack.config.backupDir}.away`;
  fs.renameSync(stack.config.backupDir, away);
  fs.mkdirSync(stack.config.backupDir);
  try {
    const { chunk, finish, row } = await runBatch('backup/main/mount-point');
    expect(chunk!.message).toMatch(/\(marker missing\)/);
    expect(fs.readdirSync(stack.config.backupDir)).toEqual([]);
    expect(path.dirname(finish.reportPath)).toBe(path.join(stack.config.dataDir, REPORT_FOLDER));
    expect(row.note).toMatch(/is not the shared store of target main \(marker missing\)/);
  } finally {
    fs.rmdirSync(stack.config.backupDir);
    fs.renameSync(away, stack.config.backupDir);
  }
  // the share back: the report is in <backup folder>/log, as R-BK-7 says, and the run notes nothing
  expect(fs.existsSync(path.join(stack.config.backupDir, STORE_MARKER_FILE))).toBe(true);
  const { chunk, finish, row } = await runBatch('backup/main/back');
  expect(chunk).toBeUndefined();
  expect(finish.reportPath).toBe(path.join(stack.config.backupDir, REPORT_FOLDER, path.basename(finish.reportPath)));
  expect(row.note).toBeNull();
});

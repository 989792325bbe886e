import fs from 'node:fs';
import { createBackupActivities } from '../../activities/backup';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { createPruneActivities } from '../../activities/prune';
import { createVerifyActivities } from '../../activities/verify';
import { FailureType, failureTypeOf } from '../../domain/failures';
import { generateDemoDossiers } from '../../registry/demo';
import { claimSharedFolder } from '../../shared-store/marker';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * The backup folder unmounted while the worker runs (issue 10's shared store, R-BK-6, R-BK-11): a backup does not
 * write to the local disk under the same path, a prune does not record deleted what it cannot see. Each refuses
 * with the worker's start-up line until the share is back.
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

test('a share unmounted mid-run: backup and prune refuse (DestinationUnavailable, the start-up line), nothing written or recorded; back again, they work', async () => {
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  const prune = createPruneActivities({ config: stack.config, pools: stack.pools, offsiteStore: () => undefined });
  const code = 'GONE0001';
  for (let i = 0; i < 2; i++) await backup.backupDossier({ target: 'main', code, reason: 'manual' });
  const before = await dossierGenerations(pool(), code);
  expect(before).toHaveLength(2);

  const away = `${stack.config.backupDir}.away`;
  fs.renameSync(stack.config.backupDir, away);
  const refused = await rejection(backup.backupDossier({ target: 'main', code, reason: 'manual' }));
  expect(failureTypeOf(refused)).toBe(FailureType.DestinationUnavailable);
  expect(refused!.message).toMatch(/backup folder .* is not the shared store of target main \(folder missing\): mount the shared folder there/);
  // not re-created on the local disk
  expect(fs.existsSync(stack.config.backupDir)).toBe(false);
  // a file in the folder's place is said so, not "folder missing" (drill K, session 39)
  fs.writeFileSync(stack.config.backupDir, 'junk\n');
  const file = await rejection(backup.backupDossier({ target: 'main', code, reason: 'manual' }));
  expect(failureTypeOf(file)).toBe(FailureType.DestinationUnavailable);
  expect(file!.message).toMatch(/backup folder .* is not the shared store of target main \(not a folder\): mount the shared folder there .*; something other than a folder \(a file\) stands at that path: move it away first$/);
  fs.rmSync(stack.config.backupDir);

  const chunk = { target: 'main', codes: [code], prunedBy: 'backup-prune/main/gone', policies: { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 }, EchangePrest: { last: 1, daily: 0, weekly: 0, monthly: 0 }, Cloture: { last: 1, daily: 0, weekly: 0, monthly: 0 } }, timeZone: 'UTC' };
  const pruneRefused = await rejection(prune.pruneChunk(chunk));
  expect(failureTypeOf(pruneRefused)).toBe(FailureType.DestinationUnavailable);
  expect((await dossierGenerations(pool(), code)).map((g) => g.deletedAt)).toEqual([null, null]);

  // a verification records no archive missing (the chunk refuses before it reads any)
  const verify = createVerifyActivities({ config: stack.config, pools: stack.pools });
  const claim = await verify.claimVerifyRun({ target: 'main', codes: [code], full: false, trigger: 'manual', workflowId: 'backup-verify/main/gone' });
  const page = await verify.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  const verifyRefused = await rejection(verify.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 }));
  expect(failureTypeOf(verifyRefused)).toBe(FailureType.DestinationUnavailable);
  expect((await dossierGenerations(pool(), code)).map((g) => g.verifyState)).toEqual(['unverified', 'unverified']);

  fs.renameSync(away, stack.config.backupDir);
  await backup.backupDossier({ target: 'main', code, reason: 'manual' });
  expect(await prune.pruneChunk(chunk)).toMatchObject({ deleted: 2 });
  const left = await dossierGenerations(pool(), code);
  expect(left).toHaveLength(1);
  expect(fs.existsSync(left[0]!.file)).toBe(true);
});

test('a batch chunk with the share unmounted stops the run as a full folder does: DestinationUnavailable, the stop reason, its dossiers not done, nothing written', async () => {
  const batch = createBackupBatchActivities({ config: stack.config, pools: stack.pools });
  const claim = await batch.claimBackupRun({ target: 'main', workflowId: 'backup/main/gone' });
  const away = `${stack.config.backupDir}.away`;
  fs.renameSync(stack.config.backupDir, away);
  try {
    const err = await rejection(batch.backupChunk({ target: 'main', runId: claim.runId, codes: ['GONE0001'], settings: claim.settings, concurrency: 1, timeBudgetMs: 10_000 }));
    expect(failureTypeOf(err)).toBe(FailureType.DestinationUnavailable);
    const { rows } = await pool().query('SELECT r.stop_reason, i.status, i.error FROM nightshift.backup_run r JOIN nightshift.backup_run_item i ON i.run_id = r.id WHERE r.id = $1', [claim.runId]);
    expect(rows).toEqual([{ stop_reason: expect.stringMatching(/is not the shared store of target main \(folder missing\)/), status: 'not_done', error: expect.stringMatching(/^Non traité\. .*folder missing/) }]);
    expect(fs.existsSync(stack.config.backupDir)).toBe(false);
  } finally {
    fs.renameSync(away, stack.config.backupDir);
  }
});

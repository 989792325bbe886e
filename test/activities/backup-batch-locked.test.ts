import crypto from 'node:crypto';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { DOSSIER_IN_USE_MESSAGE, FailureType, permanentFailure } from '../../domain/failures';
import { createTestStack, type TestStack } from '../helpers/env';
import { createDossiers } from '../workflows/backup-batch-helpers';

/**
 * R-BK-3 (drill F2, session 37): a dossier given up because a table of it stayed locked by another session is `in_use`
 * in the batch's ledger with why, not only the seed's "a user has windows open" (the gate showed no session at all).
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack?.close();
});

test('R-BK-3: the ledger item of a dossier whose table stayed locked says so after the seed\'s text; a dossier held open by a session keeps the seed\'s text alone', async () => {
  await createDossiers(stack, [{ code: 'LCK1' }, { code: 'LCK2' }]);
  const locked = `${DOSSIER_IN_USE_MESSAGE} (a table of dossier LCK1 stayed locked by another session for 30 s)`;
  const acts = createBackupBatchActivities(
    { config: stack.config, pools: stack.pools },
    {
      // the engine's refusals, as archive/engine.ts throws them
      beforeDossier: async (code) => {
        if (code === 'LCK1') throw permanentFailure(FailureType.DossierInUse, locked);
        if (code === 'LCK2') throw permanentFailure(FailureType.DossierInUse, DOSSIER_IN_USE_MESSAGE);
      },
    },
  );
  const run = await acts.claimBackupRun({ target: 'main', workflowId: `backup/main/${crypto.randomUUID()}` });
  const r = await acts.backupChunk({ target: 'main', runId: run.runId, codes: ['LCK1', 'LCK2'], settings: run.settings, concurrency: 1, timeBudgetMs: 60_000 });
  expect(r).toMatchObject({ ok: 0, inUse: 2 });
  const { rows } = await stack.pools.get('main').query(`SELECT code, status, error FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code`, [run.runId]);
  expect(rows).toEqual([
    { code: 'LCK1', status: 'in_use', error: locked },
    { code: 'LCK2', status: 'in_use', error: DOSSIER_IN_USE_MESSAGE },
  ]);
});

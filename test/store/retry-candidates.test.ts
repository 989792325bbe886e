import { retryCandidates } from '../../store/backup/retry-candidates';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-4 `backup retry`: a dossier a run failed (its off-site copy, say) that a later run did since, with no write to
 * it after, needs no retry, even when that later run wrote no new archive (its copy caught up from this run's).
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack?.close();
});

test('R-BK-4: done since by a later run (copy caught up, no new backup) and unmodified: no retry, and which run did it; modified after: retried', async () => {
  const db = pool();
  await db.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('RC1', 'd', 'd_RC1'), ('RC2', 'd', 'd_RC2'), ('RC3', 'd', 'd_RC3')`);
  // each backed up (recorded) before the failing run ended
  await db.query(`UPDATE nightshift.dossier SET backup_seq = change_seq, last_backup_at = now() - interval '2 hours'`);
  const settings = { destinationDir: '/b', documents: false, copyStatuses: ['original'], modifiedOnly: true, reportFolder: '/b/log', reportRecipients: [] };
  const run = async (id: string) =>
    (await db.query<{ id: string }>(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings) VALUES ($1, 'run', 'completed', $2) RETURNING id::text`, [id, settings])).rows[0]!.id;
  const failedRun = await run('rc-1');
  const laterRun = await run('rc-2');
  await db.query(
    `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, finished_at) VALUES
       ($1, 'RC1', 'failed', 1, now() - interval '1 hour'), ($1, 'RC2', 'failed', 1, now() - interval '1 hour'), ($1, 'RC3', 'failed', 1, now() - interval '1 hour'),
       ($2, 'RC1', 'ok', 1, now()), ($2, 'RC2', 'ok', 1, now())`,
    [failedRun, laterRun],
  );
  // RC2 written to since
  await db.query(`UPDATE nightshift.dossier SET change_seq = nextval('nightshift.change_seq') WHERE code = 'RC2'`);

  const candidates = await retryCandidates(db, failedRun);
  expect(candidates.map((c) => [c.code, c.backedUpSince, c.doneByRun])).toEqual([
    ['RC1', true, Number(laterRun)],
    ['RC2', false, null],
    ['RC3', false, null],
  ]);
});

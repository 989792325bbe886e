import { latestFailures } from '../../store/backup/latest-failures';
import { useTestStack } from '../helpers/env';

/**
 * R-OP-1, R-BK-4: what the Web UI's details and `backup run --wait` list of a batch stopped by its folder (drill W,
 * session 40): the dossiers that failed, with why, before those the batch never attempted (which only say it stopped);
 * 125 not attempted, recorded after, hid the 4 that failed behind "and 119 more".
 */

const stack = useTestStack();
const pool = () => stack().pools.get('main');

test('R-BK-4: the dossiers attempted (failed, in use) are kept before those not attempted, each group newest first, listed oldest first', async () => {
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings) VALUES (gen_random_uuid()::text, 'run', 'failed', '{}') RETURNING id::text`,
  );
  const runId = rows[0]!.id;
  const add = (code: string, status: string, error: string) =>
    pool().query(`INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error) VALUES ($1, $2, $3, 1, $4)`, [runId, code, status, error]);
  await add('A1', 'ok', '');
  for (const code of ['F1', 'F2', 'F3']) await add(code, 'failed', `Echec du traitement. cannot write backups into /srv/sauve: EPERM (${code})`);
  await add('U1', 'in_use', 'in use');
  for (let i = 1; i <= 12; i++) await add(`N${String(i).padStart(2, '0')}`, 'not_done', 'Non traité. the backup stopped');

  const ten = await latestFailures(pool(), runId, 10);
  expect(ten.map((f) => f.code)).toEqual(['F1', 'F2', 'F3', 'U1', 'N07', 'N08', 'N09', 'N10', 'N11', 'N12']);
  // fewer places than attempted failures: the newest of them, none of the others
  expect((await latestFailures(pool(), runId, 2)).map((f) => f.code)).toEqual(['F3', 'U1']);
});

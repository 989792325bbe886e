import { dryRunSelection } from '../../store/backup/dry-run-selection';
import { leftByEarlierRuns } from '../../store/backup/left-by-earlier-runs';
import { selectPage } from '../../store/backup/select-page';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-4 ("the next run first takes the dossiers that failed in the last run"): the last run is not only the newest
 * one. A `backup run --only` of other dossiers, or a retry, between two nightly runs does not make the nightly run
 * forget what the previous full run left in use: every run since the last full one counts, and a dossier one of them
 * backed up since is no longer taken first.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const settings = { destinationDir: '/b', documents: false, copyStatuses: ['original', 'copy'], modifiedOnly: true, reportFolder: '/b/log', reportRecipients: [] };

beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack?.close();
});

async function run(kind: 'run' | 'retry', fields: { only?: string[]; retryOf?: string; previous?: string; state?: string } = {}): Promise<string> {
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings, only_codes, retry_of, previous_run)
     VALUES (gen_random_uuid()::text, $1, $2, $3, $4, $5, $6) RETURNING id::text`,
    [kind, fields.state ?? 'partial', settings, fields.only ?? null, fields.retryOf ?? null, fields.previous ?? null],
  );
  return rows[0]!.id;
}
async function items(runId: string, statuses: Record<string, string>): Promise<void> {
  for (const [code, status] of Object.entries(statuses)) {
    await pool().query(`INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts) VALUES ($1, $2, $3, 1)`, [runId, code, status]);
  }
}

test('R-BK-4: after a nightly run, a `--only` run of others, a retry and another `--only` run, the next nightly run takes first what each left and no later run backed up', async () => {
  const db = pool();
  // every one modified since its last backup (never backed up): each is in the nightly selection
  await db.query(`INSERT INTO nightshift.dossier (code, label, schema_name) SELECT c, 'd', 'd_' || lower(c) FROM unnest(ARRAY['LA','LB','LC','LD','LE','LF','LG']) c`);
  // an older full run left LG failed: the newer full run below backed it up, so it is not taken first
  const older = await run('run');
  await items(older, { LG: 'failed' });
  const nightly = await run('run', { previous: older });
  await items(nightly, { LA: 'in_use', LB: 'failed', LC: 'ok', LF: 'not_done', LG: 'ok' });
  const onlyOthers = await run('run', { only: ['LD'], previous: nightly, state: 'completed' });
  await items(onlyOthers, { LD: 'ok' });
  const retry = await run('retry', { retryOf: nightly, previous: onlyOthers });
  await items(retry, { LB: 'ok', LF: 'in_use' });
  const onlyE = await run('run', { only: ['LE'], previous: retry });
  await items(onlyE, { LE: 'in_use' });
  const next = await run('run', { previous: onlyE, state: 'running' });

  // before: only onlyE's LE went first, LA (in use at the nightly run) waited in code order with the rest
  expect(await selectPage(db, Number(next), 'priority', '', 100)).toEqual(['LA', 'LE', 'LF']);
  expect(await selectPage(db, Number(next), 'rest', '', 100)).toEqual(['LB', 'LC', 'LD', 'LG']);
  // the keyset cursor still pages it
  expect(await selectPage(db, Number(next), 'priority', 'LA', 1)).toEqual(['LE']);

  // `backup run --dry-run` says the same, each with the run that left it
  const dry = await dryRunSelection(db, { copyStatuses: ['original', 'copy'], modifiedOnly: true, offsite: false, onlyCodes: null, previousRun: Number(onlyE), lostKeys: [] });
  expect(dry.filter((d) => d.first).map((d) => [d.code, d.leftByPrevious, d.leftByRun])).toEqual([
    ['LA', 'in_use', Number(nightly)],
    ['LE', 'in_use', Number(onlyE)],
    ['LF', 'in_use', Number(retry)],
  ]);
  expect(dry.filter((d) => !d.first).map((d) => d.code)).toEqual(['LB', 'LC', 'LD', 'LG']);
  // `backup retry` after onlyE names the earlier runs that left dossiers (drill B, session 35: "nothing to retry" only)
  expect(await leftByEarlierRuns(db, Number(onlyE))).toEqual([
    { runId: Number(retry), count: 1, codes: ['LF'] },
    { runId: Number(nightly), count: 1, codes: ['LA'] },
  ]);

  // a run without a previous one has none to take first
  await db.query(`UPDATE nightshift.backup_run SET state = 'completed' WHERE id = $1`, [next]);
  const first = await run('run', { state: 'running' });
  expect(await selectPage(db, Number(first), 'rest', '', 100)).toEqual(['LA', 'LB', 'LC', 'LD', 'LE', 'LF', 'LG']);
});

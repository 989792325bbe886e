import fs from 'node:fs';
import crypto from 'node:crypto';
import { ident } from '../../db/ident';
import os from 'node:os';
import path from 'node:path';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { createTestWorker, tempDir } from '../helpers/env';
import { claimSharedFolder } from '../../shared-store/marker';
import { stackCliEnv, useCliStack } from '../helpers/cli';
import { interrupt, startProcess } from '../stack/process';
import { scheduleRunReason } from '../../cli/commands/backup-batch';
import { createDossiers, modify, openSession, waitFor } from '../workflows/backup-batch-helpers';
import { startBackupBatch } from '../../starts';
import { NightshiftKind, NightshiftTarget } from '../../workflows/search-attributes';

/** `nightshift backup run|retry|status|settings|schedule` spawned as processes against the real servers (R-BK-1, R-BK-9). */

const ctx = useCliStack(90_000);
const cli = ctx.cli;




test('hostile input: unknown run ids, bad cron, bad time zone, bad codes and settings exit 2 and change nothing', async () => {
  const results = await Promise.all([
    cli(['backup', 'status', '999']),
    cli(['backup', 'status', "1; DROP TABLE nightshift.backup_run"]),
    cli(['backup', 'retry', '--run', 'backup/main/../../etc']),
    cli(['backup', 'schedule', 'set', '--cron', '0 25 * * *']),
    cli(['backup', 'schedule', 'set', '--cron', '0 21 * * *', '--timezone', 'Mars/Olympus']),
    cli(['backup', 'run', '--only', 'A1,bad code!']),
    cli(['backup', 'settings', 'set', 'dossiers', 'some']),
    cli(['backup', 'settings', 'set', 'colour', 'blue']),
    // a folder is stored as typed and compared as text: one spelling; one missing beside its parent is a typo
    cli(['backup', 'settings', 'set', 'folder', '/tmp/../etc']),
    cli(['backup', 'settings', 'set', 'folder', path.join(os.tmpdir(), `ns-no-such-folder-${process.pid}`)]),
  ]);
  expect(results[8]!.stderr).toBe("nightshift: folder: expected a folder path without '.', '..' or empty parts (write it as it is: /srv/backups)\n");
  expect(results[9]!.stderr).toMatch(/^nightshift: no folder \S+ns-no-such-folder-\d+ here \(its folder \S+ is here, without it\): make it first .*; nothing stored\n$/);
  for (const r of results) {
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nightshift: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  expect(results[0]!.stderr).toMatch(/no backup run yet|unknown backup run/);
  expect(results[3]!.stderr).toMatch(/--cron: hour/);
  expect(results[4]!.stderr).toMatch(/--timezone: "Mars\/Olympus" is not an IANA time zone/);
  await expect(ctx.temporal.client.schedule.getHandle('backup-schedule/main').describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  const { rows } = await ctx.stack.pools.get('main').query('SELECT count(*)::int AS n FROM nightshift.backup_setting');
  expect(rows[0].n).toBe(0);
});

test('backup run --only with codes that are not dossiers of the target (unknown, or in the wrong case) exits 2 naming them, and starts nothing', async () => {
  // a test dossier: registered, never selected by the other tests' batches
  await createDossiers(ctx.stack, [{ code: 'ONLY1', flags: { test: true } }]);
  const pool = ctx.stack.pools.get('main');
  const runs = async () => (await pool.query('SELECT count(*)::int AS n FROM nightshift.backup_run')).rows[0].n as number;
  const before = await runs();
  const r = await cli(['backup', 'run', '--only', 'ONLY1,NOPE,only1', '--wait']);
  expect(r.code).toBe(2);
  expect(r.stderr).toBe("nightshift: --only: not dossiers of target main: NOPE, only1 (codes are case-sensitive: ONLY1?); nothing started (see 'nightshift dossiers list')\n");
  expect(r.stdout).toBe('');
  expect(await runs()).toBe(before);
});

test('R-BK-2: backup run --only takes the dossiers it names that the nightly selection leaves out (a template, a test dossier), and says so', async () => {
  await createDossiers(ctx.stack, [{ code: 'ONLYT', flags: { template: true } }, { code: 'ONLYX', flags: { test: true, transferable: false } }, { code: 'ONLYN' }]);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'run', '--all', '--only', 'ONLYT,ONLYX,ONLYN', '--wait']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(
      /^ONLYT is a template: the nightly selection leaves it out \(R-BK-2\); taken, since --only names it\nONLYX is a test dossier, not transferable: the nightly selection leaves it out \(R-BK-2\); taken, since --only names it\nstarted /,
    );
    expect(r.stdout).toContain('3 / 3 dossier(s) backed up');
    const json = await cli(['backup', 'run', '--all', '--only', 'ONLYT', '--wait', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ takenDespite: [{ code: 'ONLYT', why: 'a template' }], takenDespiteTotal: 1, result: { state: 'completed', ok: 1 } });
    // without --all, R-BK-1 still applies: said with the name (ONLYT is unchanged since its backup just now)
    const modifiedOnly = await cli(['backup', 'run', '--only', 'ONLYT', '--wait']);
    expect(modifiedOnly.stdout).toMatch(/^ONLYT is a template: the nightly selection leaves it out \(R-BK-2\); taken if it changed since its last backup, since --only names it \(--all: taken anyway\)\n/);
    // an ordinary dossier named, unchanged since its backup: the run says "0 / 0", and why, before it
    const unchanged = await cli(['backup', 'run', '--only', 'ONLYN', '--wait']);
    expect(unchanged.stdout).toMatch(/^--only takes those of the dossiers named that changed since their last backup \(--all: each of them anyway\)\nstarted /);
    // the nightly selection still leaves them out
    const all = await cli(['backup', 'run', '--all', '--wait', '--json']);
    const runId = JSON.parse(all.stdout).result.runId as number;
    const { rows } = await ctx.stack.pools.get('main').query(`SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 AND code LIKE 'ONLY%' ORDER BY code`, [runId]);
    expect(rows).toEqual([{ code: 'ONLYN' }]);
  });
});

test('backup run --dry-run lists what a batch started now takes, in its order and with why, starts nothing; the batch then takes exactly those', async () => {
  await createDossiers(ctx.stack, [{ code: 'DRYN' }, { code: 'DRYU' }, { code: 'DRYT', flags: { template: true } }]);
  const pool = ctx.stack.pools.get('main');
  const runs = async () => (await pool.query('SELECT count(*)::int AS n FROM nightshift.backup_run')).rows[0].n as number;
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // DRYU backed up and unchanged since: the dry run leaves it out as the batch does (R-BK-1)
    expect((await cli(['backup', 'run', '--only', 'DRYU', '--wait'])).code).toBe(0);
    const before = await runs();
    const dry = await cli(['backup', 'run', '--dry-run', '--only', 'DRYN,DRYU,DRYT', '--json']);
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
    const planned = JSON.parse(dry.stdout) as { count: number; dossiers: { code: string; why: string }[]; takenDespite: { code: string }[] };
    expect(planned.dossiers.map((d) => [d.code, d.why])).toEqual([
      ['DRYN', 'never backed up'],
      ['DRYT', 'never backed up'],
    ]);
    expect(planned.takenDespite).toEqual([{ code: 'DRYT', why: 'a template' }]);
    expect(await runs()).toBe(before);
    const text = await cli(['backup', 'run', '--dry-run', '--only', 'DRYN,DRYU,DRYT']);
    expect(text.stdout).toMatch(/^a batch started now on main would take 2 dossier\(s\), in this order \(nothing started\):\n {2}DRYN: never backed up\n {2}DRYT: never backed up\nDRYT is a template: .*\nread with this host's settings/);
    expect((await cli(['backup', 'run', '--dry-run', '--wait'])).code).toBe(2);
    // the batch started after it takes exactly what it listed
    const real = JSON.parse((await cli(['backup', 'run', '--only', 'DRYN,DRYU,DRYT', '--wait', '--json'])).stdout) as { result: { runId: number } };
    const { rows } = await pool.query('SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code', [real.result.runId]);
    expect(rows.map((r) => r.code)).toEqual(['DRYN', 'DRYT']);
    // R-BK-4: a dossier in use at the last run goes first next time, said with the run; a modified one named as such
    await modify(pool, 'DRYU');
    await modify(pool, 'DRYN');
    const close = await openSession(pool, 'DRYN');
    const skipped = JSON.parse((await cli(['backup', 'run', '--only', 'DRYN', '--wait', '--json'])).stdout) as { result: { runId: number } };
    await close();
    // a `--only` run of another dossier between the two does not make the next run forget it (R-BK-4: every run since the last full one)
    expect((await cli(['backup', 'run', '--all', '--only', 'DRYT', '--wait'])).code).toBe(0);
    const again = JSON.parse((await cli(['backup', 'run', '--dry-run', '--only', 'DRYU,DRYN', '--json'])).stdout) as { first: number; dossiers: { code: string; why: string; first: boolean }[] };
    expect(again.dossiers).toEqual([
      expect.objectContaining({ code: 'DRYN', first: true, why: `not backed up by run ${skipped.result.runId} (in use), taken first (R-BK-4); modified since its last backup` }),
      expect.objectContaining({ code: 'DRYU', first: false, why: 'modified since its last backup' }),
    ]);
    expect(again.first).toBe(1);
    // backed up before, its archive lost and pruned (or restored since): not said "never backed up" (migration 0031)
    await pool.query(`UPDATE nightshift.dossier SET backup_seq = NULL WHERE code = 'DRYT'`);
    const lost = JSON.parse((await cli(['backup', 'run', '--dry-run', '--only', 'DRYT', '--json'])).stdout) as { dossiers: { code: string; why: string }[] };
    expect(lost.dossiers).toMatchObject([{ code: 'DRYT', why: 'backed up before, but no archive holds its current data (restored since, or its newest archive lost and pruned)' }]);
    // left as found: backed up, so that the later tests' batches do not take them (nor DRYN first, R-BK-4)
    const tidy = JSON.parse((await cli(['backup', 'run', '--only', 'DRYN,DRYU,DRYT', '--wait', '--json'])).stdout) as { result: { ok: number; total: number } };
    expect(tidy.result).toMatchObject({ ok: 3, total: 3 });
  });
});

test('R-BK-9 settings set/show: the common value wins over the default and says where it comes from', async () => {
  expect((await cli(['backup', 'settings', 'set', 'modified-only', 'non'])).code).toBe(0);
  const shown = await cli(['backup', 'settings', 'show', '--json']);
  expect(shown.code).toBe(0);
  const details = JSON.parse(shown.stdout).details as { key: string; value: unknown; source: string }[];
  expect(details.find((d) => d.key === 'modified-only')).toMatchObject({ value: false, source: 'common' });
  expect(details.find((d) => d.key === 'dossiers')).toMatchObject({ value: 'originals-and-copies', source: 'default' });
  expect((await cli(['backup', 'settings', 'set', 'modified-only', 'default'])).code).toBe(0);
  const again = JSON.parse((await cli(['backup', 'settings', 'show', '--json'])).stdout).details as { key: string; source: string }[];
  expect(again.find((d) => d.key === 'modified-only')?.source).toBe('default');
  // a word of a fixed set in any case, read as that word (as yes/no values are)
  expect(await cli(['backup', 'settings', 'set', 'on-exit', 'ALWAYS'])).toMatchObject({ code: 0, stdout: 'on-exit: common value set to always on target main\n' });
  expect((await cli(['backup', 'settings', 'set', 'on-exit', 'default'])).code).toBe(0);

  // once a worker recorded the target's shared store, a folder here without its marker would have every backup refused
  const pool = ctx.stack.pools.get('main');
  expect((await claimSharedFolder(pool, 'backups', ctx.stack.config.backupDir)).state).toBe('ok');
  const elsewhere = tempDir('not-the-store');
  const refused = await cli(['backup', 'settings', 'set', 'folder', elsewhere]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(/^nightshift: \S+not-the-store\S* is not the shared store of target main \(marker missing\): every backup would be refused there; .*nothing stored\n$/);
  // a path this host does not see: stored, with a note (the workers check it before each write)
  const remote = await cli(['backup', 'settings', 'set', 'folder', `/ns-not-here-${process.pid}/backups`]);
  expect(remote).toMatchObject({ code: 0, stderr: expect.stringContaining('is not on this host: the workers must see it') as string });
  expect((await cli(['backup', 'settings', 'set', 'folder', 'default'])).code).toBe(0);
  expect((await pool.query(`SELECT count(*)::int AS n FROM nightshift.backup_setting WHERE key = 'folder'`)).rows[0].n).toBe(0);
});

test('backup run --wait, status with failures, retry of the failed dossiers; a second run while one runs is refused naming it (R-BK-1)', async () => {
  await createDossiers(ctx.stack, [{ code: 'B1' }, { code: 'B2' }]);
  const pool = ctx.stack.pools.get('main');
  const close = await openSession(pool, 'B2');
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const run = await cli(['backup', 'run', '--wait', '--json']);
    expect(run.code).toBe(1);
    const { result } = JSON.parse(run.stdout);
    expect(result).toMatchObject({ state: 'partial', total: 2, ok: 1, failed: 1 });
    const status = await cli(['backup', 'status', String(result.runId)]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`backup run ${result.runId}`);
    expect(status.stdout).toContain('B2: Echec du traitement. Les données concernées sont utilisées par un utilisateur.');
    expect(status.stdout).toMatch(new RegExp(`^report: ${result.reportPath}$`, 'm'));
    // R-BK-8: a failure and no report recipients: nobody was mailed, said with how to set them
    expect(status.stdout).toMatch(/^report mail: none: no report recipients are set, so nobody was told \(R-BK-8; /m);
    // the report lost with its disk (drill D): said so, not printed as if it were there
    fs.renameSync(result.reportPath, `${result.reportPath}.moved`);
    try {
      expect((await cli(['backup', 'status', String(result.runId)])).stdout).toContain(`report: ${result.reportPath} (not found on this host: lost with its disk, or in another host's folder)`);
    } finally {
      fs.renameSync(`${result.reportPath}.moved`, result.reportPath);
    }
    // R-OP-1 with no worker answering: the page's static details name the command that reads the same from the database
    const { workflowId } = JSON.parse(run.stdout);
    const follow = `nightshift backup status ${workflowId} --target main`;
    expect(await (await ctx.temporal.client.workflow.getHandle(workflowId).describe()).staticDetails()).toContain(`database says where this run is: \`${follow}\``);
    expect((await cli(follow.split(' ').slice(1))).stdout).toContain(`backup run ${result.runId} (${workflowId})`);
    await close();
    const retry = await cli(['backup', 'retry', '--wait', '--json']);
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.stdout).result).toMatchObject({ state: 'completed', total: 1, ok: 1 });

    // R-BK-1: two `backup run` at the same moment (drill R: both said "started", the second's workflow failed a moment
    // later): one starts, the other is refused, by the check before the start or by the worker's claim, and says so
    // the batch that wins holds on: a table of B1 locked, its COPY waits until the end of the race
    const holder = await pool.connect();
    try {
      await holder.query(`BEGIN; LOCK TABLE ${ident('d_B1')}.compte IN ACCESS EXCLUSIVE MODE`);
      const race = await Promise.all([cli(['backup', 'run', '--all', '--json']), cli(['backup', 'run', '--all', '--json'])]);
      expect(race.map((r) => r.code).sort()).toEqual([0, 1]);
      const [won, lost] = race[0]!.code === 0 ? race : [race[1]!, race[0]!];
      expect(lost!.stderr).toMatch(/is already running|was refused at once and changed nothing: .*already running/);
      expect(JSON.parse(won!.stdout)).toMatchObject({ claimed: true });
      await holder.query('COMMIT');
      await ctx.temporal.client.workflow.getHandle(JSON.parse(won!.stdout).workflowId).result();
    } finally {
      holder.release();
    }
  });

  // a running run whose workflow is alive (no worker: it waits) blocks a second start, named in the error
  const blocker = `backup/main/${crypto.randomUUID()}`;
  const handle = await startBackupBatch(ctx.temporal.client, { target: 'main' }, { taskQueue: ctx.stack.config.temporal.taskQueue, workflowId: blocker });
  const { rows } = await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings) VALUES ($1, 'run', '{}') RETURNING id`, [blocker]);
  const refused = await cli(['backup', 'run']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`backup run ${rows[0].id} (${blocker}) is already running`);
  // once that workflow is gone (terminated), its run is closed as abandoned and a new run can start
  await handle.terminate('test');
  // R-BK-1: its status says so at once (was `running` until the next run's claim, with its history's stale progress)
  const afterTerminate = await cli(['backup', 'status', String(rows[0].id)]);
  expect(afterTerminate.code).toBe(0);
  expect(afterTerminate.stderr).toContain(`closed backup run ${rows[0].id} (${blocker}): its workflow is terminated`);
  expect(afterTerminate.stdout).toContain(`backup run ${rows[0].id} (${blocker}) run: failed`);
  expect(afterTerminate.stdout).toContain('note: abandoned: its workflow is terminated');
  // R-BK-7: no report will come (its workflow wrote it): not "(not yet)" (drill B, session 35)
  expect(afterTerminate.stdout).toContain('report: (none: the run was closed before its report was written)\n');
  expect(afterTerminate.stdout).not.toContain('progress:');
  // no worker from here: not waiting for a claim that cannot come
  const started = await cli(['backup', 'run', '--json'], { NIGHTSHIFT_CLAIM_WAIT_S: '0' });
  expect(started.code).toBe(0);
  // one workflow-id time format everywhere: UTC, compact, with Z (was Paris time, 20261202-052243)
  expect(JSON.parse(started.stdout).workflowId).toMatch(/^backup\/main\/\d{8}T\d{6}Z$/);
  const { rows: old } = await pool.query('SELECT state, note FROM nightshift.backup_run WHERE id = $1', [rows[0].id]);
  expect(old[0]).toMatchObject({ state: 'failed', note: 'abandoned: its workflow is terminated' });
  await ctx.temporal.client.workflow.getHandle(JSON.parse(started.stdout).workflowId).terminate('test');


  // R-PI-2 from the batch's side: a patch run whose workflow is alive refuses a batch before it starts
  const patchWorkflow = `patch/main/${crypto.randomUUID()}`;
  const patchHandle = await startBackupBatch(ctx.temporal.client, { target: 'main' }, { taskQueue: `nobody-${crypto.randomUUID()}`, workflowId: patchWorkflow });
  const { rows: patchRun } = await pool.query(`INSERT INTO nightshift.patch_run (workflow_id, mode) VALUES ($1, 'integrate') RETURNING id`, [patchWorkflow]);
  const duringPatch = await cli(['backup', 'run']);
  expect(duringPatch.code).toBe(1);
  expect(duringPatch.stderr).toContain(`patch run ${patchRun[0].id} (${patchWorkflow}) is running on main: a backup batch starts once it has ended`);
  expect((await pool.query(`SELECT count(*)::int AS n FROM nightshift.backup_run WHERE state = 'running'`)).rows[0].n).toBe(0);
  await patchHandle.terminate('test');
  await pool.query(`UPDATE nightshift.patch_run SET state = 'failed', finished_at = now() WHERE id = $1`, [patchRun[0].id]);

  // a run of the older id format is still found by its workflow id
  const legacy = 'backup/main/20261202-052243';
  const { rows: legacyRun } = await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings, state) VALUES ($1, 'run', '{}', 'completed') RETURNING id`, [legacy]);
  const byOldId = await cli(['backup', 'status', legacy]);
  expect(byOldId.code).toBe(0);
  expect(byOldId.stdout).toContain(`backup run ${legacyRun[0].id} (${legacy})`);

  // R-BK-4: dossiers a stopped run never attempted are counted beside the failures the status lists
  const stopped = 'backup/main/stopped-before-them';
  const { rows: stoppedRun } = await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings, state, selected) VALUES ($1, 'run', '{}', 'failed', 2) RETURNING id`, [stopped]);
  await pool.query(
    `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms) VALUES ($1, 'S1', 'failed', 1, 'disk full', 1), ($1, 'S2', 'not_done', 0, 'BackupKeyMissing', 0)`,
    [stoppedRun[0].id],
  );
  const stoppedStatus = await cli(['backup', 'status', stopped]);
  expect(stoppedStatus.stdout).toContain('1 / 2 dossiers attempted: 0 ok, 0 in use, 1 failed; 1 not attempted\n');
  // R-OP-1: the account the details and the report give, with why the run stopped (the not-done dossier's reason)
  expect(stoppedStatus.stdout).toContain('0 / 2 dossier(s) backed up; 2 not backed up: 0 in use, 1 failed, 1 not attempted (the batch stopped before them: BackupKeyMissing; the next run takes them first)');
  // the reason said once, in the account line; each dossier not attempted says only that (session 40)
  expect(stoppedStatus.stdout).toContain('  S2: not attempted (the batch stopped before it)\n');
  expect(stoppedStatus.stdout).toContain('  S1: disk full\n');
  // the step the Web UI and `--wait` give, also here (drill W, session 40); none for a run that backed up every dossier
  expect(stoppedStatus.stdout).toMatch(new RegExp(`\\nnext: nightshift backup retry --target main --run ${stoppedRun[0].id}\\n$`));
  expect(byOldId.stdout).not.toContain('next:');

  // 880 dossiers in use print a screen, not 880 lines: 50, then a count and where every one is (scale drill)
  const many = 'backup/main/many-failures';
  const { rows: manyRun } = await pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings, state, selected) VALUES ($1, 'run', '{}', 'partial', 80) RETURNING id`, [many]);
  await pool.query(
    `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms) SELECT $1, 'M' || lpad(n::text, 3, '0'), 'in_use', 1, 'in use', 1 FROM generate_series(1, 80) n`,
    [manyRun[0].id],
  );
  const manyStatus = await cli(['backup', 'status', many]);
  expect(manyStatus.stdout.split('\n').filter((l) => /^ {2}M\d{3}: /.test(l))).toHaveLength(50);
  expect(manyStatus.stdout).toContain('  and 30 more: every one in the report and with --json');
  expect(JSON.parse((await cli(['backup', 'status', many, '--json'])).stdout).failures).toHaveLength(80);
});

test('R-BK-1 schedule: created with overlap skip and time zone, a trigger while a run is running is skipped, pause and delete', async () => {
  const set = await cli(['backup', 'schedule', 'set', '--cron', '0 21 * * *', '--timezone', 'Europe/Paris']);
  expect(set).toMatchObject({ code: 0 });
  const handle = ctx.temporal.client.schedule.getHandle('backup-schedule/main');
  const d = await handle.describe();
  expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  expect(d.spec.timezone).toBe('Europe/Paris');
  expect(d.action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'backupBatchWorkflow',
    staticSummary: 'Nightly backup of the modified dossiers of target main (schedule backup-schedule/main)',
  });
  // no worker polls this task queue: the first triggered run stays running, the second trigger overlaps
  const trig = await cli(['backup', 'schedule', 'trigger']);
  expect(trig).toMatchObject({ code: 0, stderr: '' });
  await waitFor('the first scheduled run', async () => ((await handle.describe()).info.runningActions.length === 1 ? true : undefined));
  expect((await cli(['backup', 'schedule', 'trigger'])).code).toBe(0);
  const after = await waitFor('the skipped overlap', async () => {
    const x = await handle.describe();
    return x.info.numActionsSkippedOverlap >= 1 ? x : undefined;
  });
  expect(after.info.runningActions).toHaveLength(1);
  // the scheduled run itself shows the summary and the attributes the saved views filter on
  const scheduled = await ctx.temporal.client.workflow.getHandle(after.info.runningActions[0]!.workflow.workflowId).describe();
  expect(await scheduled.staticSummary()).toMatch(/^Nightly backup of the modified dossiers of target main/);
  expect([scheduled.typedSearchAttributes.get(NightshiftTarget), scheduled.typedSearchAttributes.get(NightshiftKind)]).toEqual(['main', 'backup-batch']);
  const shown = JSON.parse((await cli(['backup', 'schedule', 'show', '--json'])).stdout);
  expect(shown).toMatchObject({ scheduleId: 'backup-schedule/main', paused: false, skippedOverlaps: 1 });
  expect(shown.running[0]).toMatch(/^backup\/main\/scheduled-/);
  expect(shown).toMatchObject({ cron: ['0 21 * * *'], timezone: 'Europe/Paris', overlap: 'SKIP', recentRuns: [{ workflowId: shown.running[0], status: 'running' }] });
  // the human output: one labelled line per fact, times in the schedule's time zone
  const text = await cli(['backup', 'schedule', 'show']);
  expect(text).toMatchObject({ code: 0, stderr: '' });
  expect(text.stdout).toMatch(/^schedule backup-schedule\/main$/m);
  expect(text.stdout).toMatch(/^ {2}cron {12}0 21 \* \* \*$/m);
  expect(text.stdout).toMatch(/^ {2}time zone {7}Europe\/Paris$/m);
  expect(text.stdout).toMatch(/^ {2}overlap policy {2}skip \(no run starts while one is running\), 1 skipped so far$/m);
  expect(text.stdout).toMatch(/^ {2}paused {10}no$/m);
  expect(text.stdout).toMatch(/^ {2}next runs {7}\d{4}-\d\d-\d\d 21:00$/m);
  expect(text.stdout.match(/^ {18}\d{4}-\d\d-\d\d 21:00$/gm)).toHaveLength(4);
  expect(text.stdout).toMatch(new RegExp(`^ {2}last runs {7}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d {2}${shown.running[0]} {2}running$`, 'm'));
  expect(text.stdout).toMatch(new RegExp(`^ {2}running {9}${shown.running[0]}$`, 'm'));
  expect(text.stdout).not.toContain('{');
  expect((await cli(['backup', 'schedule', 'pause'])).code).toBe(0);
  expect((await handle.describe()).state.paused).toBe(true);
  const paused = (await cli(['backup', 'schedule', 'show'])).stdout;
  expect(paused).toMatch(/^ {2}paused {10}yes \(paused with nightshift backup schedule pause\)$/m);
  expect(paused).toMatch(/^ {2}next runs {7}\(none while paused\)$/m);
  expect((await cli(['backup', 'schedule', 'delete'])).code).toBe(0);
  await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  await ctx.temporal.client.workflow.getHandle(after.info.runningActions[0]!.workflow.workflowId).terminate('test');
});

test('backup retry: the failed dossiers backed up since (and not modified after) are skipped and named; none left: nothing started, exit 0', async () => {
  await createDossiers(ctx.stack, [{ code: 'RT1' }, { code: 'RT2' }, { code: 'RT3' }]);
  const pool = ctx.stack.pools.get('main');
  const runs = async () => (await pool.query('SELECT count(*)::int AS n FROM nightshift.backup_run')).rows[0].n as number;
  const closes = await Promise.all(['RT1', 'RT2', 'RT3'].map((code) => openSession(pool, code)));
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const run = await cli(['backup', 'run', '--only', 'RT1,RT2,RT3', '--wait', '--json']);
    expect(run.code).toBe(1);
    const runId = JSON.parse(run.stdout).result.runId as number;
    for (const close of closes) await close();
    // RT1 backed up since, untouched; RT2 backed up since, then written to; RT3 not backed up
    expect((await cli(['backup', 'dossier', 'RT1', '--wait'])).code).toBe(0);
    expect((await cli(['backup', 'dossier', 'RT2', '--wait'])).code).toBe(0);
    await modify(pool, 'RT2');

    const retry = await cli(['backup', 'retry', '--run', String(runId), '--wait', '--json']);
    expect(retry.code).toBe(0);
    const out = JSON.parse(retry.stdout);
    expect(out).toMatchObject({ retried: 2, skipped: [{ code: 'RT1', reason: expect.stringMatching(/^backed up since, \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, not modified after$/) }] });
    expect(out.result).toMatchObject({ state: 'completed', total: 2, ok: 2 });
    const { rows } = await pool.query('SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code', [out.result.runId]);
    expect(rows.map((r) => r.code)).toEqual(['RT2', 'RT3']);

    // the retry backed the others up: nothing is left to retry of that run, and no batch starts
    const before = await runs();
    const none = await cli(['backup', 'retry', '--run', String(runId)]);
    expect(none).toMatchObject({ code: 0, stderr: '' });
    expect(none.stdout).toMatch(new RegExp(`^backup run ${runId}: none of its 3 failed dossier\\(s\\) needs a retry: nothing started\\n  RT1: backed up since, .*\\n  RT2: backed up since, .*\\n  RT3: backed up since, .*not modified after\\n$`));
    expect(await runs()).toBe(before);
  });
});

test('R-OP-1 schedule show: a failed run\'s reason is printed whole, its next command intact (it was cut at 200 characters: "next: nightsh")', () => {
  const failures = ['DEMO0202', 'DEMO0203', 'DEMO0205'].map((c) => `${c}: Echec du traitement. Les données concernées sont utilisées par un utilisateur. Ce ou ces utilisateurs doivent fermer les fenêtres ouvertes.`);
  const message = `backup run 3 partial: 5 of 8009 dossier(s) not backed up (${failures.join('; ')}); next: nightshift backup retry --target main --run 3`;
  const err = new Error('Workflow execution failed', { cause: new Error(message) });
  expect(message.length).toBeGreaterThan(400);
  expect(scheduleRunReason(err)).toBe(message);
  expect(scheduleRunReason(new Error('two\nlines'))).toBe('two lines');
});

test('Ctrl-C on backup run --wait stops only the waiting: said on stderr with how to follow the run (exit 130), the run goes on', async () => {
  await ctx.stack.pools.get('main').query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now() WHERE state = 'running'`);
  // no worker: the run waits, as a long one would
  const p = startProcess([path.join(__dirname, '..', '..', 'bin', 'nightshift.js'), 'backup', 'run', '--wait'], stackCliEnv(ctx.stack));
  await p.waitFor('started backup/main/', 60_000);
  const workflowId = /started (backup\/main\/\S+)/.exec(p.stdout())![1]!;
  expect(await interrupt(p)).toBe(130);
  expect(p.stderr()).toContain(`nightshift: stopped waiting (SIGINT); the batch goes on: follow it with 'nightshift backup status ${workflowId} --target main' or in the Temporal Web UI: `);
  const handle = ctx.temporal.client.workflow.getHandle(workflowId);
  expect((await handle.describe()).status.name).toBe('RUNNING');
  await handle.terminate('test');
});

test('R-BK-4 backup retry with no --run: the last run had no failure, an earlier one left a dossier in use: named with the retry that takes it (drill B, session 35)', async () => {
  await createDossiers(ctx.stack, [{ code: 'RL1' }, { code: 'RL2' }]);
  const pool = ctx.stack.pools.get('main');
  await pool.query(`UPDATE nightshift.backup_run SET state = 'failed', finished_at = now() WHERE state = 'running'`);
  const close = await openSession(pool, 'RL1');
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const left = await cli(['backup', 'run', '--only', 'RL1,RL2', '--wait', '--json']);
    expect(left.code).toBe(1);
    const leftRun = JSON.parse(left.stdout).result.runId as number;
    await close();
    await modify(pool, 'RL2');
    const clean = await cli(['backup', 'run', '--only', 'RL2', '--wait', '--json']);
    expect(clean.code).toBe(0);
    const cleanRun = JSON.parse(clean.stdout).result.runId as number;

    const retry = await cli(['backup', 'retry']);
    expect(retry).toMatchObject({ code: 0, stderr: '' });
    expect(retry.stdout).toContain(`backup run ${cleanRun} has no failed dossier: nothing to retry\n`);
    expect(retry.stdout).toContain(
      `  backup run ${leftRun} left 1 dossier(s) not backed up (RL1): nightshift backup retry --target main --run ${leftRun}, or the next batch takes them first (R-BK-4)\n`,
    );
    const json = JSON.parse((await cli(['backup', 'retry', '--json'])).stdout);
    expect(json.earlier).toEqual(expect.arrayContaining([{ runId: leftRun, count: 1, codes: ['RL1'] }]));
  });
});

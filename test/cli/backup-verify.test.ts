import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { createDossiers, freePort, setCommon, startSmtp, waitFor } from '../workflows/backup-batch-helpers';
import { createBackupActivities } from '../../activities/backup';
import { claimSharedFolder } from '../../shared-store/marker';
import { createActivities } from '../../workers/activities';
import { createMailTransport } from '../../workers/resources';
import { dossierGenerations } from '../../store/generations/dossier-generations';

/** `nightshift backup verify [--full] [--codes] [--run] [--wait]` and `backup verify schedule set|show|delete` as processes against the real servers (R-BK-13). */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

test('hostile input: --codes with --run, a bad sample, an unknown run, a bad cron or time zone exit 2 and start nothing', async () => {
  const results = await Promise.all([
    cli(['backup', 'verify', '--codes', 'A1', '--run', '1']),
    cli(['backup', 'verify', '--sample', '200']),
    cli(['backup', 'verify', '--run', '999']),
    cli(['backup', 'verify', '--codes', 'A1,bad code!']),
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 25 * * *']),
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--timezone', 'Mars/Olympus']),
    // a run's options are not the schedule's: refused, not dropped in silence
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--sample', '150']),
    cli(['backup', 'verify', '--seed', '7', 'schedule', 'delete']),
    // a mistyped code would verify nothing and say "0 / 0 ok"
    cli(['backup', 'verify', '--codes', 'NOPE', '--wait']),
    cli(['backup', 'verify', '--sample', '1e2']),
    cli(['backup', 'verify', '--seed', '0x10']),
    // conflicting, and a day that never comes (the server would take it and never run it)
    cli(['backup', 'verify', '--full', '--sample', '10']),
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 31 2 *']),
    // drill X, session 40: a seed picks a sample, which --full has not (it was taken in silence)
    cli(['backup', 'verify', '--full', '--seed', '5']),
  ]);
  expect(results[13]!.stderr).toBe('nightshift: --full restores every generation: --seed picks a sample, give it without --full\n');
  expect(results[11]!.stderr).toContain('--full restores every generation: give either --full or --sample, not both');
  expect(results[12]!.stderr).toContain('--cron: day of month: "31" never comes in month "2": the schedule would never run');
  for (const r of results) {
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nightshift: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  expect(results[0]!.stderr).toContain('either --codes or --run');
  expect(results[2]!.stderr).toContain('unknown backup run "999"');
  // no schedule to show is an answer, not bad usage: test/cli/schedule-show.test.ts
  expect(results[6]!.stderr).toContain("--sample is an option of 'nightshift backup verify', not of 'backup verify schedule set'");
  expect(results[7]!.stderr).toContain("--seed is an option of 'nightshift backup verify', not of 'backup verify schedule delete'");
  expect(results[8]!.stderr).toContain('--codes: no kept generation of NOPE in target main');
  expect(results[1]!.stderr).toContain('--sample: expected a percentage from 0 to 100, such as 5 or 12.5');
  expect(results[9]!.stderr).toContain('--sample: expected a percentage from 0 to 100');
  expect(results[10]!.stderr).toContain('--seed: expected a whole number from 0 to 2147483647');
  const { rows } = await ctx.stack.pools.get('main').query('SELECT count(*)::int AS n FROM nightshift.verify_run');
  expect(rows[0].n).toBe(0);
});

test('R-BK-13 backup verify --wait: a clean run exits 0; --codes --full restores every one; a damaged generation exits 1 naming dossier, generation and the next command', async () => {
  await createDossiers(ctx.stack, [{ code: 'C1' }, { code: 'C2' }]);
  const pool = ctx.stack.pools.get('main');
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // nothing kept yet: said in words (zeros alone read like a success), in the report too
    const empty = await cli(['backup', 'verify', '--wait']);
    expect(empty).toMatchObject({ code: 0, stderr: '' });
    expect(empty.stdout).toMatch(/: 0 \/ 0 generation\(s\) ok, .*\nno kept generation in this scope: nothing was verified \(none backed up yet, or all pruned: 'nightshift backup info' shows the store\)\n/);
    const emptyReport = /^report: (.*)$/m.exec(empty.stdout)![1]!;
    expect(fs.readFileSync(emptyReport, 'utf8')).toMatch(/^aucune sauvegarde conservée à vérifier dans ce périmètre\r?\n0 \/ 0 sauvegarde\(s\) vérifiée\(s\)/m);

    const batch = await cli(['backup', 'run', '--wait', '--json']);
    expect(batch.code).toBe(0);
    const runId = JSON.parse(batch.stdout).result.runId as number;

    const ofRun = await cli(['backup', 'verify', '--run', String(runId), '--wait', '--json']);
    expect(ofRun).toMatchObject({ code: 0, stderr: '' });
    const r1 = JSON.parse(ofRun.stdout);
    expect(r1.workflowId).toMatch(/^backup-verify\/main\/\d{8}T\d{6}Z$/);
    expect(r1.result).toMatchObject({ state: 'completed', total: 2, ok: 2, problems: 0 });
    expect(r1.result.restored).toBeGreaterThanOrEqual(1);

    const full = await cli(['backup', 'verify', '--codes', 'C1', '--full', '--wait']);
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/^verify run \d+ completed \('nightshift backup verify status \d+'\): 1 \/ 1 generation\(s\) ok, 0 with a problem, 1 restored into a scratch schema and compared \(seed \d+\)$/m);
    expect(full.stdout).toMatch(/^report: .*\/log\/svgverif-\d{8}-\d{6}-\d+\.txt$/m);

    const [g] = await dossierGenerations(pool, 'C2');
    const bytes = Buffer.from(fs.readFileSync(g!.file)).subarray(0, 200);
    fs.rmSync(g!.file);
    fs.writeFileSync(g!.file, bytes, { mode: 0o600 });
    const bad = await cli(['backup', 'verify', '--wait']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^verify run \d+ problems \('nightshift backup verify status \d+'\): 1 \/ 2 generation\(s\) ok, 1 with a problem/m);
    expect(bad.stdout).toMatch(/^ {2}C2: sauvegarde du \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [\w/]+ \(BC2\.[^)]+\.SVG\) : 200 octets au lieu de \d+ à l'écriture; SHA-256 [0-9a-f]{12}… au lieu de [0-9a-f]{12}… à l'écriture; invalid archive/m);
    // the whole reason, as in the report file: its end (what failed, a key id) is not cut off
    expect(bad.stdout).toMatch(/^ {2}C2: .*; invalid archive: [^…\n]+$/m);
    expect(bad.stdout).toContain('next: nightshift backup run --all --only C2 --target main\n  back up these dossiers again');

    // a verify run looked up later by the number it printed (numbered apart from backup runs): every problem
    const verifyId = /^verify run (\d+) problems/m.exec(bad.stdout)![1]!;
    const st = await cli(['backup', 'verify', 'status', verifyId]);
    expect(st).toMatchObject({ code: 0, stderr: '' });
    expect(st.stdout).toMatch(new RegExp(`^verify run ${verifyId} \\(backup-verify/main/\\S+\\) problems: 1 / 2 generation\\(s\\) ok, 1 with a problem`));
    expect(st.stdout).toMatch(/^ {2}every kept generation; a 5 % sample restored \(at least one; seed \d+\)$/m);
    // R-BK-8: no report recipients set: the mail went to nobody, and the status says so with how to set them
    expect(st.stdout).toMatch(/; mail: none: no report recipients are set, so nobody was told \(R-BK-8; 'nightshift backup settings set report-recipients ops@example\.com' or NIGHTSHIFT_BACKUP_REPORT_TO\)$/m);
    expect(st.stdout).toMatch(/^ {2}C2 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d corrupt: .*invalid archive/m);
    expect(JSON.parse((await cli(['backup', 'verify', 'status', '--json'])).stdout)).toMatchObject({ run: { id: verifyId, state: 'problems' }, problems: [{ code: 'C2', status: 'corrupt' }] });
    const wrong = await cli(['backup', 'verify', 'status', '999']);
    expect(wrong).toMatchObject({ code: 2, stderr: 'nightshift: unknown verify run "999" in target main (verify runs are numbered apart from backup runs)\n' });
    if (Number(verifyId) !== runId) {
      const asBackup = await cli(['backup', 'status', verifyId]);
      expect(asBackup.code).toBe(2);
      expect(asBackup.stderr).toContain(`(verify run ${verifyId} is 'nightshift backup verify status ${verifyId}')`);
    }
    expect((await cli(['backup', 'verify', '--full', 'status'])).stderr).toContain("--full is an option of 'nightshift backup verify', not of 'backup verify status'");

    // R-BK-11: a run whose generations were pruned since: "1 / 1 ok" is said with what was pruned, before
    await pool.query(`UPDATE nightshift.backup_generation SET deleted_at = now() WHERE run_id = $1 AND code = 'C2'`, [runId]);
    const pruned = await cli(['backup', 'verify', '--run', String(runId), '--wait']);
    expect(pruned.stdout).toMatch(new RegExp(`^backup run ${runId} wrote 2 generation\\(s\\); 1 were pruned since \\(retention\\): the 1 kept are verified\n`));
    expect(pruned.stdout).toMatch(/: 1 \/ 1 generation\(s\) ok/);
    // every one pruned: nothing to verify, refused as a --codes of dossiers without a generation is (drill X, session 40:
    // a run started, "0 / 0 ok")
    await pool.query(`UPDATE nightshift.backup_generation SET deleted_at = now() WHERE run_id = $1`, [runId]);
    const runs = (await pool.query('SELECT count(*)::int AS n FROM nightshift.verify_run')).rows[0].n;
    expect(await cli(['backup', 'verify', '--run', String(runId)])).toMatchObject({
      code: 2,
      stderr: `nightshift: --run: backup run ${runId} wrote 2 generation(s), all pruned since (retention): nothing of it to verify; nothing started ('nightshift backup verify' checks every kept one)\n`,
    });
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.verify_run')).rows[0].n).toBe(runs);
  });
});

test('R-BK-13 backup verify schedule set/show/delete: a Temporal Schedule over everything kept, overlap skip, in its time zone', async () => {
  const set = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--timezone', 'Europe/Paris', '--full']);
  expect(set).toMatchObject({ code: 0, stderr: '' });
  expect(set.stdout).toContain('created schedule backup-verify-schedule/main: "0 6 * * 0" (Europe/Paris), every generation restored');
  const handle = ctx.temporal.client.schedule.getHandle('backup-verify-schedule/main');
  const d = await handle.describe();
  expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  expect(d.spec.timezone).toBe('Europe/Paris');
  expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'backupVerifyWorkflow', workflowId: 'backup-verify/main/scheduled', args: [{ target: 'main', trigger: 'schedule', full: true }] });
  // without --timezone an update keeps the schedule's zone (not the host's default)
  const again = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 5 * * *'], { NIGHTSHIFT_TIMEZONE: 'UTC', TZ: 'UTC' });
  expect(again.stdout).toContain('updated schedule backup-verify-schedule/main: "30 5 * * *" (Europe/Paris), every generation restored');
  // ... and what each run does: a new time is not a new kind of run (said, with how to change it)
  expect(again.stdout).toContain('kept from the schedule: --full (--no-full: a sample)');
  expect((await handle.describe()).spec.timezone).toBe('Europe/Paris');
  expect((await handle.describe()).action).toMatchObject({ args: [{ target: 'main', trigger: 'schedule', full: true }] });
  expect(again.stdout).not.toContain('warning:');
  const rotating = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 5 * * *', '--rotate', '7', '--json']);
  expect(JSON.parse(rotating.stdout)).toMatchObject({ full: true, rotate: 7, kept: ['--full (--no-full: a sample)'] });
  const sampled = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 5 * * *', '--no-full']);
  expect(sampled.stdout).toContain('the next of 7 parts of every kept generation in turn (--rotate 7: all read every 7 runs), a sample restored');
  expect(sampled.stdout).toContain('kept from the schedule: --rotate 7 (--no-rotate: whole)');
  const whole = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 5 * * *', '--no-rotate']);
  expect(whole.stdout).toMatch(/\(Europe\/Paris\), a sample restored, overlapping runs skipped$/m);
  expect(whole.stdout).not.toContain('kept from');
  // a time clocks skip or repeat: the server would skip that night, or run twice: said for each such night of the year
  const dst = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 2 * * *', '--json']);
  expect(dst).toMatchObject({ code: 0, stderr: '' });
  const warnings = (JSON.parse(dst.stdout) as { warnings: string[] }).warnings;
  expect(warnings).toHaveLength(2); // the coming year's two nights, in date order
  expect(warnings).toEqual(expect.arrayContaining([
    expect.stringMatching(/^02:30 does not exist in Europe\/Paris on \d{4}-03-\d\d \(clocks go forward\): Temporal's Schedule skips the verification that night instead of running it an hour later; a time outside 02:00–02:59 runs every night$/),
    expect.stringMatching(/^on \d{4}-10-\d\d clocks go back in Europe\/Paris: Temporal's Schedule may start the verification of 02:30 twice that night, an hour apart; a time outside 01:00–02:59 runs once$/),
  ]));
  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 5 * * *'])).code).toBe(0);
  const shown = await cli(['backup', 'verify', 'schedule', 'show']);
  expect(shown.code).toBe(0);
  expect(shown.stdout).toMatch(/^schedule backup-verify-schedule\/main$/m);
  expect(shown.stdout).toMatch(/^ {2}cron {12}30 5 \* \* \*$/m);
  expect(shown.stdout).toMatch(/^ {2}next runs {7}\d{4}-\d\d-\d\d 05:30$/m);
  expect(shown.stdout).toMatch(/^each run restores a sample \(5 %, at least one per run\) into a scratch schema/m);
  expect((await handle.describe()).action).toMatchObject({ args: [{ target: 'main', trigger: 'schedule' }] });
  const del = await cli(['backup', 'verify', 'schedule', 'delete']);
  expect(del).toMatchObject({ code: 0, stdout: 'backup-verify-schedule/main: deleted\n' });
  await expect(handle.describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
});

test('R-BK-13 backup verify status: a running run says done / total from its ledger and its problems so far (its totals are written at its end), in text and JSON; once its workflow is terminated, it is closed as abandoned with its ledger totals', async () => {
  const pool = ctx.stack.pools.get('main');
  // as a worker leaves it mid-way: claimed with 5 generations, 3 read (one corrupt, one restored); its workflow still
  // there but run by nobody (a task queue no worker polls: no phase to query, the ledger alone is said)
  const workflowId = 'backup-verify/main/20990101T000000Z';
  const handle = await ctx.temporal.client.workflow.start('backupVerifyWorkflow', { taskQueue: `nobody-${crypto.randomUUID()}`, workflowId, args: [] });
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO nightshift.verify_run (workflow_id, scope, seed, selected, settings) VALUES ($1, 'all', 7, 5, '{"reportFolder": "/tmp", "reportRecipients": []}') RETURNING id`,
    [workflowId],
  );
  const id = rows[0]!.id;
  await pool.query(
    `INSERT INTO nightshift.verify_run_item (run_id, generation_id, code, file, snapshot_at, status, restored, error)
     VALUES ($1, 901, 'RV1', '/x/a.SVG', '2026-12-01T10:00:00Z', 'ok', true, NULL), ($1, 902, 'RV1', '/x/b.SVG', '2026-12-02T10:00:00Z', 'corrupt', false, 'truncated'),
            ($1, 903, 'RV2', '/x/c.SVG', '2026-12-02T10:00:00Z', 'ok', false, NULL)`,
    [id],
  );
  const st = await cli(['backup', 'verify', 'status', id]);
  expect(st).toMatchObject({ code: 0, stderr: '' });
  expect(st.stdout).toMatch(
    new RegExp(`^verify run ${id} \\(backup-verify/main/20990101T000000Z\\) running: 3 / 5 generation\\(s\\) done, 1 with a problem so far, 1 restored into a scratch schema and compared\n`),
  );
  expect(st.stdout).toMatch(/^ {2}RV1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d corrupt: truncated$/m);
  const json = JSON.parse((await cli(['backup', 'verify', 'status', id, '--json'])).stdout);
  expect(json).toMatchObject({ run: { id, state: 'running' }, progress: { done: 3, total: 5, ok: 2, problems: 1, restored: 1, phase: null }, problems: [{ code: 'RV1', status: 'corrupt' }] });

  // terminated by hand: no longer "running" for ever (as `backup status` closes an abandoned batch); what it read stays
  await handle.terminate('test');
  const closed = await cli(['backup', 'verify', 'status', id]);
  expect(closed.code).toBe(0);
  expect(closed.stderr).toBe(`nightshift: closed verify run ${id} (${workflowId}): its workflow is terminated\n`);
  expect(closed.stdout).toMatch(
    new RegExp(`^verify run ${id} \\(${workflowId}\\) failed \\(abandoned: its workflow is terminated\\): 2 / 3 generation\\(s\\) ok, 1 with a problem, 1 restored into a scratch schema and compared, 2 of 5 selected not verified\n`),
  );
  expect(closed.stdout).toMatch(/, finished \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(/);
  expect(closed.stdout).toMatch(/^ {2}RV1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d corrupt: truncated$/m);
  const again = await cli(['backup', 'verify', 'status', id, '--json']);
  expect(again.stderr).toBe('');
  expect(JSON.parse(again.stdout)).toMatchObject({ run: { id, state: 'failed', note: 'abandoned: its workflow is terminated', total: 3, ok: 2, problems: 1, restored: 1 } });
  expect(JSON.parse(again.stdout).progress).toBeUndefined();
});

test('R-BK-13, R-OP-1: a verification that cannot read the store (backup folder unmounted: an empty folder in its place) is a failed run with why: --wait, status text and JSON, the Web UI details, the report and the mail say it; never "nothing to verify"', async () => {
  const pool = ctx.stack.pools.get('main');
  await createDossiers(ctx.stack, [{ code: 'U1' }, { code: 'U2' }]);
  const backup = createBackupActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  for (const code of ['U1', 'U2']) await backup.backupDossier({ target: 'main', code, reason: 'manual' });
  const folder = ctx.stack.config.backupDir;
  expect(await claimSharedFolder(pool, 'backups', folder)).toMatchObject({ state: 'ok' });
  await setCommon(pool, 'report-recipients', ['ops@example.com']);
  const smtpPort = await freePort();
  const smtp = await startSmtp(smtpPort);
  const mail = createMailTransport({ ...ctx.stack.config, smtp: { ...ctx.stack.config.smtp, port: smtpPort } });
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection, { activities: createActivities({ config: ctx.stack.config, pools: ctx.stack.pools, mail }) });
  const away = `${folder}.off`;
  fs.renameSync(folder, away);
  fs.mkdirSync(folder);
  try {
    await worker.runUntil(async () => {
      const run = await cli(['backup', 'verify', '--codes', 'U1,U2', '--wait']);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^nightshift: DestinationUnavailable: .*is not the shared store of target main/);
      const id = /^verify run (\d+) failed \('nightshift backup verify status \d+'\): 0 \/ 0 generation\(s\) ok/m.exec(run.stdout)?.[1];
      expect(id).toBeDefined();
      const reason = /^stopped: (.*is not the shared store of target main.*)$/m.exec(run.stdout)?.[1];
      expect(reason).toBeDefined();
      expect(run.stdout).not.toContain('no kept generation in this scope');
      expect(run.stdout).toContain('next: nightshift backup verify --codes U1,U2 --target main\n  the verification stopped before reading every generation');

      const st = await cli(['backup', 'verify', 'status', id!]);
      expect(st).toMatchObject({ code: 0, stderr: '' });
      expect(st.stdout.split('\n')[0]).toBe(`verify run ${id} (${/^started (\S+)$/m.exec(run.stdout)![1]}) failed (${reason}): 0 / 0 generation(s) ok, 0 with a problem, 0 restored into a scratch schema and compared, 2 of 2 selected not verified`);
      await waitFor('the mail sent', async () => ((await pool.query('SELECT mail_state FROM nightshift.verify_run WHERE id = $1', [id])).rows[0].mail_state === 'sent' ? true : undefined));
      const json = JSON.parse((await cli(['backup', 'verify', 'status', id!, '--json'])).stdout);
      expect(json.run).toMatchObject({ id, state: 'failed', note: reason, selected: 2, total: 0, mail_state: 'sent' });

      // R-OP-1: the Web UI says why, as the CLI does
      const handle = ctx.temporal.client.workflow.getHandle(json.run.workflow_id);
      const details = (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
      expect(details).toContain('phase **failed**');
      // (markdown: the details escape `_`)
      expect(details).toContain(`Stopped: ${reason!.replace(/_/g, '\\_')}`);
      expect(details).toContain('`nightshift backup verify --codes U1,U2 --target main`');
      expect(details).not.toContain('no kept generation in this scope');

      // the report (where the batch writes its own: the folder there now) says why, counting what was selected
      const reportPath = /^report: (.*)$/m.exec(run.stdout)![1]!;
      const report = fs.readFileSync(reportPath, 'utf8');
      expect(report).toBe(
        [`Vérification interrompue : ${reason}`, '2 / 2 sauvegarde(s) non vérifiée(s)', '0 / 2 sauvegarde(s) vérifiée(s)', '0 / 2 sauvegarde(s) en erreur(s)', '0 sauvegarde(s) restaurée(s) dans un schéma temporaire et comparée(s)', ''].join('\r\n'),
      );

      // mailed as a failed batch is: why, what to do, the report and the dossiers not verified
      const m = await waitFor('the verify mail', () => smtp.received.find((x) => x.subject.includes('vérification')));
      expect(m.to).toEqual(['ops@example.com']);
      expect(m.text).toContain("La vérification des sauvegardes s'est arrêtée avant d'avoir tout vérifié");
      expect(m.text).toContain(reason!);
      expect(m.text).toContain('  nightshift backup verify --codes U1,U2 --target main');
      expect(m.attachments[path.basename(reportPath)]?.toString('utf8')).toBe(report);
      expect(m.attachments['Svgverif-DossiersEnErreur.isa']?.toString('utf8')).toBe('U1\r\nU2\r\n');
    });
  } finally {
    mail.close();
    await smtp.close();
    fs.rmSync(folder, { recursive: true, force: true });
    fs.renameSync(away, folder);
  }
});

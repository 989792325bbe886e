import crypto from 'node:crypto';
import fs from 'node:fs';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { batchPruneWorkflowId } from '../../workflows/backup-prune.api';
import { damageInPlace } from '../helpers/damage';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { agedBackups, createDossiers } from '../workflows/backup-batch-helpers';

/**
 * R-BK-11, R-OP-1 (drill R2, session 36): the prune a batch starts at its end failed (`BackupPrunePartial … not removed …
 * EISDIR`) while `backup run --wait` said "completed", `backup status` said nothing of it and `backup info` had no "last
 * prune" line: only the Web UI's list showed it. Now the CLI says it, as processes on real servers.
 */

const ctx = useCliStack(90_000);
const cli = ctx.cli;
const pool = () => ctx.stack.pools.get('main');
const PARIS = { TZ: 'Europe/Paris', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' };
const LAST_ONE = { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } };
const TIME = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const aged = (code: string, daysAgo: number[]): Promise<number[]> => agedBackups(ctx.stack, code, daysAgo);

test('R-BK-11, R-OP-1 (drill R2, session 36): an after-batch prune that fails (EISDIR) is said by backup run --wait, backup status (last run, RUN, --run N, --json) and backup info\'s last prune line; a prune by hand that completes is then the last prune', async () => {
  await createDossiers(ctx.stack, [{ code: 'PO1' }]);
  const ids = await aged('PO1', [3, 2]);
  await setRetentionSetting(pool(), LAST_ONE);
  // the tester's repro: the file of a generation the policy deletes replaced by a directory
  const older = (await dossierGenerations(pool(), 'PO1')).find((g) => g.id === ids[0])!;
  fs.rmSync(older.file);
  fs.mkdirSync(older.file);
  try {
    const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
    await worker.runUntil(async () => {
      const run = await cli(['backup', 'run', '--all', '--only', 'PO1', '--wait'], PARIS);
      // the batch completed: its exit code stays its own
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const runId = Number(/^backup run (\d+) completed: /m.exec(run.stdout)![1]);
      const pruneId = batchPruneWorkflowId(/^started (\S+)$/m.exec(run.stdout)![1]!);
      expect(pruneId).toMatch(/^backup-prune\/main\/\d{8}T\d{6}Z$/);
      // after the batch's lines: the prune, its failure as `backup prune --wait` prints it, and the command that prunes again
      expect(run.stdout).toMatch(new RegExp(`^backup run ${runId} completed: [^\\n]+\\n[\\s\\S]*\\nprune: ${esc(pruneId)} failed at ${TIME}: deleted \\d+ generation\\(s\\), [^\\n]+ freed; kept \\d+\\n`, 'm'));
      expect(run.stdout).toMatch(/\n {2}1 file\(s\) of the generation\(s\) deleted could not be removed \(/);
      expect(run.stdout).toMatch(/\n {2}\d+ \/ \d+ dossier\(s\), 1 failed: completed_with_errors\n {4}PO1: not removed: [^\n]*EISDIR[^\n]*\n/);
      expect(run.stdout).toMatch(/\n {2}the prune did not finish: once fixed, the next prune finishes what failed: nightshift backup prune --target main\n$/);

      // backup status of the last run, by its number, by --run: the same prune lines
      for (const args of [['backup', 'status'], ['backup', 'status', String(runId)], ['backup', 'status', '--run', String(runId)]]) {
        const s = await cli(args, PARIS);
        expect({ args, code: s.code }).toEqual({ args, code: 0 });
        expect(s.stdout).toMatch(new RegExp(`^backup run ${runId} \\(`));
        expect(s.stdout).toMatch(new RegExp(`\\nprune: ${esc(pruneId)} failed at ${TIME}: deleted \\d+ generation\\(s\\)`));
        expect(s.stdout).toMatch(/\n {4}PO1: not removed: [^\n]*EISDIR/);
        expect(s.stdout).toContain('\n  the prune did not finish: once fixed, the next prune finishes what failed: nightshift backup prune --target main\n');
      }
      expect((await cli(['backup', 'status', '1', '--run', '2'])).code).toBe(2);
      const statusJson = JSON.parse((await cli(['backup', 'status', '--json'])).stdout);
      expect(statusJson.prune).toMatchObject({
        workflowId: pruneId,
        status: 'failed',
        next: 'nightshift backup prune --target main',
        result: { state: 'completed_with_errors', failed: 1, filesLeft: 1, failures: [{ code: 'PO1', error: expect.stringMatching(/^not removed: .*EISDIR/) as string }] },
      });

      // --json carries it too; the directory is still there, so the next batch's prune fails the same way
      const again = await cli(['backup', 'run', '--all', '--only', 'PO1', '--wait', '--json']);
      expect(again.code).toBe(0);
      const j = JSON.parse(again.stdout);
      const againPrune = batchPruneWorkflowId(j.workflowId as string);
      expect(j.result).toMatchObject({ state: 'completed' });
      expect(j.prune).toMatchObject({ workflowId: againPrune, status: 'failed', next: 'nightshift backup prune --target main', result: { state: 'completed_with_errors', failures: [expect.objectContaining({ code: 'PO1' })] } });

      // backup info: a last prune line beside last batch and last verify, its failure and the next command on it
      const info = await cli(['backup', 'info'], PARIS);
      expect({ code: info.code, stderr: info.stderr }).toEqual({ code: 0, stderr: '' });
      expect(info.stdout).toMatch(
        new RegExp(
          `\\n {2}last prune {3}${esc(againPrune)} after backup run ${j.result.runId}, started ${TIME}, failed at ${TIME}: \\d+ / \\d+ dossier\\(s\\), 1 failed \\(PO1: not removed: [^\\n]*EISDIR[^\\n]*\\); deleted \\d+ generation\\(s\\), [^\\n]+ freed; next: nightshift backup prune --target main\\n`,
        ),
      );
      expect(info.stdout).toMatch(/\n {2}last batch {3}[^\n]+\n {2}last verify {2}[^\n]+\n {2}last prune {3}/);
      expect(JSON.parse((await cli(['backup', 'info', '--json'])).stdout).lastPrune).toMatchObject({ workflowId: againPrune, afterRun: j.result.runId, status: 'failed', result: { state: 'completed_with_errors' } });

      // fixed, pruned by hand: that prune is the last one (no batch of its own); the batch's own still says it failed
      fs.rmSync(older.file, { recursive: true });
      const manual = await cli(['backup', 'prune', '--wait', '--json']);
      expect(manual.code).toBe(0);
      const manualId = JSON.parse(manual.stdout).workflowId as string;
      const fixed = await cli(['backup', 'info'], PARIS);
      expect(fixed.stdout).toMatch(new RegExp(`\\n {2}last prune {3}${esc(manualId)}, started ${TIME}, completed at ${TIME}: deleted \\d+ generation\\(s\\), [^\\n]+ freed\\n`));
      expect((await cli(['backup', 'status', String(j.result.runId)], PARIS)).stdout).toMatch(new RegExp(`\\nprune: ${esc(againPrune)} failed at `));
    });
  } finally {
    fs.rmSync(older.file, { recursive: true, force: true });
    await setRetentionSetting(pool(), undefined);
  }
}, 240_000);

test('R-BK-11, R-OP-1 (drill R2, session 36): a prune still running when backup run --wait has its result: --wait points to backup status (it does not wait for ever), which says it running with its progress, then completed with what it deleted', async () => {
  await createDossiers(ctx.stack, [{ code: 'PO2' }, { code: 'PO3' }]);
  await aged('PO2', [3, 2]);
  await setRetentionSetting(pool(), LAST_ONE);
  // the prune locks a dossier's generations before it deletes one: held here, it waits at PO2 until the commit
  const holder = await pool().connect();
  let held = true;
  await holder.query('BEGIN');
  await holder.query(`SELECT id FROM nightshift.backup_generation WHERE code = 'PO2' AND deleted_at IS NULL FOR UPDATE`);
  try {
    const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
    await worker.runUntil(async () => {
      const run = await cli(['backup', 'run', '--only', 'PO3', '--wait'], PARIS);
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
      const runId = Number(/^backup run (\d+) completed: /m.exec(run.stdout)![1]);
      const pruneId = batchPruneWorkflowId(/^started (\S+)$/m.exec(run.stdout)![1]!);
      expect(run.stdout).toMatch(new RegExp(`\\nprune: ${esc(pruneId)} running since ${TIME}[^\\n]*\\n {2}its outcome: 'nightshift backup status ${runId} --target main' \\(it goes on without this command\\)\\n$`));

      const status = await cli(['backup', 'status', String(runId)], PARIS);
      expect(status.stdout).toMatch(new RegExp(`\\nprune: ${esc(pruneId)} running since ${TIME}: \\d+ / \\d+ dossier\\(s\\), 0 failed, 0 generation\\(s\\) deleted \\(pruning\\)\\n`));
      expect(JSON.parse((await cli(['backup', 'status', String(runId), '--json'])).stdout).prune).toMatchObject({ workflowId: pruneId, status: 'running', progress: { phase: 'pruning', failed: 0 } });
      expect((await cli(['backup', 'info'], PARIS)).stdout).toMatch(new RegExp(`\\n {2}last prune {3}${esc(pruneId)} after backup run ${runId}, started ${TIME}, running: \\d+ / \\d+ dossier\\(s\\)`));

      await holder.query('COMMIT');
      held = false;
      await ctx.temporal.client.workflow.getHandle(pruneId).result();
      const done = await cli(['backup', 'status', String(runId)], PARIS);
      expect(done.stdout).toMatch(new RegExp(`\\nprune: ${esc(pruneId)} completed at ${TIME}: deleted [1-9]\\d* generation\\(s\\), [^\\n]+ freed; kept \\d+\\n {2}\\d+ / \\d+ dossier\\(s\\), 0 failed: completed\\n`));
      expect(JSON.parse((await cli(['backup', 'status', String(runId), '--json'])).stdout).prune).toMatchObject({ status: 'completed', result: { state: 'completed', failed: 0 } });
    });
  } finally {
    if (held) await holder.query('ROLLBACK');
    holder.release();
    await setRetentionSetting(pool(), undefined);
  }
}, 240_000);

test('R-BK-11, R-OP-1 (drill R2, session 36): Temporal not reached: backup status says so on its prune line and backup info on its last prune line, both exit 0 with the database\'s figures; a run that started no prune says why', async () => {
  const workflowId = `backup/main/${crypto.randomUUID()}`;
  const { rows } = await pool().query<{ id: string }>(
    `INSERT INTO nightshift.backup_run (workflow_id, kind, settings, state, finished_at) VALUES ($1, 'run', $2, 'completed', now()) RETURNING id`,
    [workflowId, { generationsRoot: `${ctx.stack.dataDir}/sauve` }],
  );
  const away = { ...PARIS, TEMPORAL_ADDRESS: '127.0.0.1:1' };
  const status = await cli(['backup', 'status', rows[0]!.id], away);
  expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
  expect(status.stdout).toMatch(
    new RegExp(`\\nprune: ${esc(batchPruneWorkflowId(workflowId))}: \\(Temporal not reached: cannot connect to Temporal at 127\\.0\\.0\\.1:1[^\\n]*\\); a prune's outcome is kept in Temporal only\\n`),
  );
  expect(JSON.parse((await cli(['backup', 'status', rows[0]!.id, '--json'], away)).stdout).prune).toMatchObject({ status: 'unknown', error: expect.stringContaining('cannot connect to Temporal') });

  const info = await cli(['backup', 'info'], away);
  expect({ code: info.code, stderr: info.stderr }).toEqual({ code: 0, stderr: '' });
  expect(info.stdout).toContain(`  last batch   run ${rows[0]!.id}, started `);
  expect(info.stdout).toMatch(/\n {2}last prune {3}\(Temporal not reached: cannot connect to Temporal at 127\.0\.0\.1:1[^\n]*\); a prune's outcome is kept in Temporal only\n/);
  expect(JSON.parse((await cli(['backup', 'info', '--json'], away)).stdout).lastPrune).toMatchObject({ workflowId: null, status: 'unknown' });

  // a run claimed before generations were kept started none: said, Temporal not asked
  const { rows: old } = await pool().query<{ id: string }>(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings, state) VALUES ($1, 'run', '{}', 'completed') RETURNING id`, [
    `backup/main/${crypto.randomUUID()}`,
  ]);
  expect((await cli(['backup', 'status', old[0]!.id], away)).stdout).toContain('\nprune: none: this run started no prune (it was claimed before generations were kept)\n');
});

test('R-BK-11 (drill R2, session 36): backup prune --dry-run typed in another time zone than the workers\' warns with their zone (their last prune\'s), not in theirs', async () => {
  const workerZone = ctx.stack.config.timeZone;
  const other = workerZone === 'Europe/Paris' ? 'UTC' : 'Europe/Paris';
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect((await cli(['backup', 'prune', '--wait'])).code).toBe(0);
  });
  const elsewhere = await cli(['backup', 'prune', '--dry-run'], { TZ: other, NIGHTSHIFT_TIMEZONE: other });
  expect(elsewhere.code).toBe(0);
  expect(elsewhere.stdout).toMatch(
    new RegExp(`^warning: the workers' last prune \\(backup-prune/main/[^)]+\\) counted its periods in ${esc(workerZone)}, this host in ${esc(other)}: give NIGHTSHIFT_TIMEZONE=${esc(workerZone)} to list what they will delete$`, 'm'),
  );
  const same = await cli(['backup', 'prune', '--dry-run'], { TZ: workerZone, NIGHTSHIFT_TIMEZONE: workerZone });
  expect(same.stdout).not.toContain("the workers' last prune");
});

test('R-BK-11 (drill R, session 39): a prune that keeps a generation the policy deletes, in place of a newer one it finds corrupt, says so in backup prune --wait and backup info (the dry run said 2, the prune deleted 1, and only a worker log said why)', async () => {
  await createDossiers(ctx.stack, [{ code: 'PO9' }]);
  const ids = await aged('PO9', [3, 2]);
  await setRetentionSetting(pool(), LAST_ONE);
  const newest = (await dossierGenerations(pool(), 'PO9')).find((g) => g.id === ids[1])!;
  damageInPlace(newest.file);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'prune', '--wait'], PARIS);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      '\nkept 1 generation(s) the retention policy deletes in place of newer ones of their kind that do not read back (found corrupt or missing by this prune, recorded: ' +
        'the next batch backs up a normal one again, an EchangePrest or Cloture one needs its own backup)\n',
    );
    expect(r.stdout).toMatch(new RegExp(`\\n {2}PO9: generation ${ids[0]} \\(normal\\) of ${TIME}: kept: the kept normal generation\\(s\\) ${ids[1]} do not read back \\(recorded corrupt or missing\\): it is the only one that does\\n`));
    expect(r.stdout).not.toContain('a check before deleting could not be made');
    const info = await cli(['backup', 'info'], PARIS);
    expect(info.stdout).toMatch(/\n {2}last prune {3}backup-prune\/main\/[^\n]*completed at [^\n]*: deleted \d+ generation\(s\), [^\n]* freed; kept 1 generation\(s\) the retention policy deletes in place of newer ones/);
    // the headline alone: no "and N more" of generations it does not list (drill F, session 39)
    expect(info.stdout).not.toMatch(/last prune[^\n]*and \d+ more/);
  });
  const after = await dossierGenerations(pool(), 'PO9');
  expect(after.find((g) => g.id === ids[0])).toMatchObject({ deletedAt: null });
  expect(after.find((g) => g.id === ids[1])).toMatchObject({ verifyState: 'corrupt' });
});

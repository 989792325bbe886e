import fs from 'node:fs';
import { ScheduleNotFoundError } from '@temporalio/client';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { createDossiers } from '../workflows/backup-batch-helpers';

/**
 * `nightshift backup verify --subset N/T | --rotate T` and `backup verify schedule set --rotate T` as processes against
 * the real servers (R-BK-13 at scale: one part of every kept generation per run, as restic's `check --read-data-subset`).
 */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

test('hostile input of parts: a bad --subset or --rotate, both, or with --codes / --run exit 2 and start nothing', async () => {
  const results = await Promise.all([
    cli(['backup', 'verify', '--subset', '0/3']),
    cli(['backup', 'verify', '--subset', '4/3']),
    cli(['backup', 'verify', '--subset', '1/1']),
    cli(['backup', 'verify', '--subset', '3']),
    cli(['backup', 'verify', '--rotate', '1']),
    cli(['backup', 'verify', '--rotate', '1001']),
    cli(['backup', 'verify', '--rotate', '1e2']),
    cli(['backup', 'verify', '--subset', '1/3', '--rotate', '3']),
    cli(['backup', 'verify', '--rotate', '3', '--codes', 'A1']),
    cli(['backup', 'verify', '--subset', '1/3', '--run', '1']),
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * *', '--rotate', 'x']),
    // an explicit part on a schedule would read the same part every night: a run's option only
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * *', '--subset', '1/3']),
    cli(['backup', 'verify', '--rotate', '7', 'status']),
    // a flag and its negation (drill E: the last one given was kept, silently)
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 3 * * *', '--no-full', '--full']),
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 3 * * *', '--full', '--no-full']),
    cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 3 * * *', '--rotate', '7', '--no-rotate']),
  ]);
  for (const r of results) {
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nightshift: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  for (const i of [0, 1, 2, 3]) expect(results[i]!.stderr).toContain('--subset: expected N/T, part N of T parts (T from 2 to 1000, N from 1 to T), such as 3/7');
  for (const i of [4, 5, 6, 10]) expect(results[i]!.stderr).toContain('--rotate: expected a number of parts from 2 to 1000, such as 7');
  expect(results[7]!.stderr).toContain('give either --subset N/T (that part) or --rotate T (the next part in turn), not both');
  expect(results[8]!.stderr).toContain('--rotate reads a part of every kept generation: give it without --codes');
  expect(results[9]!.stderr).toContain('--subset reads a part of every kept generation: give it without --run');
  expect(results[11]!.stderr).toContain("--subset is an option of 'nightshift backup verify', not of 'backup verify schedule set'");
  expect(results[12]!.stderr).toContain("--rotate is an option of 'nightshift backup verify', not of 'backup verify status'");
  for (const i of [13, 14]) expect(results[i]!.stderr).toBe('nightshift: give either --full or --no-full, not both\n');
  expect(results[15]!.stderr).toBe('nightshift: give either --rotate or --no-rotate, not both\n');
  const { rows } = await ctx.stack.pools.get('main').query('SELECT count(*)::int AS n FROM nightshift.verify_run');
  expect(rows[0].n).toBe(0);
  expect(await ctx.temporal.client.schedule.getHandle('backup-verify-schedule/main').describe().catch((e: unknown) => e)).toBeInstanceOf(ScheduleNotFoundError);
});

test('R-BK-13 backup verify --rotate 3 (restic check --read-data-subset): three runs read three parts that cover every kept generation once; the fourth reads the first again; a part ended early is read again; --subset reads its part and leaves the rotation', async () => {
  await createDossiers(ctx.stack, ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7'].map((code) => ({ code })));
  const pool = ctx.stack.pools.get('main');
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect((await cli(['backup', 'run', '--wait'])).code).toBe(0);
    const kept = (await pool.query<{ id: string }>('SELECT id FROM nightshift.backup_generation WHERE deleted_at IS NULL ORDER BY id')).rows.map((r) => Number(r.id));
    expect(kept).toHaveLength(7);
    const read = async (runId: number) =>
      (await pool.query<{ generation_id: string }>('SELECT generation_id FROM nightshift.verify_run_item WHERE run_id = $1 ORDER BY generation_id', [runId])).rows.map((r) => Number(r.generation_id));
    const rotate = async () => {
      const r = await cli(['backup', 'verify', '--rotate', '3', '--wait', '--json']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      return JSON.parse(r.stdout) as { workflowId: string; result: { runId: number; total: number; part: { part: number; of: number; rotating: boolean } } };
    };

    const seen: number[] = [];
    for (const part of [1, 2, 3]) {
      const v = await rotate();
      expect(v.result.part).toEqual({ part, of: 3, rotating: true });
      const ids = await read(v.result.runId);
      expect(ids).toEqual(kept.filter((id) => id % 3 === part - 1));
      expect(v.result.total).toBe(ids.length);
      seen.push(...ids);
    }
    // every kept generation read once in three runs
    expect(seen.sort((a, b) => a - b)).toEqual(kept);

    // the fourth starts over; in text, the status and the report (before its summary) say which part
    const fourth = await cli(['backup', 'verify', '--rotate', '3', '--wait']);
    expect(fourth.code).toBe(0);
    expect(fourth.stdout).toMatch(/^read part 1 of 3 of every kept generation \(--rotate 3: each run reads the next part, all 3 read every 3 runs\)$/m);
    const id4 = /^verify run (\d+) completed/m.exec(fourth.stdout)![1]!;
    expect(await read(Number(id4))).toEqual(kept.filter((id) => id % 3 === 0));
    const st = await cli(['backup', 'verify', 'status', id4]);
    expect(st.stdout).toMatch(/^ {2}part 1 of 3 of every kept generation \(--rotate 3: .*\); a 5 % sample restored \(at least one; seed \d+\)$/m);
    const report = fs.readFileSync(/^report: (.+)$/m.exec(fourth.stdout)![1]!, 'utf8').split('\r\n');
    expect(report.slice(-5, -1)).toEqual([
      'Vérification partielle : partie 1 sur 3 des sauvegardes conservées (rotation : chaque vérification lit la partie suivante)',
      expect.stringMatching(/^\d+ \/ \d+ sauvegarde\(s\) vérifiée\(s\)$/),
      expect.stringMatching(/^0 \/ \d+ sauvegarde\(s\) en erreur\(s\)$/),
      expect.stringMatching(/^\d+ sauvegarde\(s\) restaurée\(s\) dans un schéma temporaire et comparée\(s\)$/),
    ]);
    // R-OP-1: the Web UI's details say it too
    const handle = ctx.temporal.client.workflow.getHandle((await pool.query<{ workflow_id: string }>('SELECT workflow_id FROM nightshift.verify_run WHERE id = $1', [id4])).rows[0]!.workflow_id);
    expect((await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails).toContain('Reads part 1 of 3 of every kept generation (--rotate 3');

    // a part not read through (its run ended early: failed) is read again by the next
    await pool.query(`UPDATE nightshift.verify_run SET state = 'failed' WHERE id = $1`, [id4]);
    expect((await rotate()).result.part.part).toBe(1);

    // an explicit part: that one, and the rotation goes on after the last rotating run (part 1: the next is 2)
    const explicit = await cli(['backup', 'verify', '--subset', '3/3', '--wait', '--json']);
    expect(explicit.code).toBe(0);
    const ex = JSON.parse(explicit.stdout) as { result: { runId: number; part: unknown } };
    expect(ex.result.part).toEqual({ part: 3, of: 3, rotating: false });
    expect(await read(ex.result.runId)).toEqual(kept.filter((id) => id % 3 === 2));
    expect((await rotate()).result.part.part).toBe(2);
    // another number of parts rotates on its own, from its first
    const five = await cli(['backup', 'verify', '--rotate', '5', '--wait', '--json']);
    expect(JSON.parse(five.stdout).result.part).toEqual({ part: 1, of: 5, rotating: true });
  });

  // the schedule's --rotate: each scheduled run claims the next part
  const set = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * *', '--timezone', 'UTC', '--rotate', '7']);
  expect(set).toMatchObject({ code: 0, stderr: '' });
  expect(set.stdout).toContain('created schedule backup-verify-schedule/main: "0 6 * * *" (UTC), the next of 7 parts of every kept generation in turn (--rotate 7: all read every 7 runs), a sample restored');
  const schedule = ctx.temporal.client.schedule.getHandle('backup-verify-schedule/main');
  expect((await schedule.describe()).action).toMatchObject({ args: [{ target: 'main', trigger: 'schedule', subset: { of: 7 } }] });
  const shown = await cli(['backup', 'verify', 'schedule', 'show']);
  expect(shown.stdout).toMatch(/^each run reads the next of 7 parts of every kept generation in turn \(--rotate 7: all read every 7 runs\) and restores a sample \(5 %, at least one per run\) into a scratch schema/m);
  await schedule.delete();
});

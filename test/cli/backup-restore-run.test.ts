import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { demoDossiers } from '../workflows/patch-helpers';
import { generateDemoDossiers } from '../../registry/demo';
import { backUp, contentsOf, lose, startRestore, writeTo } from '../workflows/backup-restore-run-helpers';

/** `nightshift backup restore --all|--codes|--run|--retry` spawned as processes against the real servers (R-BK-11, R-OP-1). */

jest.setTimeout(300_000);
const ctx = useCliStack(120_000);

const DAY1 = '2026-12-01T10:00:00Z';
const DAY3 = '2026-12-03T10:00:00Z';
const UTC = { TZ: 'UTC', NIGHTSHIFT_TIMEZONE: 'UTC' };

test('R-BK-11 R-OP-1: backup restore --all/--codes refuses bad usage (exit 2) and a run beside another (exit 1, nothing started); --dry-run says what it would restore, keep and cannot; --wait prints the summary and the retry (exit 1 when a dossier failed); --run ID reads the ledger; --retry ID restores what was fixed', async () => {
  const { stack } = ctx;
  const cli = (args: string[]) => ctx.cli(args, UTC);
  const pool = stack.pools.get('main');
  const codes = await demoDossiers(stack, 5);
  const before = await contentsOf(pool, codes);
  const ids = await backUp(stack, codes, DAY1);
  await pool.query('UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1', [ids.DEMO0005, DAY3]);
  await lose(pool, ['DEMO0001', 'DEMO0002', 'DEMO0003', 'DEMO0005']);

  // bad usage: exit 2, nothing started
  for (const [args, message] of [
    [['--all'], 'nightshift: --all needs --at DATE: each dossier\'s generation taken at or just before DATE is restored\n'],
    [['--all', '--codes', 'DEMO0001', '--at', '2026-12-02'], 'nightshift: --all and --codes: give one of them\n'],
    [['DEMO0001', '--all', '--at', '2026-12-02'], 'nightshift: --all restores dossiers of the generations catalog: give no FILE or CODE (DEMO0001)\n'],
    [['--dry-run'], 'nightshift: --dry-run goes with --all or --codes (a restore run)\n'],
    [['--run', '999'], 'nightshift: no restore run 999 on main\n'],
    [['--retry', '999'], 'nightshift: no restore run 999 on main; nothing started\n'],
    [['--retry', '1', '--at', '2026-12-02'], /--retry restores the failed dossiers of run 1 as that run was asked .*: --at does not go with it/],
    [['--run', 'abc'], /--run.*a run id is a positive whole number/],
    // a typo: neither a dossier nor a backup of one in the catalog (a lost dossier is in the catalog only)
    [['--codes', 'DEMO0001,NOPE0009', '--at', '2026-12-02'], "nightshift: --codes: no dossier and no backup of NOPE0009 on target main; nothing started (see 'nightshift dossiers list' and 'nightshift backup list CODE')\n"],
    [['--codes', 'NOPE0009', '--at', '2026-12-02', '--dry-run'], /^nightshift: --codes: no dossier and no backup of NOPE0009 on target main; nothing started/],
    // codes are case-sensitive: the one meant is named
    [['--codes', 'demo0004', '--at', '2026-12-02', '--dry-run'], /^nightshift: --codes: no dossier and no backup of demo0004 \(codes are case-sensitive: DEMO0004\?\) on target main/],
    // a blank entry is a slip, not nothing
    [['--codes', 'DEMO0001,,DEMO0002', '--at', '2026-12-02'], 'nightshift: --codes: expected dossier codes separated by commas, got an empty entry between two commas or at an end\n'],
  ] as const) {
    const r = await cli(['backup', 'restore', ...args]);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    if (typeof message === 'string') expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
  }

  // --dry-run: nothing started, no worker needed
  const dry = await cli(['backup', 'restore', '--all', '--at', '2026-12-02', '--dry-run']);
  expect(dry.stderr).toBe('');
  expect(dry.code).toBe(0);
  expect(dry.stdout).toBe(
    'backup restore of every dossier of the generations catalog on main as at 2026-12-02 23:59:59 (UTC) (--dry-run: nothing started):\n' +
      '  would restore 3 dossier(s): DEMO0001 DEMO0002 DEMO0003\n' +
      '  would keep 1 dossier(s) already there (--replace restores over them): DEMO0004\n' +
      '  cannot restore 0 dossier(s)\n' +
      'started now, the run would not be refused; each dossier is still checked as it is restored (one in use fails, R-BK-3), and a dry run asks no off-site storage\n',
  );
  const dryCodes = JSON.parse((await cli(['backup', 'restore', '--codes', 'DEMO0001,DEMO0005', '--at', '2026-12-02', '--dry-run', '--json'])).stdout);
  expect(dryCodes).toMatchObject({ total: 2, restore: { count: 1, codes: ['DEMO0001'] }, kept: { count: 0 }, failing: { count: 1, dossiers: [{ code: 'DEMO0005', why: 'no kept generation at or before 2026-12-02 23:59:59 (UTC)' }] } });
  // a dossier there with no generation at or before the date: the run would fail it, so --replace would not put it back
  // (drill of 2026-12-06: the dry run listed it under both, and the run asked --yes for it)
  const noneBefore = JSON.parse((await cli(['backup', 'restore', '--codes', 'DEMO0004', '--replace', '--at', '2020-01-01', '--dry-run', '--json'])).stdout);
  expect(noneBefore).toMatchObject({ restore: { count: 0 }, kept: { count: 0 }, failing: { count: 1, dossiers: [{ code: 'DEMO0004' }] }, asksYes: [] });
  expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.restore_run')).rows[0].n).toBe(0);

  // another restore run going (its workflow RUNNING, no worker yet): refused before anything starts, exit 1
  const other = await startRestore(ctx.temporal.client, stack, { all: true, at: '2026-12-02T00:00:00Z', replace: false, from: 'auto' });
  await pool.query(`INSERT INTO nightshift.restore_run (workflow_id, restore_at) VALUES ($1, now())`, [other.workflowId]);
  const beside = await cli(['backup', 'restore', '--all', '--at', '2026-12-02']);
  expect(beside.code).toBe(1);
  expect(beside.stderr).toBe(`nightshift: RestorePrerequisiteFailed: restore refused on main, nothing started:\n  no other restore run: restore run ${other.workflowId} is running on main\n`);
  const dryBeside = await cli(['backup', 'restore', '--all', '--at', '2026-12-02', '--dry-run']);
  expect(dryBeside.stdout).toContain(`started now, it would be refused:\n  no other restore run: restore run ${other.workflowId} is running on main\n`);
  // its workflow ended (terminated): its row is closed as abandoned by the next start, which goes on
  await other.terminate('test');
  expect((await pool.query(`SELECT 1 FROM nightshift.restore_run_item`)).rowCount).toBe(0);

  const worker = await createTestWorker(stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const waited = await cli(['backup', 'restore', '--codes', 'DEMO0001,DEMO0002,DEMO0003,DEMO0004,DEMO0005', '--at', '2026-12-02', '--wait']);
    expect(waited.stderr).toBe('');
    expect(waited.code).toBe(1);
    const runId = Number(/\(restore run (\d+)\): partial/.exec(waited.stdout)?.[1]);
    expect(runId).toBeGreaterThan(0);
    expect(waited.stdout).toMatch(/^started backup-restore-run\/main\/\d{8}T\d{6}Z: restore DEMO0001 DEMO0002 DEMO0003 DEMO0004 DEMO0005 of main as at 2026-12-02 23:59:59 \(UTC\)\nfollow it in the Temporal Web UI: /);
    // R-OP-1: the Web UI's summary gives the instant as the command did (drill S, session 39: 2026-12-02T23:59:59.999Z)
    const workflowId = /^started (\S+):/.exec(waited.stdout)![1]!;
    expect(await (await ctx.temporal.client.workflow.getHandle(workflowId).describe()).staticSummary()).toBe(
      'Restore DEMO0001 DEMO0002 DEMO0003 DEMO0004 DEMO0005 of target main as at 2026-12-02 23:59:59 (UTC)',
    );
    expect(waited.stdout).toContain(
      `backup restore on main (restore run ${runId}): partial\n` +
        'scope: DEMO0001 DEMO0002 DEMO0003 DEMO0004 DEMO0005\n' +
        '3 / 5 dossier(s) restored, 1 kept (already there), 1 failed\n' +
        'restored: DEMO0001 DEMO0002 DEMO0003\n' +
        'kept (already there, not replaced without --replace): DEMO0004\n' +
        "  DEMO0005: no kept generation of dossier DEMO0005 at or before 2026-12-02 23:59:59 (UTC); see 'nightshift backup list DEMO0005'\n" +
        `fix them, then: nightshift backup restore --retry ${runId} --target main --wait\n`,
    );
    expect(await contentsOf(pool, ['DEMO0001', 'DEMO0002', 'DEMO0003'])).toEqual({ DEMO0001: before.DEMO0001, DEMO0002: before.DEMO0002, DEMO0003: before.DEMO0003 });
    // the abandoned run was closed as such
    expect((await pool.query(`SELECT state, error FROM nightshift.restore_run WHERE workflow_id = $1`, [other.workflowId])).rows[0]).toEqual({ state: 'failed', error: 'abandoned: its workflow is terminated' });

    // --run: the same state, read from the ledger
    const shown = await cli(['backup', 'restore', '--run', String(runId)]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^backup restore on main \\(restore run ${runId}\\): partial\\nas at 2026-12-02 23:59:59 \\(UTC\\), keeping dossiers there, read from each file, or its off-site copy when the file is not on the worker\\n`));
    expect(shown.stdout).toContain('3 / 5 dossier(s) restored, 1 kept (already there), 1 failed\n');
    expect(shown.stdout).toContain(`fix them, then: nightshift backup restore --retry ${runId} --target main --wait\n`);
    // by its workflow id too, the one the Web UI's details name (drill W, session 40: they said `--run ID`)
    expect(await cli(['backup', 'restore', '--run', workflowId])).toEqual(shown);
    const described = await ctx.temporal.client.workflow.getHandle(workflowId).describe();
    expect(await described.staticDetails()).toContain(`\`nightshift backup restore --run ${workflowId} --target main\``);
    expect(await cli(['backup', 'restore', '--run', 'backup-restore-run/main/20990101T000000Z'])).toMatchObject({
      code: 2,
      stderr: 'nightshift: --run: no restore run of main has the workflow id backup-restore-run/main/20990101T000000Z\n',
    });

    // fixed: DEMO0005 has a generation at or before the date now; --retry restores it, as the run was asked
    await pool.query('UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1', [ids.DEMO0005, DAY1]);
    const retried = await cli(['backup', 'restore', '--retry', String(runId), '--wait']);
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`scope: the failed dossiers of restore run ${runId}\\n1 / 1 dossier\\(s\\) restored, 0 kept \\(already there\\), 0 failed\\nrestored: DEMO0005\\n`));
    expect(await contentsOf(pool, ['DEMO0005'])).toEqual({ DEMO0005: before.DEMO0005 });
    // drill D2: the same retry again takes nothing: the dossier the first retry restored is not restored over what was written since
    await writeTo(pool, 'DEMO0005', 'after the retry');
    const twice = await cli(['backup', 'restore', '--retry', String(runId), '--wait']);
    expect({ code: twice.code, stdout: twice.stdout }).toEqual({ code: 0, stdout: `restore run ${runId}: its 1 failed dossier(s) were restored or kept by later restore runs since: nothing to retry\n` });
    expect(await contentsOf(pool, ['DEMO0005'])).not.toEqual({ DEMO0005: before.DEMO0005 });
    const nothing = await cli(['backup', 'restore', '--retry', String(runId + 1)]);
    expect(nothing.stdout).toBe(`restore run ${runId + 1} has no failed dossier: nothing to retry\n`);

    // drill D2: what a run would undo is asked for (exit 2, nothing started) unless --yes: --replace over dossiers that are
    // there, the supervisor taken below dossiers the run leaves as they are (R-PI-4); its end says what to do next
    await pool.query(`UPDATE nightshift.dossier SET patch_level = 3 WHERE code = 'DEMO0002'`);
    const runsBefore = (await pool.query('SELECT count(*)::int AS n FROM nightshift.restore_run')).rows[0].n;
    const asked = await cli(['backup', 'restore', '--codes', 'DEMO0001', '--replace', '--at', '2026-12-02']);
    expect({ code: asked.code, stderr: asked.stderr }).toEqual({
      code: 2,
      stderr:
        'nightshift: --replace would put 1 dossier(s) that are there back as they were at 2026-12-02 23:59:59 (UTC), losing what was written there since: DEMO0001; ' +
        "the supervisor DEMO0001 would go back to patch level 0, below 1 dossier(s) the run leaves as they are (up to level 3: DEMO0002) (R-PI-4: bring it up inside a window after, 'nightshift patch integrate DIR'). " +
        'Add --yes to go ahead (--dry-run shows the whole run); nothing started\n',
    });
    expect((await pool.query('SELECT count(*)::int AS n FROM nightshift.restore_run')).rows[0].n).toBe(runsBefore);
    const dryAsked = await cli(['backup', 'restore', '--codes', 'DEMO0001', '--replace', '--at', '2026-12-02', '--dry-run']);
    expect(dryAsked.stdout).toContain('it would ask --yes for:\n  --replace would put 1 dossier(s) that are there back as they were at 2026-12-02 23:59:59 (UTC)');
    const yes = await cli(['backup', 'restore', '--codes', 'DEMO0001', '--replace', '--at', '2026-12-02', '--yes', '--wait']);
    expect({ code: yes.code, stderr: yes.stderr }).toEqual({ code: 0, stderr: '' });
    expect(yes.stdout).toContain(
      "note: the supervisor DEMO0001 was restored at patch level 0, below 1 dossier(s) (up to level 3: DEMO0002) (R-PI-4): bring it up first, inside a maintenance window ('nightshift patch integrate DIR')\n",
    );

    // a registered dossier never backed up whose schema is gone: a whole-catalog run cannot bring it back, and says so
    await generateDemoDossiers(pool, { target: 'main', count: 1, sizeKb: 2, prefix: 'NOBK' });
    await pool.query('DROP SCHEMA "d_NOBK0001" CASCADE');
    const dryAll = await cli(['backup', 'restore', '--all', '--at', '2026-12-02', '--dry-run']);
    expect(dryAll.stdout).toContain('  registered but not restorable (no schema, no backup at or before DATE: backed up only later, or never, R-BK-2) 1 dossier(s): NOBK0001\n');
    const all = await cli(['backup', 'restore', '--all', '--at', '2026-12-02', '--wait']);
    expect({ code: all.code, stderr: all.stderr }).toEqual({ code: 0, stderr: '' });
    expect(all.stdout).toContain('note: 1 registered dossier(s) still have no schema and no backup at or before the date: NOBK0001 (no backup of them at or before the date: backed up only later, in use at every batch, or never taken:');
  });
});

test('R-BK-11 R-BK-12 R-BK-13: the dry run reads the whole scope at once and still says, dossier by dossier, a corrupt newest generation passed over for an older one and a key this host does not give', async () => {
  const { stack } = ctx;
  const pool = stack.pools.get('main');
  await generateDemoDossiers(pool, { target: 'main', count: 3, sizeKb: 2, prefix: 'DRY' });
  const codes = ['DRY0001', 'DRY0002', 'DRY0003'];
  const older = await backUp(stack, codes, '2026-11-20T10:00:00Z');
  const newer = await backUp(stack, codes, '2026-11-21T10:00:00Z');
  await pool.query(`UPDATE nightshift.backup_generation SET verify_state = 'corrupt' WHERE id = $1`, [newer.DRY0001]);
  await pool.query(`UPDATE nightshift.backup_generation SET key_id = 'gone-2025' WHERE id = $1`, [newer.DRY0002]);
  await lose(pool, codes);

  const dry = await ctx.cli(['backup', 'restore', '--codes', 'DRY0001,DRY0002,DRY0003', '--at', '2026-11-22', '--dry-run'], UTC);
  expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
  expect(dry.stdout).toContain('  would restore 3 dossier(s): DRY0001 DRY0002 DRY0003\n  would keep 0 dossier(s) already there (--replace restores over them)\n  cannot restore 0 dossier(s)\n');
  expect(dry.stdout).toContain(
    '  would restore from an older generation than the newest at or before DATE (1):\n' +
      `    DRY0001: generation ${older.DRY0001} of 2026-11-20 10:00:00: the newer ${newer.DRY0001} is corrupt (backup verify), with no off-site copy\n`,
  );
  expect(dry.stdout).toContain(
    '  would restore with a key this host does not give: if the workers lack it too, the run fails them (1):\n' +
      `    DRY0002: its generation ${newer.DRY0002} is encrypted with key gone-2025, which this host does not give\n`,
  );
  // a date before the newer generations: each dossier's older one, nothing passed over
  const before = JSON.parse((await ctx.cli(['backup', 'restore', '--codes', 'DRY0001,DRY0002,DRY0003', '--at', '2026-11-20T12:00:00Z', '--dry-run', '--json'], UTC)).stdout);
  expect(before).toMatchObject({ total: 3, restore: { count: 3 }, olderGeneration: { count: 0 }, keyLacking: { count: 0 }, failing: { count: 0 } });
});

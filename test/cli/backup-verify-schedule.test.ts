import { ScheduleNotFoundError } from '@temporalio/client';
import { useCliStack } from '../helpers/cli';
import { freePort } from '../workflows/backup-batch-helpers';
import type { DoctorReport } from '../../cli/commands/doctor';

/**
 * The verification's Schedule as the batch's (drill V2, session 36): `pause` / `unpause` / `trigger` were unknown
 * commands, a `set` without --cron was refused though the README says a set keeps what it is not given, a `set` on a
 * paused schedule did not say it stays paused, and doctor said nothing of a target with no verification Schedule
 * (R-BK-13: "verified on a schedule"). The CLI spawned against the real Temporal dev server and PostgreSQL.
 */

const SCHEDULE = 'backup-verify-schedule/main';
const CREATE = "create it with 'nightshift backup verify schedule set --cron ...'";

// before the stack's own: after-all hooks run in the order they are declared, and this one needs its client
afterAll(noSchedule);
const ctx = useCliStack(90_000);
const cli = ctx.cli;

const handle = () => ctx.temporal.client.schedule.getHandle(SCHEDULE);

/** Another file's schedule of the dev server's target `main` would answer in place of none. */
async function noSchedule(): Promise<void> {
  await handle()
    .delete()
    .catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
}

beforeEach(noSchedule);

test('R-BK-13, drill V2, session 36: backup verify schedule pause / unpause / trigger as the batch Schedule has them; of none, one line, exit 2', async () => {
  for (const name of ['pause', 'unpause', 'trigger']) {
    const none = await cli(['backup', 'verify', 'schedule', name]);
    expect({ name, ...none }).toEqual({ name, code: 2, stdout: '', stderr: `nightshift: no schedule ${SCHEDULE}: ${CREATE}\n` });
  }
  await expect(handle().describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--timezone', 'Europe/Paris'])).code).toBe(0);
  const paused = await cli(['backup', 'verify', 'schedule', 'pause']);
  expect(paused).toEqual({ code: 0, stdout: `${SCHEDULE}: paused\n`, stderr: '' });
  expect((await handle().describe()).state).toMatchObject({ paused: true, note: 'paused with nightshift backup verify schedule pause' });
  const shown = await cli(['backup', 'verify', 'schedule', 'show']);
  expect(shown.stdout).toMatch(/^ {2}paused {10}yes \(paused with nightshift backup verify schedule pause\)$/m);
  expect(shown.stdout).toMatch(/^ {2}next runs {7}\(none while paused\)$/m);

  const resumed = await cli(['backup', 'verify', 'schedule', 'unpause', '--json']);
  expect(resumed.code).toBe(0);
  expect(JSON.parse(resumed.stdout)).toEqual({ scheduleId: SCHEDULE, done: 'resumed' });
  expect((await handle().describe()).state.paused).toBe(false);

  // a run's option is not the schedule's: refused, not dropped in silence
  const refused = await cli(['backup', 'verify', '--full', 'schedule', 'trigger']);
  expect(refused).toMatchObject({ code: 2, stdout: '' });
  expect(refused.stderr).toBe("nightshift: --full is an option of 'nightshift backup verify', not of 'backup verify schedule trigger'\n");

  const triggered = await cli(['backup', 'verify', 'schedule', 'trigger']);
  expect(triggered).toEqual({ code: 0, stdout: `${SCHEDULE}: triggered (skipped if a run is already running)\n`, stderr: '' });
  // the schedule's own run, on the stack's task queue (no worker polls it: ended here)
  let started: string | undefined;
  for (let i = 0; i < 50 && !started; i++) {
    started = (await handle().describe()).info.recentActions[0]?.action.workflow.workflowId;
    if (!started) await new Promise((r) => setTimeout(r, 200));
  }
  expect(started).toMatch(/^backup-verify\/main\/scheduled-/);
  const run = ctx.temporal.client.workflow.getHandle(started!);
  try {
    expect((await run.describe()).type).toBe('backupVerifyWorkflow');
  } finally {
    await run.terminate('test: the triggered verification is not run');
  }
});

test('R-BK-13, drill V2, session 36: set --timezone or --no-full alone keeps the schedule\'s cron and says so; with no schedule --cron is required, one line, exit 2, nothing created', async () => {
  for (const args of [['--timezone', 'Europe/London'], ['--no-full']]) {
    const refused = await cli(['backup', 'verify', 'schedule', 'set', ...args]);
    expect({ args, ...refused }).toEqual({
      args,
      code: 2,
      stdout: '',
      stderr: `nightshift: --cron is required: there is no schedule ${SCHEDULE} yet to keep one from (e.g. --cron "0 6 * * 0": Sundays at 06:00)\n`,
    });
  }
  await expect(handle().describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '30 5 * * *', '--timezone', 'Europe/Paris', '--full'])).code).toBe(0);
  const zone = await cli(['backup', 'verify', 'schedule', 'set', '--timezone', 'Europe/London']);
  expect(zone).toMatchObject({ code: 0, stderr: '' });
  expect(zone.stdout).toContain(`updated schedule ${SCHEDULE}: "30 5 * * *" (Europe/London), every generation restored, overlapping runs skipped\n`);
  expect(zone.stdout).toContain('kept from the schedule: --cron "30 5 * * *", --full (--no-full: a sample)');
  const d = await handle().describe();
  expect(d.spec.timezone).toBe('Europe/London');
  expect(d.action).toMatchObject({ args: [{ target: 'main', trigger: 'schedule', full: true }] });
  const shownZone = JSON.parse((await cli(['backup', 'verify', 'schedule', 'show', '--json'])).stdout) as { cron: string[]; timezone: string };
  expect(shownZone).toMatchObject({ cron: ['30 5 * * *'], timezone: 'Europe/London' });

  const sample = await cli(['backup', 'verify', 'schedule', 'set', '--no-full', '--json']);
  expect(sample).toMatchObject({ code: 0, stderr: '' });
  expect(JSON.parse(sample.stdout)).toMatchObject({ scheduleId: SCHEDULE, cron: '30 5 * * *', timezone: 'Europe/London', full: false, rotate: null, kept: ['--cron "30 5 * * *"'], created: false, paused: false });
  const sampled = (await handle().describe()).action;
  expect(sampled).toMatchObject({ args: [{ target: 'main', trigger: 'schedule' }] });
  expect((sampled.args?.[0] as { full?: boolean }).full).toBeFalsy();
  expect(JSON.parse((await cli(['backup', 'verify', 'schedule', 'show', '--json'])).stdout)).toMatchObject({ cron: ['30 5 * * *'], full: false });

  // given, --cron is the new time, as before (nothing said kept of it)
  const moved = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 4 * * *']);
  expect(moved.stdout).toContain(`updated schedule ${SCHEDULE}: "0 4 * * *" (Europe/London), a sample restored`);
  expect(moved.stdout).not.toContain('kept from');
});

test('R-BK-13, drill V2, session 36: set on a paused schedule says it stays paused and the command that resumes it; it stays paused', async () => {
  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--timezone', 'Europe/Paris'])).code).toBe(0);
  expect((await cli(['backup', 'verify', 'schedule', 'pause'])).code).toBe(0);
  const moved = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 7 * * 0']);
  expect(moved).toMatchObject({ code: 0, stderr: '' });
  expect(moved.stdout.split('\n')).toEqual([
    `updated schedule ${SCHEDULE}: "0 7 * * 0" (Europe/Paris), a sample restored, overlapping runs skipped`,
    "the schedule stays paused (paused with nightshift backup verify schedule pause): it starts no run until 'nightshift backup verify schedule unpause'",
    '',
  ]);
  expect((await handle().describe()).state.paused).toBe(true);
  // --target named: the command it names does too
  const json = await cli(['backup', 'verify', 'schedule', 'set', '--full', '--target', 'main', '--json']);
  expect(JSON.parse(json.stdout)).toMatchObject({ paused: true, full: true, kept: ['--cron "0 7 * * 0"'] });
  const text = await cli(['backup', 'verify', 'schedule', 'set', '--full', '--target', 'main']);
  expect(text.stdout).toContain("it starts no run until 'nightshift backup verify schedule unpause --target main'");
  expect((await handle().describe()).state.paused).toBe(true);

  expect((await cli(['backup', 'verify', 'schedule', 'unpause'])).code).toBe(0);
  const running = await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--json']);
  expect(JSON.parse(running.stdout)).toMatchObject({ paused: false });
  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0'])).stdout).not.toContain('paused');
});

test('R-BK-13, R-OP-1, drill V2, session 36: doctor warns (not FAIL) of a target with no verification Schedule, naming the command; ok once set, a warning while paused; Temporal unreachable: not checked', async () => {
  const doctor = async (env: Record<string, string> = {}) => {
    const r = await cli(['doctor', '--json', '--timeout', '2000'], env);
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as DoctorReport;
  };
  const none = await doctor();
  expect(none.services.verifySchedule).toEqual({
    main: {
      address: `schedule ${SCHEDULE}`,
      state: 'warning',
      message: 'target main has no verification Schedule: only the after-batch checks of new generations run, kept generations are never read again (R-BK-13)',
      fix: 'nightshift backup verify schedule set --cron "0 6 * * 0" (every Sunday at 06:00; --rotate 7 with "0 3 * * *" reads a seventh of them every night)',
    },
  });
  // the text too, among the other lines
  const text = await cli(['doctor', '--timeout', '2000']);
  expect(text.stdout).toMatch(/^\[WARN\] Verify schedule main +schedule backup-verify-schedule\/main$/m);
  expect(text.stdout).toContain('-> nightshift backup verify schedule set --cron "0 6 * * 0"');

  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--timezone', 'Europe/Paris', '--full'])).code).toBe(0);
  const set = await doctor();
  expect(set.services.verifySchedule.main).toMatchObject({
    state: 'ok',
    message: 'verifies the kept generations on a schedule (Europe/Paris): every generation restored',
    details: { scheduleId: SCHEDULE, paused: false },
  });

  expect((await cli(['backup', 'verify', 'schedule', 'pause'])).code).toBe(0);
  const paused = await doctor();
  expect(paused.services.verifySchedule.main).toMatchObject({
    state: 'warning',
    message: 'paused (paused with nightshift backup verify schedule pause): kept generations are not read again until it is unpaused, only the after-batch checks of new generations run (R-BK-13)',
    fix: 'nightshift backup verify schedule unpause',
  });

  // as the worker line: not checked when Temporal does not answer (the Temporal line is the FAIL)
  const away = await doctor({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
  expect(away.services.temporal.state).toBe('error');
  expect(away.services.verifySchedule.main).toEqual({
    address: `schedule ${SCHEDULE}`,
    state: 'warning',
    message: 'not checked: Temporal is not reachable',
    fix: away.services.worker.fix,
  });
});

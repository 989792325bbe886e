import { ScheduleNotFoundError } from '@temporalio/client';
import { useCliStack } from '../helpers/cli';

/**
 * `backup schedule show` and `backup verify schedule show` with no schedule (testers: exit 2, the usage-error code):
 * "no schedule" is the answer to what was asked, said on stdout with the command that makes one, exit 0 (as `backup
 * list CODE` with no generation, `maintenance status` with no window); `--json` says `exists` either way. Acting on a
 * schedule that is not there (pause, trigger, delete) stays refused, exit 2.
 */

const ctx = useCliStack(90_000);
const cli = ctx.cli;

/** Another file's schedule of the shared dev server's target `main` would answer in place of none. */
async function noSchedule(scheduleId: string): Promise<void> {
  await ctx.temporal.client.schedule
    .getHandle(scheduleId)
    .delete()
    .catch((err: unknown) => {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    });
}

beforeAll(async () => {
  await noSchedule('backup-schedule/main');
  await noSchedule('backup-verify-schedule/main');
});

test('R-BK-1: backup schedule show with no schedule says so on stdout, exit 0; --json exists: false; once set, exists: true', async () => {
  const none = await cli(['backup', 'schedule', 'show']);
  expect(none).toEqual({ code: 0, stdout: "no schedule backup-schedule/main: create it with 'nightshift backup schedule set --cron ...'\n", stderr: '' });
  const json = await cli(['backup', 'schedule', 'show', '--json']);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ scheduleId: 'backup-schedule/main', exists: false, create: 'nightshift backup schedule set --cron ...' });
  // acting on it is another matter: nothing to pause
  const pause = await cli(['backup', 'schedule', 'pause']);
  expect(pause).toMatchObject({ code: 2, stdout: '' });
  expect(pause.stderr).toBe("nightshift: no schedule backup-schedule/main: create it with 'nightshift backup schedule set --cron ...'\n");

  expect((await cli(['backup', 'schedule', 'set', '--cron', '0 21 * * *', '--timezone', 'Europe/Paris'])).code).toBe(0);
  try {
    const shown = await cli(['backup', 'schedule', 'show', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ exists: true, scheduleId: 'backup-schedule/main', cron: ['0 21 * * *'], timezone: 'Europe/Paris' });
    const text = await cli(['backup', 'schedule', 'show']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^schedule backup-schedule\/main\n {2}cron {12}0 21 \* \* \*\n/);
  } finally {
    expect((await cli(['backup', 'schedule', 'delete'])).code).toBe(0);
  }
  // gone again: the same answer as before it was set
  expect((await cli(['backup', 'schedule', 'show'])).code).toBe(0);
});

test('R-BK-13: backup verify schedule show with no schedule answers the same way; delete of none stays refused', async () => {
  const none = await cli(['backup', 'verify', 'schedule', 'show']);
  expect(none).toEqual({ code: 0, stdout: "no schedule backup-verify-schedule/main: create it with 'nightshift backup verify schedule set --cron ...'\n", stderr: '' });
  const json = await cli(['backup', 'verify', 'schedule', 'show', '--json']);
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toEqual({ scheduleId: 'backup-verify-schedule/main', exists: false, create: 'nightshift backup verify schedule set --cron ...' });
  const del = await cli(['backup', 'verify', 'schedule', 'delete']);
  expect(del).toMatchObject({ code: 2, stdout: '' });
  expect(del.stderr).toBe("nightshift: no schedule backup-verify-schedule/main: create it with 'nightshift backup verify schedule set --cron ...'\n");

  expect((await cli(['backup', 'verify', 'schedule', 'set', '--cron', '0 6 * * 0', '--timezone', 'Europe/Paris', '--full'])).code).toBe(0);
  try {
    const shown = await cli(['backup', 'verify', 'schedule', 'show', '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ exists: true, scheduleId: 'backup-verify-schedule/main', cron: ['0 6 * * 0'], full: true, rotate: null });
    const text = await cli(['backup', 'verify', 'schedule', 'show']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('each run restores every generation (--full) into a scratch schema and compares it');
  } finally {
    const deleted = await cli(['backup', 'verify', 'schedule', 'delete']);
    expect(deleted).toEqual({ code: 0, stdout: 'backup-verify-schedule/main: deleted\n', stderr: '' });
  }
  // a run's option given to show is still refused (the show's own checks come first)
  const refused = await cli(['backup', 'verify', '--seed', '7', 'schedule', 'show']);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain("--seed is an option of 'nightshift backup verify', not of 'backup verify schedule show'");
});

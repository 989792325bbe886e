import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { editInput, refuseEdit, registerMaintenanceCommands, scheduleInput } from '../../cli/commands/maintenance';
import { startBackupBatch, startMaintenanceWindow } from '../../starts';
import { eventually, insertSession, maintenanceStack, quietRuntime, requireEnv, windowCliEnv, windowRows, windowWorker, type MaintenanceStack } from '../workflows/maintenance-helpers';
import { runCli, type CliResult, inProcessCli } from '../helpers/cli';

/**
 * `nightshift maintenance …` as the operator runs it, on real servers. Hostile flags exit 2 and start
 * nothing (R-MW-1, R-MW-2, R-MW-3); the happy path schedules, shows, edits, cancels. The commands run
 * in-process (a CLI process takes seconds to start on this machine; cli/main.ts cannot be loaded in
 * Jest because db/migrate's node-pg-migrate is ESM-only); one case goes through bin/nightshift.js.
 */

jest.setTimeout(120_000);

let stack: MaintenanceStack;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  quietRuntime();
  stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  // cli/context loads the configuration once, from the environment, at the first command
  Object.assign(process.env, childEnv());
  connection = await Connection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await stack?.close();
});

const childEnv = (): Record<string, string> => windowCliEnv(stack);

/** The real binary, for the exit code as the shell sees it. */
function binary(...args: string[]): Promise<CliResult> {
  return runCli(['maintenance', ...args], { ...process.env, ...childEnv() });
}

const cli = inProcessCli(registerMaintenanceCommands, 'maintenance');

/** 2026-03-01T13:00 style, in Europe/Paris, `minutes` from now. */
function parisTime(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(d)
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

async function noWorkflow(): Promise<void> {
  await expect(client.workflow.getHandle(`maintenance/${stack.target}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  expect(await windowRows(stack.pool)).toHaveLength(0);
}

test('hostile or impossible flags exit 2 with a clear error and start nothing (R-MW-1, R-MW-3, R-MW-5, R-MW-10 --notify)', async () => {
  const t = ['--target', stack.target];
  const later = parisTime(60);
  const cases: [string[], RegExp][] = [
    [[...t, '--start', parisTime(-120), '--duration', '45m', '--type', 'database'], /in the past/],
    [[...t, '--start', later, '--end', parisTime(30), '--type', 'database'], /end must be after the start/],
    [[...t, '--start', later, '--duration', '0m', '--type', 'database'], /positive/],
    [[...t, '--start', later, '--duration', '-5m', '--type', 'database'], /duration/],
    [['--target', 'nowhere', '--start', later, '--duration', '45m', '--type', 'database'], /unknown target "nowhere"/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--notify', 'ops@example.com,not-an-email'], /--notify .*e-mail/],
    [[...t, '--start', later, '--duration', '30m', '--grace', '2h', '--type', 'database'], /grace .* longer than the window/],
    [[...t, '--start', "2026-01-01'; DROP TABLE nightshift.session; --", '--duration', '45m', '--type', 'database'], /--start: .* not a date-time/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--message', 'bell\u0007'], /control characters/],
    // the schema's limit named by the flag that set it, not its field (endsAt)
    [[...t, '--start', later, '--duration', '8d', '--type', 'database'], /^nightshift: --duration: a window lasts at most 7 days/],
    // well-formed but huge: the limit it breaks, not "is not a duration"
    [[...t, '--start', later, '--duration', '99999999h', '--type', 'database'], /^nightshift: --duration: a window lasts at most 7 days\n$/],
    [[...t, '--start', later, '--duration', '10081m', '--type', 'database'], /^nightshift: --duration: a window lasts at most 7 days\n$/],
    [[...t, '--start', later, '--duration', '45m', '--grace', '99999999h', '--type', 'database'], /^nightshift: --grace: the drain grace \(99999999h\) is longer than the window\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'coffee'], /^nightshift: --type: expected database or deployment\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'everything'], /^nightshift: --payload: expected none, backup, patch or backup\+patch\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--backup-only', "A1,x'; DROP TABLE nightshift.dossier; --"], /--backup-only: a dossier code has/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--backup-only', ' , ,'], /--backup-only: expected at least one dossier code/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--backup-only', 'A1'], /--backup-only goes with --payload backup/],
    // as `backup run --only`: a code that names no dossier is refused before the window exists
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--backup-only', 'NOPE404'], /--backup-only: not dossiers of target .*: NOPE404; nothing scheduled/],
    [[...t, '--start', 'now', '--duration', '45m', '--type', 'database'], /Starting now cuts the service .* immediately.* --yes/],
    // less than a minute ahead: asked as a start now is, said as what it is (drill G: "now … immediately", then "scheduled")
    [[...t, '--start', new Date(Date.now() + 45_000).toISOString(), '--duration', '45m', '--type', 'database'], /^nightshift: Starting in 4\d s cuts the service of target \S+ with no time to announce it: .* Confirm with --yes/],
    // R-MW-5 as R-MW-3: an early block already past refuses logins at once (six days before the window): asked, as `edit` asks
    [[...t, '--start', later, '--duration', '1h', '--type', 'database', '--prevent-logins-from', '2020-01-01T10:00'], /^nightshift: --prevent-logins-from 2020-01-01T10:00 is already past: new logins to target \S+ would be refused at once, before the window starts\. Confirm with --yes \(no terminal to ask on\)\.\n$/],
    // R-MW-10's mail list: an empty entry is a slip, not "nobody"
    ...['', ' , ', 'ops@example.com,,', ',ops@example.com'].map((n): [string[], RegExp] => [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--notify', n], /^nightshift: --notify: expected e-mail addresses separated by commas, got an empty one in ".*" \(to tell nobody, leave --notify out\)\n$/]),
    [[...t, '--start', later, '--duration', '45m', '--type', 'deployment', '--payload', 'patch'], /--patch-dir/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'deployment', '--patch-dir', '/srv/patches'], /--patch-dir goes with --payload patch/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'deployment', '--payload', 'patch', '--patch-dir', 'a\u0001b'], /control characters/],
    // SSM's cutoff: shorter than the window and than what the grace leaves of it; work by hand has nothing to cut off
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--cutoff', '10m'], /^nightshift: --cutoff goes with --payload backup, patch or backup\+patch \(work by hand has no payload to leave unstarted\)\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--cutoff', '45m'], /^nightshift: --cutoff: the cutoff \(45m\) must be shorter than the window \(45m\)\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--cutoff', '42m'], /^nightshift: --cutoff: the payload would start after the drain grace \(5m\) with 40m left, less than the cutoff \(42m\): it would never start; shorten --cutoff or --grace\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--cutoff', '0m'], /^nightshift: --cutoff: the duration must be positive\n$/],
    [[...t, '--start', later, '--duration', '45m', '--type', 'database', '--payload', 'backup', '--cutoff', 'soon'], /^nightshift: --cutoff: "soon" is not a duration/],
    // the packages are checked before the window exists, as `patch integrate` does: a typo, a stray file
    [[...t, '--start', later, '--duration', '45m', '--type', 'deployment', '--payload', 'patch', '--patch-dir', path.join(os.tmpdir(), 'no-such-patches-dir')], /no patch directory .*no-such-patches-dir .*nothing started/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli('schedule', ...args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(pattern);
  }
  // a folder that holds something else than patch packages: refused as `patch integrate` refuses it (exit 1), nothing started
  const strayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stray-patches-'));
  fs.writeFileSync(path.join(strayDir, 'notes.txt'), 'not a patch');
  const stray = await cli('schedule', ...t, '--start', later, '--duration', '45m', '--type', 'deployment', '--payload', 'backup+patch', '--patch-dir', strayDir);
  expect(stray.code).toBe(1);
  expect(stray.stderr).toMatch(/notes\.txt/);
  fs.rmSync(strayDir, { recursive: true });
  // R-MW-3 through the real binary: no terminal and no --yes is a refusal, exit 2
  const real = await binary('schedule', '--target', stack.target, '--duration', '45m', '--type', 'database');
  expect(real.code).toBe(2);
  expect(real.stderr).toMatch(/cuts the service .* immediately.* --yes/);
  await noWorkflow();
});

test('R-MW-9: --payload backup becomes the window\'s backup payload, --backup-only restricting it to the given codes (once each)', () => {
  const flags = { target: stack.target, start: parisTime(60), duration: '45m', type: 'database', payload: 'backup' };
  expect(scheduleInput(flags, Date.now()).input.payload).toEqual({ kind: 'backup' });
  expect(scheduleInput({ ...flags, backupOnly: 'A1, B-2,A1' }, Date.now()).input.payload).toEqual({ kind: 'backup', dossiers: ['A1', 'B-2'] });
});

test('AWS SSM MaxErrors: --max-failures becomes the patch payload\'s maxFailures; refused without a patch payload or when it is no count nor percentage', () => {
  const flags = { target: stack.target, start: parisTime(60), duration: '45m', type: 'deployment', payload: 'patch', patchDir: '/srv/patches' };
  expect(scheduleInput(flags, Date.now()).input.payload).toEqual({ kind: 'patch', manifest: '/srv/patches' });
  expect(scheduleInput({ ...flags, maxFailures: '3' }, Date.now()).input.payload).toEqual({ kind: 'patch', manifest: '/srv/patches', maxFailures: { count: 3 } });
  expect(scheduleInput({ ...flags, payload: 'backup+patch', maxFailures: '5%' }, Date.now()).input.payload).toEqual({ kind: 'backup+patch', manifest: '/srv/patches', maxFailures: { percent: 5 } });
  expect(() => scheduleInput({ ...flags, maxFailures: 'many' }, Date.now())).toThrow(/^--max-failures: expected a number of dossiers \(such as 10\) or a percentage of them \(such as 5%\)$/);
  expect(() => scheduleInput({ ...flags, maxFailures: '150%' }, Date.now())).toThrow(/^--max-failures: expected a number/);
  expect(() => scheduleInput({ ...flags, payload: 'backup', patchDir: undefined, maxFailures: '3' }, Date.now())).toThrow(/^--max-failures goes with --payload patch or backup\+patch/);
});

test('words of a fixed set (--type, --payload, --on-failure) are read in any case, as their canonical spelling; a huge --duration on edit says the 7-day limit', () => {
  const flags = { target: stack.target, start: parisTime(60), duration: '45m', type: 'DATABASE', payload: 'Backup' };
  expect(scheduleInput(flags, Date.now()).input).toMatchObject({ type: 'database', payload: { kind: 'backup' } });
  const rollback = scheduleInput({ ...flags, type: 'Deployment', payload: 'BACKUP+PATCH', patchDir: '/srv/patches', onFailure: 'ROLLBACK' }, Date.now()).input;
  expect(rollback).toMatchObject({ type: 'deployment', payload: { kind: 'backup+patch' }, onFailure: 'rollback' });
  expect(() => scheduleInput({ ...flags, onFailure: 'retry' }, Date.now())).toThrow(/^--on-failure: expected rollback$/);
  expect(editInput({ type: 'DEPLOYMENT' })).toEqual({ type: 'deployment' });
  expect(() => editInput({ duration: '99999999h' })).toThrow(/^--duration: a window lasts at most 7 days$/);
  expect(() => editInput({ message: 'x', clearMessage: true })).toThrow(/^--message and --clear-message: not both/);
  // R-MW-5: an early block already past refuses logins at once: asked for, as a start now is (R-MW-3)
  const now = Date.parse('2026-12-04T13:28:00Z');
  expect(() => editInput({ preventLoginsFrom: '2026-12-04T13:20:00Z' }, now)).toThrow(/^--prevent-logins-from 2026-12-04T13:20:00Z is already past: new logins would be refused at once\. Confirm with --yes/);
  expect(editInput({ preventLoginsFrom: '2026-12-04T13:20:00Z', yes: true }, now)).toEqual({ preventLoginsFrom: '2026-12-04T13:20:00.000Z' });
  expect(editInput({ preventLoginsFrom: '2026-12-04T13:40:00Z' }, now)).toEqual({ preventLoginsFrom: '2026-12-04T13:40:00.000Z' });
  expect(() => editInput({ duration: '1h', type: 'coffee' })).toThrow(/^--type: expected database or deployment$/);
  // R-MW-5 at schedule: a block already past is said, so that the CLI asks for it (a start now asks on its own)
  const later = { target: stack.target, start: parisTime(60 * 24 * 6), duration: '1h', type: 'database', payload: 'none' };
  expect(scheduleInput({ ...later, preventLoginsFrom: '2020-01-01T10:00' }, Date.now())).toMatchObject({ startsNow: false, blocksLoginsNow: true });
  expect(scheduleInput({ ...later, preventLoginsFrom: parisTime(60) }, Date.now())).toMatchObject({ startsNow: false, blocksLoginsNow: false });
});

test('R-MW-1, R-MW-5: an edit the window refuses names the flag behind it (--start, --end, --duration, --prevent-logins-from)', () => {
  const now = Date.parse('2026-12-04T12:00:00Z');
  const w = { startsAt: '2026-12-10T09:00:00.000Z', endsAt: '2026-12-10T10:00:00.000Z', graceSeconds: 300, type: 'database', state: 'scheduled' } as unknown as Parameters<typeof refuseEdit>[0];
  const refused = (flags: Parameters<typeof editInput>[0]) => () => refuseEdit(w, editInput(flags, now), flags, now);
  expect(refused({ start: '2020-01-01T10:00' })).toThrow(/^--start: the new start is in the past$/);
  expect(refused({ end: '2026-12-10T09:00' })).toThrow(/^--end: the end must be after the start \(the duration must be positive\)$/);
  expect(refused({ end: '2026-12-01T09:00' })).toThrow(/^--end: the new end is in the past$/);
  expect(refused({ duration: '3m' })).toThrow(/^--duration: the drain grace is longer than the window$/);
  expect(refused({ start: '2026-12-20T10:00', end: '2026-12-30T10:00' })).toThrow(/^--end: a window lasts at most 7 days$/);
  expect(refused({ preventLoginsFrom: '2026-12-11T10:00' })).toThrow(/^--prevent-logins-from: logins can only be blocked from a time before the start/);
  expect(() => refuseEdit({ ...w, preventLoginsFrom: '2026-12-10T08:00:00.000Z' }, editInput({ start: '2026-12-10T06:00Z' }, now), { start: '2026-12-10T06:00Z' }, now)).toThrow(
    /^--start: logins can only be blocked from a time before the start/,
  );
  expect(refused({ start: '2026-12-11T10:00' })).not.toThrow();
});

test('SSM cutoff: --cutoff becomes the window\'s cutoffSeconds (a start when drained may take one longer than the grace leaves); edit --cutoff is checked against the window, "none" removes it', () => {
  const flags = { target: stack.target, start: parisTime(60), duration: '45m', type: 'database', payload: 'backup' };
  expect(scheduleInput(flags, Date.now()).input.cutoffSeconds).toBeUndefined();
  expect(scheduleInput({ ...flags, cutoff: '15m' }, Date.now()).input.cutoffSeconds).toBe(900);
  expect(scheduleInput({ ...flags, cutoff: '42m', startWhenDrained: true }, Date.now()).input.cutoffSeconds).toBe(42 * 60);
  expect(() => scheduleInput({ ...flags, cutoff: '42m' }, Date.now())).toThrow(/^--cutoff: the payload would start after the drain grace/);
  // recurring windows read the same flags: the template carries the cutoff to every occurrence
  expect(editInput({ cutoff: '10m' })).toEqual({ cutoffSeconds: 600 });
  expect(editInput({ cutoff: 'none' })).toEqual({ cutoffSeconds: null });
  expect(() => editInput({ cutoff: '0m' })).toThrow(/^--cutoff: the duration must be positive$/);
  const now = Date.parse('2026-12-04T12:00:00Z');
  const w = { startsAt: '2026-12-10T09:00:00.000Z', endsAt: '2026-12-10T10:00:00.000Z', graceSeconds: 300, type: 'database', state: 'scheduled', payload: { kind: 'backup' }, cutoffSeconds: 1200 } as unknown as Parameters<typeof refuseEdit>[0];
  const refused = (flags: Parameters<typeof editInput>[0], on = w) => () => refuseEdit(on, editInput(flags, now), flags, now);
  expect(refused({ cutoff: '1h' })).toThrow(/^--cutoff: the cutoff must be shorter than the window$/);
  // the window shortened under its cutoff: the flag that shortened it is named
  expect(refused({ duration: '20m' })).toThrow(/^--duration: the cutoff must be shorter than the window$/);
  expect(refused({ cutoff: '30m' })).not.toThrow();
  expect(refused({ cutoff: 'none', duration: '10m' })).not.toThrow();
  // schedule's rule for edits too (drill of 2026-12-06: an edit let a window cut service for a payload that could never start)
  expect(refused({ cutoff: '58m' })).toThrow(/^--cutoff: the payload would start after the drain grace with less than the cutoff left before the end: it would never start/);
  expect(refused({ duration: '24m' })).toThrow(/^--duration: the payload would start after the drain grace with less than the cutoff left/);
  expect(refused({ cutoff: '58m' }, { ...w, startWhenDrained: true } as typeof w)).not.toThrow();
  expect(refused({ cutoff: '10m' }, { ...w, payload: { kind: 'none' } } as typeof w)).toThrow(/^--cutoff: this window has no payload \(work by hand\): a cutoff would change nothing$/);
});

test('issue 9: times in ISO 8601 with fractional seconds and offsets are read (luxon); impossible fields are refused, never rolled over', () => {
  const base = { target: stack.target, type: 'database', payload: 'none' };
  const y = new Date().getUTCFullYear() + 1;
  const { input } = scheduleInput({ ...base, start: `${y}-12-03T22:00:00.500Z`, end: `${y}-12-03T23:30:00.5+01:00` }, Date.now());
  expect([input.startsAt, input.endsAt]).toEqual([`${y}-12-03T22:00:00.500Z`, `${y}-12-03T22:30:00.500Z`]);
  expect(input.displayTimeZone).toBe('Europe/Paris');
  // without an offset: the operator's zone (TZ=Europe/Paris), winter time
  expect(scheduleInput({ ...base, start: `${y}-12-03 22:00`, duration: '45m' }, Date.now()).input.startsAt).toBe(`${y}-12-03T21:00:00.000Z`);
  expect(() => scheduleInput({ ...base, start: `${y}-12-03T12:30:75`, duration: '45m' }, Date.now())).toThrow(/--start: .*second 75 does not exist/);
  expect(() => scheduleInput({ ...base, start: `${y}-12-03T10:00`, end: `${y}-12-03T24:00` }, Date.now())).toThrow(/--end: .*hour 24 does not exist/);
});

test('schedule, status, edit, refused extend, cancel through the CLI; a second schedule is refused naming the first (R-MW-2, R-MW-11, R-MW-12)', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      const start = parisTime(90);
      const scheduled = await cli('schedule', '--target', stack.target, '--start', start, '--duration', '45m', '--type', 'deployment', '--notify', 'ops@example.com', '--json');
      expect(scheduled.stderr).toBe('');
      expect(scheduled.code).toBe(0);
      const s = JSON.parse(scheduled.stdout);
      expect(s).toMatchObject({ state: 'scheduled', phase: 'scheduled', type: 'deployment', notify: ['ops@example.com'] });
      // the window's workflow in the Web UI, as every command that starts work gives it
      expect(s.url).toMatch(/^http:\/\/localhost:\d+\/namespaces\/default\/workflows\/maintenance%2F[^/]+\/[0-9a-f-]+\/history$/);
      expect(Date.parse(s.endsAt) - Date.parse(s.startsAt)).toBe(45 * 60_000);
      const [row] = await windowRows(stack.pool);
      expect(row!.startsAt.toISOString()).toBe(s.startsAt);
      const described = await client.workflow.getHandle(`maintenance/${stack.target}`).describe();
      expect(await described.staticSummary()).toMatch(new RegExp(`maintenance deployment on ${stack.target} .*${start.slice(11)}`));

      // in-process commands share stdout/stderr: one at a time
      const again = await cli('schedule', '--target', stack.target, '--start', parisTime(300), '--duration', '45m', '--type', 'database');
      const status = await cli('status', '--target', stack.target, '--json');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/MaintenanceWindowExists: .*already has a deployment window scheduled .*cancel it first/);
      // R-MW-2 before R-MW-3: a start now refused for the existing window warns of no cut
      const nowAgain = await cli('schedule', '--target', stack.target, '--yes', '--duration', '10m', '--type', 'database');
      expect(nowAgain.code).toBe(1);
      expect(nowAgain.stderr).toMatch(/^nightshift: MaintenanceWindowExists: .*already has a deployment window scheduled .*cancel it first\n$/);
      expect(nowAgain.stderr).not.toMatch(/cuts the service/);
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ gateState: 'announced', liveSessions: 0, workflow: { phase: 'scheduled' } });

      // no flag: what can be changed, not a field name
      const nothing = await cli('edit', '--target', stack.target);
      expect(nothing).toMatchObject({ code: 2, stderr: 'nightshift: maintenance edit: nothing to change: give --start, --end or --duration, --type, --message or --clear-message, --prevent-logins-from, or --cutoff\n' });
      // the validator's refusals with the flag named, nothing changed
      expect(await cli('edit', '--target', stack.target, '--start', '2020-01-01T10:00')).toMatchObject({ code: 2, stderr: 'nightshift: --start: the new start is in the past\n' });
      expect(await cli('edit', '--target', stack.target, '--end', start)).toMatchObject({ code: 2, stderr: 'nightshift: --end: the end must be after the start (the duration must be positive)\n' });
      const edited = await cli('edit', '--target', stack.target, '--duration', '2h', '--json');
      const extend = await cli('extend', '--target', stack.target, '--by', '30m');
      expect(edited.code).toBe(0);
      expect(Date.parse(JSON.parse(edited.stdout).endsAt) - Date.parse(s.startsAt)).toBe(2 * 3600_000);
      expect(extend.code).toBe(2);
      expect(extend.stderr).toMatch(/only a window in progress can be extended/);
      // R-MW-5 (tester A): the phase the edit answers with is the one its login block put the window in
      const blocked = await cli('edit', '--target', stack.target, '--prevent-logins-from', '2020-01-01T10:00', '--yes');
      expect(blocked.code).toBe(0);
      expect(blocked.stdout).toContain('(phase blocking_logins)');
      const unblocked = await cli('edit', '--target', stack.target, '--prevent-logins-from', 'none');
      expect(unblocked.code).toBe(0);
      expect(unblocked.stdout).toContain('(phase scheduled)');

      const cancelled = await cli('cancel', '--target', stack.target);
      expect(cancelled.code).toBe(0);
      expect(cancelled.stdout).toMatch(/^cancelled: deployment maintenance .* cancelled/);
      expect((await windowRows(stack.pool)).map((w) => w.state)).toEqual(['cancelled']);
      const list = await cli('list', '--json');
      expect(JSON.parse(list.stdout)).toHaveLength(1);
      // nothing left to cancel: said in our words, not Temporal's
      const none = await cli('cancel', '--target', stack.target);
      expect(none.code).not.toBe(0);
      expect(none.stderr).toContain(`no scheduled or in-progress maintenance window on target ${stack.target}`);
      // status then names the last window and where its outcome is
      const after = await cli('status', '--target', stack.target);
      // its own account, from its workflow (a worker answers): what the Web UI's details show
      expect(after.stdout).toMatch(/^no scheduled or in-progress maintenance window; the last one:\ndeployment maintenance on \S+: cancelled \(phase cancelled\)\n {2}from .*; cancelled /m);
      // the one that ended last, not the latest planned start: a window planned next week but cancelled an hour ago is not it
      await stack.pool.query(
        `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, finished_at)
         VALUES (gen_random_uuid(), 'maintenance/older-cancel', 'database', 'cancelled', 'cancelled', now() + interval '7 days', now() + interval '7 days 1 hour', now() - interval '1 hour')`,
      );
      expect((await cli('status', '--target', stack.target)).stdout).toMatch(/the last one:\ndeployment maintenance on /);
      // a last window whose workflow Temporal no longer has: the row's account, and where to look
      await stack.pool.query(
        `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, finished_at)
         VALUES (gen_random_uuid(), 'maintenance/gone', 'database', 'completed', 'completed', now() - interval '2 hours', now() - interval '1 hour', now() + interval '1 minute')`,
      );
      expect((await cli('status', '--target', stack.target)).stdout).toMatch(
        /^the last one: database window completed from .* to .*, ended .* \(workflow maintenance\/gone\) \(phase completed\); its outcome: 'nightshift maintenance show [0-9a-f]{8}', or the workflow maintenance\/gone in the Temporal Web UI \(no worker answered for its workflow\)$/m,
      );
      await stack.pool.query(`DELETE FROM nightshift.maintenance_window WHERE workflow_id IN ('maintenance/gone', 'maintenance/older-cancel')`);
    });
  } finally {
    await native.close();
  }
});

test('SSM cutoff through the CLI: schedule --cutoff, status and list show it, edit --cutoff changes it (a refused one exit 2, nothing changed)', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      const windowsBefore = (await windowRows(stack.pool)).length;
      const scheduled = await cli('schedule', '--target', stack.target, '--start', parisTime(120), '--duration', '1h', '--type', 'database', '--payload', 'backup', '--cutoff', '20m');
      expect(scheduled.code).toBe(0);
      expect(scheduled.stdout).toMatch(/\n {2}payload backup, drain grace 300 s, cutoff 20m \(not started with less left before the end\)\n/);
      expect(JSON.parse((await cli('status', '--target', stack.target, '--json')).stdout)).toMatchObject({ workflow: { cutoffSeconds: 1200 }, window: { cutoffSeconds: 1200 } });
      expect((await cli('list', '--target', stack.target)).stdout).toMatch(/ scheduled .* \(cutoff 20m\)$/m);
      // refused by the window's own rule, the flag named, nothing changed
      expect(await cli('edit', '--target', stack.target, '--cutoff', '1h')).toMatchObject({ code: 2, stderr: 'nightshift: --cutoff: the cutoff must be shorter than the window\n' });
      expect(await cli('edit', '--target', stack.target, '--cutoff', 'later')).toMatchObject({ code: 2 });
      expect((await windowRows(stack.pool)).length).toBe(windowsBefore + 1);
      expect((await cli('list', '--target', stack.target)).stdout).toMatch(/\(cutoff 20m\)$/m);
      const edited = await cli('edit', '--target', stack.target, '--cutoff', '10m', '--json');
      expect(edited.code).toBe(0);
      expect(JSON.parse(edited.stdout).cutoffSeconds).toBe(600);
      expect((await cli('list', '--target', stack.target)).stdout).toMatch(/\(cutoff 10m\)$/m);
      const removed = await cli('edit', '--target', stack.target, '--cutoff', 'none', '--json');
      expect(JSON.parse(removed.stdout).cutoffSeconds).toBeUndefined();
      expect((await cli('list', '--target', stack.target)).stdout).not.toMatch(/cutoff/);
      expect((await cli('cancel', '--target', stack.target)).code).toBe(0);
    });
  } finally {
    // a failure above leaves no window open for the next tests
    await stack.pool.query(`UPDATE nightshift.maintenance_window SET state = 'cancelled', phase = 'cancelled' WHERE state IN ('scheduled', 'in_progress')`);
    await native.close();
  }
});

test('R-BK-2, R-MW-9: --backup-only naming a template says that the nightly selection leaves it out and that the window takes it', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name, is_template) VALUES ('TPL1', 'Template', 'd_tpl1', true) ON CONFLICT DO NOTHING`);
      const r = await cli('schedule', '--target', stack.target, '--start', parisTime(120), '--duration', '30m', '--type', 'database', '--payload', 'backup', '--backup-only', 'TPL1');
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("TPL1 is a template: the nightly selection leaves it out (R-BK-2); the window's backup takes it if it changed since its last backup, since --backup-only names it\n");
      expect((await cli('cancel', '--target', stack.target)).code).toBe(0);
      await stack.pool.query(`DELETE FROM nightshift.dossier WHERE code = 'TPL1'`);
    });
  } finally {
    await native.close();
  }
});

test('R-BK-1 R-PI-2: a window whose payload a running batch would refuse is not started now (it would cut service, then fail and stay closed); a later start is warned', async () => {
  // a batch whose workflow runs (on a task queue no worker polls) and its run row
  const batchWorkflow = `backup/${stack.target}/scale-${Date.now()}`;
  await startBackupBatch(client, { target: stack.target }, { taskQueue: `nobody-${Date.now()}`, workflowId: batchWorkflow });
  const { rows } = await stack.pool.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, settings) VALUES ($1, 'run', '{}') RETURNING id`, [batchWorkflow]);
  const lastWindowRun = async () => (await client.workflow.getHandle(`maintenance/${stack.target}`).describe().catch(() => undefined))?.runId;
  const windowsBefore = (await windowRows(stack.pool)).length;
  const runBefore = await lastWindowRun();
  try {
    const now = await cli('schedule', '--target', stack.target, '--start', 'now', '--duration', '30m', '--type', 'deployment', '--payload', 'backup', '--yes');
    expect(now.code).toBe(1);
    expect(now.stderr).toContain(`backup run ${rows[0].id} (${batchWorkflow}) is running on ${stack.target}: the window's backup payload would be refused (R-BK-1, R-PI-2)`);
    expect(now.stderr).toContain('nothing scheduled');
    // nothing started (an earlier test's window may have left its rows and its closed workflow under the id)
    expect(await windowRows(stack.pool)).toHaveLength(windowsBefore);
    expect((await lastWindowRun())).toBe(runBefore);
    // later: the batch may have ended by then; said, and scheduled
    const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
    try {
      await (await windowWorker(native, stack)).runUntil(async () => {
        const later = await cli('schedule', '--target', stack.target, '--start', parisTime(120), '--duration', '30m', '--type', 'deployment', '--payload', 'backup');
        expect(later.stderr).toContain(`warning: backup run ${rows[0].id} (${batchWorkflow}) is running on ${stack.target} now: if it still runs at the window's start, the backup payload is refused`);
        expect(later.code).toBe(0);
        expect((await cli('cancel', '--target', stack.target)).code).toBe(0);
      });
    } finally {
      await native.close();
    }
  } finally {
    await client.workflow.getHandle(batchWorkflow).terminate('test');
    // no trace for the next tests (a failed run would count among a later window's runs)
    await stack.pool.query('DELETE FROM nightshift.backup_run WHERE id = $1', [rows[0].id]);
  }
});

test('issue 12.5: status counts sessions from one query; complete that fails and reopen print what happened, FAILED gone after reopen (R-MW-7, R-MW-10)', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      await insertSession(stack.pool, 'ann');
      await insertSession(stack.pool, 'bob');
      // a dossier without its schema: the post-checks fail
      await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('BROKEN1', 'Broken', 'd_broken1')`);
      const started = await cli('schedule', '--target', stack.target, '--start', 'now', '--duration', '30m', '--grace', '0s', '--type', 'database', '--message', 'Migration v5', '--yes');
      expect(started.code).toBe(0);
      // a start now is under way once its row is written: said as started, in words (R-MW-3)
      expect(started.stdout).toMatch(new RegExp(`^started: database maintenance on ${stack.target}: in progress \\(phase \\w+\\)\n`));
      const described = await client.workflow.getHandle(`maintenance/${stack.target}`).describe();
      expect(await described.staticSummary()).toMatch(new RegExp(`^maintenance database on ${stack.target} .*payload none: Migration v5$`));

      // while the sessions are told to close: one count, from one query
      await eventually(async () => (await windowRows(stack.pool)).at(-1)?.phase, (p) => p === 'closing_sessions', 'the close orders');
      const shown = await cli('status', '--target', stack.target);
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(/^target \S+: closed, 2 open session\(s\)\n/);
      expect(shown.stdout).toMatch(/\n {2}sessions now: \d+ open, 2 of them ordered to close \(\d+ told by a heartbeat answer\) and not gone yet; 0 closed by force( \(the window's last look, as in the Web UI: \d+ open, \d+ ordered to close\))?\n/);
      expect(shown.stdout).not.toMatch(/open sessions: \d/);
      // the message users see, in the text too (not only --json)
      expect(shown.stdout).toMatch(/\n {2}message to users: Migration v5\n/);

      await eventually(async () => (await windowRows(stack.pool)).at(-1)?.phase, (p) => p === 'working', 'the work phase', 40_000);
      // R-MW-11: an extension the window refuses names --end
      expect(await cli('extend', '--target', stack.target, '--end', parisTime(5))).toMatchObject({ code: 2, stderr: 'nightshift: --end: an extension must move the end later than the current end\n' });
      const completed = await cli('complete', '--target', stack.target);
      expect(completed.code).toBe(1);
      expect(completed.stdout).toMatch(/^not completed: the window failed: database maintenance on \S+: FAILED, closed until reopen \(phase failed\)/);
      expect(completed.stdout).toContain('BROKEN1: schema d_broken1 is missing');
      expect(completed.stdout).toContain(`nightshift maintenance reopen --target ${stack.target}`);
      const list = await cli('list', '--target', stack.target);
      expect(list.stdout).toMatch(/^id\s+target\s+state\s+phase\s+type\s+from → to \(/);
      expect(list.stdout).toMatch(new RegExp(`^[0-9a-f]{8} ${stack.target}\\s+FAILED\\s+failed\\s+database\\s`, 'm'));
      // a failed window's end can move (users see the new end while it stays closed): said as done, not "not extended"
      const extended = await cli('extend', '--target', stack.target, '--by', '5m');
      expect(extended.code).toBe(0);
      expect(extended.stdout).toMatch(/^extended: database maintenance on \S+: FAILED, closed until reopen \(phase failed\)/);
      // two operators' `extend --by 5m` at the same moment (two processes): each adds its 5 minutes, neither is refused
      // because the other's landed between its read and its update (drill R: "must move the end later")
      const endOf = async () => Date.parse((JSON.parse((await cli('status', '--target', stack.target, '--json')).stdout) as { workflow: { endsAt: string } }).workflow.endsAt);
      const endBefore = await endOf();
      const both = await Promise.all([binary('extend', '--target', stack.target, '--by', '5m'), binary('extend', '--target', stack.target, '--by', '5m')]);
      expect(both.map((r) => r.code)).toEqual([0, 0]);
      expect((await endOf()) - endBefore).toBe(10 * 60_000);
      // complete again: the failure is what is said, whatever the payload
      expect((await cli('complete', '--target', stack.target)).stderr).toMatch(/the window failed: fix the problem, then reopen/);

      await stack.pool.query(`DELETE FROM nightshift.dossier WHERE code = 'BROKEN1'`);
      const reopened = await cli('reopen', '--target', stack.target);
      expect(reopened.code).toBe(0);
      expect(reopened.stdout).toMatch(/^reopened: database maintenance on \S+: completed \(phase completed\)/);
      expect(reopened.stdout).toContain('reopened after a failure');
      expect(reopened.stdout).not.toMatch(/FAILED|fix it|maintenance reopen/);
      // the list says when it ended, beside its planned times; the reopen says after what
      expect(reopened.stdout).toMatch(/reopened after a failure \(R-MW-10\): .*BROKEN1/);
      await eventually(async () => (await windowRows(stack.pool)).at(-1)?.finishedAt, (f) => Boolean(f), 'the finished time');
      expect((await cli('list', '--target', stack.target)).stdout).toMatch(/^[0-9a-f]{8} \S+ +completed +completed +database +\S+ \S+ → \S+ \S+, ended \S+ \S+: reopened after: .*BROKEN1.*$/m);
      expect((await windowRows(stack.pool)).at(-1)).toMatchObject({ state: 'completed' });
    });
  } finally {
    await native.close();
  }
});

test('R-PI-2: complete says before it waits that a run started by hand a moment ago (not linked by the window yet) is still running, then gives access back once it ends', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      const started = await cli('schedule', '--target', stack.target, '--start', 'now', '--duration', '30m', '--grace', '0s', '--type', 'deployment', '--yes');
      expect(started.code).toBe(0);
      await eventually(async () => (await windowRows(stack.pool)).at(-1)?.phase, (p) => p === 'working', 'the work phase', 40_000);
      const byHand = `patch/${stack.target}/by-hand-${Date.now()}`;
      await stack.pool.query(`INSERT INTO nightshift.patch_run (workflow_id, mode) VALUES ($1, 'revalidate')`, [byHand]);
      const completing = cli('complete', '--target', stack.target);
      await new Promise((r) => setTimeout(r, 2_000));
      await stack.pool.query(`UPDATE nightshift.patch_run SET state = 'completed', finished_at = now() WHERE workflow_id = $1`, [byHand]);
      const completed = await completing;
      expect(completed.code).toBe(0);
      expect(completed.stdout).toContain(`complete requested: patch run ${byHand}, started by hand in the window, still running: access comes back once it has ended (single-user mode, R-PI-2); waiting…`);
      expect(completed.stdout).toMatch(/^completed: /m);
    });
  } finally {
    await native.close();
  }
});

test('README: status says "workflow not reachable" within 5 s when no worker answers the window\'s query', async () => {
  // a window whose workflow no worker polls (the dev process stopped, say): its row as the workflow would have written it
  const { input } = scheduleInput({ target: stack.target, start: parisTime(60), duration: '45m', type: 'database', payload: 'none' }, Date.now());
  const workflowId = `maintenance/${stack.target}/unpolled-${Date.now()}`;
  const handle = await startMaintenanceWindow(client, input, { taskQueue: `nobody-polls-${Date.now()}`, workflowId });
  await stack.pool.query(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at) VALUES (gen_random_uuid(), $1, 'database', 'scheduled', 'scheduled', $2, $3)`,
    [workflowId, input.startsAt, input.endsAt],
  );
  try {
    const t0 = Date.now();
    const shown = await cli('status', '--target', stack.target);
    const took = Date.now() - t0;
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^database window scheduled from .* \\(workflow ${workflowId}\\) \\(phase scheduled; workflow not reachable\\)$`, 'm'));
    expect(took).toBeLessThan(10_000);
  } finally {
    await handle.terminate('test over');
    await stack.pool.query(`DELETE FROM nightshift.maintenance_window WHERE workflow_id = $1`, [workflowId]);
  }
});

test('R-OP-1 R-MW-10 AWS SSM MaxErrors: with no worker, status of a failed window says FAILED (not "in progress"), the failure the window wrote, its payload\'s dossiers in error, those a --max-failures stop did not start and the next commands', async () => {
  const { input } = scheduleInput({ target: stack.target, start: parisTime(60), duration: '45m', type: 'deployment', payload: 'none' }, Date.now());
  const workflowId = `maintenance/${stack.target}/unpolled-failed-${Date.now()}`;
  const handle = await startMaintenanceWindow(client, input, { taskQueue: `nobody-polls-${Date.now()}`, workflowId });
  const patchWorkflow = `patch/${stack.target}/failed-payload-${Date.now()}`;
  // the row and ledger as a window failed by its patch payload leaves them (outcome: what the window writes with the phase)
  await stack.pool.query(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, outcome, created_at)
     VALUES (gen_random_uuid(), $1, 'deployment', 'in_progress', 'failed', $2, $3, 'failed: patch payload: patch run 1: 2 dossier(s) failed (DEMO0008, DEMO0012); payload patch partial', now() - interval '1 minute')`,
    [workflowId, input.startsAt, input.endsAt],
  );
  const run = (await stack.pool.query<{ id: string }>(`INSERT INTO nightshift.patch_run (workflow_id, mode, state, window_workflow, not_started) VALUES ($1, 'integrate', 'partial', $2, 5) RETURNING id`, [patchWorkflow, workflowId])).rows[0]!.id;
  await stack.pool.query(
    `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, failed_patch, error) VALUES
       ($1, 'DEMO0008', 'failed', 0, 0, 1, 'patch 1 failed in dossier DEMO0008: relation t_x does not exist'),
       ($1, 'DEMO0012', 'failed', 0, 0, 1, 'patch 1 failed in dossier DEMO0012: blocker present'),
       ($1, 'DEMO0001', 'ok', 0, 1, NULL, NULL)`,
    [run],
  );
  try {
    const shown = await cli('status', '--target', stack.target);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toContain('in progress');
    expect(shown.stdout).toContain(`deployment maintenance on ${stack.target}: FAILED, closed until reopen (phase failed; workflow ${workflowId} not reachable: what the database knows)`);
    expect(shown.stdout).toContain('  FAILED: patch payload: patch run 1: 2 dossier(s) failed (DEMO0008, DEMO0012); payload patch partial');
    expect(shown.stdout).toContain(`  patch run ${run} (${patchWorkflow}): partial, 2 dossier(s) not done, 5 not started (--max-failures stopped it)\n    DEMO0008: patch 1 failed in dossier DEMO0008: relation t_x does not exist\n    DEMO0012: patch 1 failed in dossier DEMO0012: blocker present\n`);
    expect(shown.stdout).toContain(
      `  Retry the dossiers not patched; the retry also takes the 5 dossier(s) the patch run did not start (--max-failures stopped it): nightshift patch retry --target ${stack.target} --run ${run}\n`,
    );
    expect(shown.stdout).toContain(`: nightshift maintenance reopen --target ${stack.target}\n`);
    expect(shown.stdout).toContain(`: nightshift maintenance cancel --target ${stack.target}\n`);
  } finally {
    await handle.terminate('test over');
    await stack.pool.query(`DELETE FROM nightshift.patch_run WHERE workflow_id = $1`, [patchWorkflow]);
    await stack.pool.query(`DELETE FROM nightshift.maintenance_window WHERE workflow_id = $1`, [workflowId]);
  }
});

test('R-MW-12, R-MW-10: a failed window cancelled: status says cancelled after the failure, with its reason, and advises no reopen', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      // a dossier without its schema: the post-checks fail
      await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('BROKEN2', 'Broken', 'd_broken2')`);
      const started = await cli('schedule', '--target', stack.target, '--start', 'now', '--duration', '30m', '--grace', '0s', '--type', 'database', '--yes');
      expect(started.code).toBe(0);
      await eventually(async () => (await windowRows(stack.pool)).at(-1)?.phase, (p) => p === 'working', 'the work phase', 40_000);
      expect((await cli('complete', '--target', stack.target)).code).toBe(1);
      const cancelled = await cli('cancel', '--target', stack.target);
      expect(cancelled.code).toBe(0);
      const status = await cli('status', '--target', stack.target);
      expect(status.stdout).toMatch(/\n {2}cancelled after a failure: .*BROKEN2/);
      expect(status.stdout).not.toMatch(/FAILED|reopen/);
      expect(cancelled.stdout).not.toMatch(/FAILED|reopen/);
    });
  } finally {
    await stack.pool.query(`DELETE FROM nightshift.dossier WHERE code = 'BROKEN2'`);
    await native.close();
  }
});

test('drill of 2026-12-06: schedule with no worker says the window is withdrawn (exit 1, nothing scheduled); its workflow is ended, so that a schedule once a worker runs is not refused (R-MW-2)', async () => {
  const workflowId = `maintenance/${stack.target}`;
  // the file's earlier windows, all ended
  const before = (await windowRows(stack.pool)).length;
  const r = await cli('schedule', '--target', stack.target, '--start', parisTime(30), '--duration', '45m', '--type', 'database');
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`no worker picked the window up within 25 s: is a worker running on task queue ${stack.config.temporal.taskQueue}? The window is withdrawn: nothing was done, and its workflow is ended`);
  expect(await windowRows(stack.pool)).toHaveLength(before);
  const withdrawn = client.workflow.getHandle(workflowId);
  expect((await withdrawn.describe()).status.name).toBe('TERMINATED');
  expect((await withdrawn.fetchHistory()).events?.at(-1)?.workflowExecutionTerminatedEventAttributes?.reason).toMatch(/^withdrawn: no worker picked this window up within 25 s/);
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      const again = await cli('schedule', '--target', stack.target, '--start', parisTime(30), '--duration', '45m', '--type', 'database');
      expect(again.code).toBe(0);
      expect((await cli('cancel', '--target', stack.target)).code).toBe(0);
    });
  } finally {
    await native.close();
  }
  expect(await windowRows(stack.pool)).toHaveLength(before + 1);
});

test("SSM's window executions (drill M, session 37): list prints each window's id, --limit pages; show ID (or its start) tells one past window and the runs it ran, not those after it; bad or unknown ids exit 2", async () => {
  const db = stack.pool;
  const id = 'c0ffee00-1234-4abc-8def-000000000001';
  await db.query(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, created_at, finished_at, outcome)
     VALUES ($1, 'maintenance/past', 'database', 'completed', 'completed', now() - interval '3 hours', now() - interval '2 hours', now() - interval '4 hours', now() - interval '2 hours', 'a payload run partial')`,
    [id],
  );
  await db.query(`INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, finished_at)
                  VALUES ('c0ffee00-9999-4abc-8def-000000000002', 'maintenance/other', 'database', 'cancelled', 'cancelled', now() - interval '30 days', now() - interval '29 days', now() - interval '30 days')`);
  const settings = { destinationDir: '/b', documents: false, copyStatuses: ['original'], modifiedOnly: true, reportFolder: '/b/log', reportRecipients: [] };
  const during = await db.query<{ id: string }>(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings, started_at, finished_at) VALUES ('backup/w-during', 'run', 'completed', $1, now() - interval '150 minutes', now() - interval '140 minutes') RETURNING id`, [settings]);
  await db.query(`INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings, started_at, finished_at) VALUES ('backup/w-after', 'run', 'completed', $1, now() - interval '1 hour', now() - interval '50 minutes')`, [settings]);
  try {
    const list = await cli('list', '--target', stack.target);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id {7}target /);
    expect(list.stdout).toMatch(/^c0ffee00 \S+ +completed .*: a payload run partial$/m);
    expect(list.stdout).toContain("'nightshift maintenance show ID' tells one window (the first characters of its id are enough)");
    const one = await cli('list', '--target', stack.target, '--limit', '1', '--json');
    expect(JSON.parse(one.stdout)).toHaveLength(1);
    expect((await cli('list', '--target', stack.target, '--limit', '1')).stdout).toContain('; --limit N shows more (1 per target shown)');

    const shown = await cli('show', 'c0ffee00-1234', '--target', stack.target);
    expect({ code: shown.code, stderr: shown.stderr }).toEqual({ code: 0, stderr: '' });
    expect(shown.stdout).toMatch(new RegExp(`^maintenance window ${id} on ${stack.target} \\(workflow maintenance/past\\): completed \\(phase completed\\), database; times in `));
    expect(shown.stdout).toMatch(/\n {2}scheduled .*, ended .*: a payload run partial\n/);
    expect(shown.stdout).toMatch(new RegExp(`\\n {2}runs while it was open \\(1\\):\\n {4}backup run ${during.rows[0]!.id} \\(backup/w-during\\) started .*: completed\\n$`));
    expect(JSON.parse((await cli('show', id.toUpperCase(), '--json')).stdout)).toMatchObject({ id, target: stack.target, runs: [{ kind: 'backup', workflowId: 'backup/w-during' }] });

    for (const [arg, message] of [
      ['c0ffee00', /c0ffee00 is the start of two window ids \(c0ffee00-1234-4abc-8def-000000000001, c0ffee00-9999-4abc-8def-000000000002\): give more of it/],
      ['deadbeef', /no maintenance window deadbeef in target /],
      ['c0f', /ID: expected a window id/],
      ['c0ffee001234', /ID: expected a window id as 'nightshift maintenance list' prints it/],
      ["x'; DROP TABLE x", /ID: expected a window id/],
    ] as const) {
      const r = await cli('show', arg, '--target', stack.target);
      expect({ arg, code: r.code }).toEqual({ arg, code: 2 });
      expect(r.stderr).toMatch(message);
    }
    const bad = await cli('list', '--limit', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--limit: /);
  } finally {
    await db.query(`DELETE FROM nightshift.backup_run WHERE workflow_id IN ('backup/w-during', 'backup/w-after')`);
    await db.query(`DELETE FROM nightshift.maintenance_window WHERE id::text LIKE 'c0ffee00-%'`);
  }
});

import os from 'node:os';
import path from 'node:path';
import { Client, Connection, ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowFailedError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { occurrencesRefusedBy, recurInput, registerMaintenanceCommands } from '../../cli/commands/maintenance';
import { recurringWindowAction, startMaintenanceWindow } from '../../starts';
import { maintenanceRecurScheduleId, recurringWindowWorkflowId, RECUR_TEMPLATE_START } from '../../domain/maintenance-recur';
import { WORKFLOW } from '../../workflows/contracts';
import { cancelMaintenanceUpdate, MaintenanceFailure, maintenanceStatusQuery, type MaintenanceWindowInput } from '../../workflows/maintenance-window.api';
import { failureTypeOf } from '../../domain/failures';
import { NightshiftKind, NightshiftPhase, NightshiftTarget } from '../../workflows/search-attributes';
import { bodyOf, eventually, maintenanceStack, quietRuntime, requireEnv, startSmtp, subjectOf, windowInput, windowRows, windowCliEnv, windowWorker, type MaintenanceStack } from '../workflows/maintenance-helpers';
import { inProcessCli } from '../helpers/cli';

/**
 * `nightshift maintenance recur …` (R-MW-13) on the real Temporal dev server and PostgreSQL: a Schedule
 * that starts a maintenance window per occurrence, announced ahead, never two at once. Commands run
 * in-process as in test/cli/maintenance.test.ts.
 */

jest.setTimeout(180_000);

let stack: MaintenanceStack;
let connection: Connection;
let native: NativeConnection;
let client: Client;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  quietRuntime();
  smtp = await startSmtp();
  stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'), NIGHTSHIFT_SMTP_PORT: String(smtp.port) });
  Object.assign(process.env, windowCliEnv(stack));
  connection = await Connection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await native?.close();
  await stack?.close();
  await smtp?.close();
});

const cli = inProcessCli(registerMaintenanceCommands, 'maintenance');

const scheduleGone = (name: string) => expect(client.schedule.getHandle(maintenanceRecurScheduleId(stack.target, name)).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);

/** Local wall time of an instant in a zone: weekday, HH:mm. */
function wall(d: Date | string, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(d));
}

test('R-MW-13 hostile flags: bad cron, non-IANA zone, bad duration or announcement, overlapping occurrences exit 2 with a clear message and create nothing', async () => {
  const base = ['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--duration', '2h'];
  const cases: [string[], RegExp][] = [
    [[...base, '--cron', '0 25 * * *'], /--cron: hour: "25" is outside 0-23/],
    [[...base, '--cron', '0 22 * *'], /--cron: expected 5 fields/],
    [[...base, '--cron', "0 22 * * 6'; DROP TABLE x; --"], /--cron: /],
    [['recur', '--target', stack.target, '--name', 'bad', '--duration', '2h', '--cron', '0 22 * * 6', '--timezone', 'Mars/Olympus'], /--timezone: "Mars\/Olympus" is not an IANA time zone/],
    [['recur', '--target', stack.target, '--name', 'bad', '--duration', '2h', '--cron', '0 22 * * 6', '--timezone', 'CEST'], /--timezone: "CEST" is not an IANA time zone/],
    [['recur', '--target', stack.target, '--name', 'bad', '--duration', '2h', '--cron', '0 22 * * 6', '--timezone', 'PST'], /--timezone: "PST" is not an IANA time zone.*Area\/City/],
    [['recur', '--target', stack.target, '--name', 'bad', '--duration', '2h', '--cron', '0 22 * * 6', '--timezone', '+02:00'], /--timezone: .* not an IANA time zone/],
    [['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--cron', '0 22 * * 6', '--duration', '0m'], /--duration: the duration must be positive/],
    [['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--cron', '0 22 * * 6', '--duration', 'two hours'], /--duration: "two hours" is not a duration/],
    [['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--cron', '0 22 * * 6', '--duration', '8d'], /--duration: a window lasts at most 7 days/],
    // well-formed but huge: the limit it breaks, not "is not a duration"
    [['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--cron', '0 22 * * 6', '--duration', '99999999h'], /^nightshift: --duration: a window lasts at most 7 days\n$/],
    [[...base, '--cron', '0 22 * * 6', '--announce-ahead', '99999999h'], /^nightshift: --announce-ahead: announce at most 7 days ahead\n$/],
    [[...base, '--cron', '0 22 * * 6', '--type', 'coffee'], /^nightshift: --type: expected database or deployment\n$/],
    [['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--cron', '0 22 * * 6'], /--duration is required/],
    [['recur', '--target', stack.target, '--name', 'bad', '--timezone', 'Europe/Paris', '--duration', '2h'], /--cron is required/],
    [[...base, '--cron', '0 22 * * 6', '--announce-ahead', '90s'], /--announce-ahead: announce a whole number of minutes/],
    [[...base, '--cron', '0 1 1 * *', '--announce-ahead', '2h'], /--announce-ahead: announcing 2h ahead of 01:00 crosses midnight/],
    // the default announcement, which the operator did not type: --cron named, the default said, and how to have none
    [[...base, '--cron', '* * * * *'], /^nightshift: --cron: the minute and the hour must be plain values \(e\.g\. "0 22 \* \* 6" or "30 1,13 \* \* \*"\) when each window is announced ahead \(the default --announce-ahead 1h: the Schedule fires that much earlier\); --announce-ahead 0m announces nothing ahead and takes any cron\n$/],
    [[...base, '--cron', '*/30 * * * *', '--announce-ahead', '2h'], /^nightshift: --cron: the minute and the hour must be plain values .* \(--announce-ahead 2h: /],
    [['recur', '--target', stack.target, '--name', 'Bad Name!', '--timezone', 'Europe/Paris', '--duration', '2h', '--cron', '0 22 * * 6'], /--name: a recurring window's name/],
    [[...base, '--cron', '0 22 * * 6', '--payload', 'patch'], /--payload patch needs --patch-dir/],
    [[...base, '--cron', '0 22 * * 6', '--reason', 'bell\u0007'], /--reason: control characters/],
    // the payload checked as a one-off window's, before the schedule exists (every occurrence would close the target for nothing)
    [[...base, '--cron', '0 22 * * 6', '--payload', 'backup', '--backup-only', 'NOPE,demo0005'], /--backup-only: not dossiers of target .*: NOPE, demo0005; nothing scheduled/],
    [[...base, '--cron', '0 22 * * 6', '--type', 'deployment', '--payload', 'patch', '--patch-dir', path.join(os.tmpdir(), 'no-such-recur-patches')], /no patch directory .*no-such-recur-patches/],
    // every day at 01:00 and 02:00, 2h long: the second would be announced while the first is open
    [[...base, '--cron', '0 1,2 * * *', '--announce-ahead', '30m'], /occurrences would overlap: each window is announced 30m ahead and lasts 2h/],
    // October's Sundays at 02:30, announced at 01:30: the night clocks go back the server fires 01:30 twice, an hour
    // apart (drill T): refused, and said to be the clocks' doing, not the operator's cron
    [[...base, '--cron', '30 2 * 10 SUN'], /occurrences would overlap: .* announced 1h apart; .*; here only because on \d{4}-10-\d\d clocks go back in Europe\/Paris: Temporal's Schedule may start the window announced then \(its start minus --announce-ahead 1h\) of 01:30 twice that night, an hour apart; a time outside 01:00–02:59 runs once\n$/],
    // a word that is no subcommand is named as such (it used to be "too many arguments for 'create'")
    [['recur', 'set', ...base.slice(1), '--cron', '0 22 * * 6'], /maintenance recur: no subcommand 'set' \(create, list, show, pause, unpause, delete/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(...args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  await scheduleGone('bad');
  await expect(client.schedule.getHandle(maintenanceRecurScheduleId(stack.target, 'Bad Name!')).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  const listed = await cli('recur', 'list', '--target', stack.target);
  expect(listed).toMatchObject({ code: 0, stdout: 'no recurring maintenance windows\n' });
  expect((await cli('recur', 'show', 'nothing', '--target', stack.target)).stderr).toMatch(/no recurring window nothing \(schedule maintenance-recur\/.*\/nothing\)/);
});

test('R-MW-13 words of a fixed set in any case: --payload PATCH is a patch window, of type deployment by default', () => {
  const plan = recurInput({ target: stack.target, name: 'words', cron: '0 22 * * 6', timezone: 'Europe/Paris', duration: '2h', announceAhead: '1h', payload: 'PATCH', patchDir: '/srv/patches' });
  expect(plan.template).toMatchObject({ type: 'deployment', payload: { kind: 'patch', manifest: '/srv/patches' } });
  expect(recurInput({ target: stack.target, name: 'words', cron: '0 22 * * 6', duration: '2h', announceAhead: '1h', payload: 'none', type: 'Database' }).template.type).toBe('database');
  // R-PI-11: --on-failure as a one-off window takes it (it was commander's "unknown option")
  // R-MW-13: no announcement, as the refusal of a default one says: any cron, fired as written
  expect(recurInput({ target: stack.target, name: 'words', cron: '*/30 * * * *', duration: '20m', announceAhead: '0m', payload: 'none' }).crons).toEqual(['*/30 * * * *']);
  const rollback = recurInput({ target: stack.target, name: 'words', cron: '0 22 * * 6', duration: '2h', announceAhead: '1h', payload: 'backup+patch', patchDir: '/srv/patches', onFailure: 'ROLLBACK' });
  expect(rollback.template).toMatchObject({ payload: { kind: 'backup+patch' }, onFailure: 'rollback' });
  expect(rollback.description).toContain('payload backup+patch (on failure: rollback)');
  expect(() => recurInput({ target: stack.target, name: 'words', cron: '0 22 * * 6', duration: '2h', announceAhead: '1h', payload: 'backup', onFailure: 'rollback' })).toThrow(/--on-failure rollback goes with --payload backup\+patch/);
});

test('R-MW-13 recur: a Schedule with overlap skip and the time zone, its next occurrences listed in that zone, show, pause, unpause, delete', async () => {
  const created = await cli(
    'recur', '--target', stack.target, '--name', 'weekly', '--cron', '0 22 * * 6', '--timezone', 'Europe/Paris', '--duration', '2h',
    '--announce-ahead', '3h', '--payload', 'backup', '--reason', 'weekly full backup',
  );
  expect(created).toMatchObject({ code: 0, stderr: '' });
  const id = maintenanceRecurScheduleId(stack.target, 'weekly');
  expect(created.stdout).toContain(`created schedule ${id}: Recurring database maintenance window weekly on target ${stack.target}: starts at "0 22 * * 6" (Europe/Paris), lasts 2h, announced 3h ahead, payload backup`);
  const d = await client.schedule.getHandle(id).describe();
  expect(d.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  expect(d.spec.timezone).toBe('Europe/Paris');
  expect(d.state.paused).toBe(false);
  // the Schedule fires at the announcement (3 h before the start); what it does is in its memo and its action's summary (R-OP-1)
  expect(d.info.nextActionTimes.slice(0, 5).map((t) => wall(t, 'Europe/Paris'))).toEqual(Array(5).fill('Sat 19:00'));
  expect(d.memo).toMatchObject({ cron: '0 22 * * 6', durationSeconds: 7200, announceAheadSeconds: 10_800 });
  expect(String(d.memo?.description)).toMatch(/^Recurring database maintenance window weekly .*an occurrence is refused while another window of the target is scheduled or open \(recur show says why\): weekly full backup$/);
  if (d.action.type !== 'startWorkflow') throw new Error('expected a startWorkflow action');
  expect(d.action).toMatchObject({ workflowType: WORKFLOW.maintenanceWindow, workflowId: recurringWindowWorkflowId(stack.target, 'weekly'), staticSummary: d.memo?.description });
  expect(d.action.args?.[0]).toMatchObject({ target: stack.target, type: 'database', payload: { kind: 'backup' }, message: 'weekly full backup', displayTimeZone: 'Europe/Paris', recurrence: { scheduleId: id, announceAheadSeconds: 10_800 } });

  const listed = await cli('recur', 'list', '--target', stack.target, '--json');
  expect(listed.code).toBe(0);
  const [view] = JSON.parse(listed.stdout);
  expect(view).toMatchObject({ scheduleId: id, name: 'weekly', target: stack.target, cron: '0 22 * * 6', timezone: 'Europe/Paris', payload: 'backup', paused: false });
  expect(view.next).toHaveLength(5);
  for (const o of view.next) {
    expect([wall(o.announcedAt, 'Europe/Paris'), wall(o.startsAt, 'Europe/Paris'), wall(o.endsAt, 'Europe/Paris')]).toEqual(['Sat 19:00', 'Sat 22:00', 'Sun 00:00']);
  }
  const text = await cli('recur', 'list', '--target', stack.target);
  expect(text.stdout).toContain(`${stack.target}/weekly (schedule ${id})`);
  expect(text.stdout).toMatch(/^ {2}windows {9}start at "0 22 \* \* 6" \(Europe\/Paris\), last 2h, announced 3h ahead, payload backup$/m);
  expect(text.stdout).toMatch(/^ {2}next windows {4}\d\d\/\d\d\/\d{4} 22:00-\d\d\/\d\d\/\d{4} 00:00 \(announced from \d\d\/\d\d\/\d{4} 19:00\)$/m);
  expect(text.stdout.match(/^ {18}\d\d\/\d\d\/\d{4} 22:00-/gm)).toHaveLength(4);

  const shown = await cli('recur', 'show', 'weekly', '--target', stack.target);
  expect(shown).toMatchObject({ code: 0, stderr: '' });
  expect(shown.stdout).toMatch(/^ {2}overlap policy {2}skip \(no run starts while one is running\)$/m);
  expect(shown.stdout).toMatch(/^ {2}cron {12}0 19 \* \* 6$/m);

  // R-MW-2: a second recurring window whose occurrences meet this one's is created, with a warning naming the clash
  const clash = await cli('recur', '--target', stack.target, '--name', 'clash', '--cron', '30 22 * * 6', '--timezone', 'Europe/Paris', '--duration', '1h', '--announce-ahead', '10m');
  expect(clash.code).toBe(0);
  expect(clash.stdout).toMatch(/^warning: its window of \d\d\/\d\d\/\d{4} 22:30 meets one of the recurring window weekly \(announced to its end\), 5 of the next 5 occurrences in all: only one window per target at a time, the later one is refused when it fires \(R-MW-2\)/m);
  // tester A bug 4: an hourly window's next 10 occurrences never reach Saturday: its clashes are computed from the crons
  // over 5 weeks (every Saturday 19:00-00:00 meets five of them: 19:15 … 23:15)
  const hourly = await cli('recur', '--target', stack.target, '--name', 'hourly', '--cron', '15 * * * *', '--timezone', 'Europe/Paris', '--duration', '30m', '--announce-ahead', '0m', '--json');
  expect(hourly.code).toBe(0);
  const hourlyWarnings: string[] = JSON.parse(hourly.stdout).warnings;
  expect(hourlyWarnings).toContainEqual(expect.stringMatching(/^its window of \d\d\/\d\d\/\d{4} \d\d:15 meets one of the recurring window weekly \(announced to its end\), (2[4-9]|30) of the next 8\d\d occurrences in all: /));
  expect(await cli('recur', 'delete', 'hourly', '--target', stack.target)).toMatchObject({ code: 0 });
  const apart = await cli('recur', '--target', stack.target, '--name', 'apart', '--cron', '0 10 * * 3', '--timezone', 'Europe/Paris', '--duration', '1h', '--json');
  expect(JSON.parse(apart.stdout).warnings).toEqual([]);
  expect(await cli('recur', 'delete', 'clash', '--target', stack.target)).toMatchObject({ code: 0 });
  expect(await cli('recur', 'delete', 'apart', '--target', stack.target)).toMatchObject({ code: 0 });

  // R-MW-2 the other way round (tester A): a one-off window scheduled weeks ahead holds the target until its end, so the
  // weekly occurrences announced before then are refused: `maintenance schedule` says so before scheduling it
  const threeWeeks = Date.now() + 21 * 86_400_000;
  const refused = await occurrencesRefusedBy(client, stack.target, threeWeeks);
  expect(refused).toEqual([expect.stringMatching(/^[34] occurrence\(s\) of the recurring window weekly fire before this window ends, from \d\d\/\d\d\/\d{4} 22:00: each is refused \(one window per target at a time, R-MW-2\), shown by recur show and mailed to its --notify; pause it meanwhile \('nightshift maintenance recur pause weekly'\) if that is meant$/)]);
  expect(await occurrencesRefusedBy(client, stack.target, Date.now() + 60_000)).toEqual([]);

  const again = await cli('recur', '--target', stack.target, '--name', 'weekly', '--cron', '0 22 * * 6', '--timezone', 'Europe/Paris', '--duration', '2h');
  expect(again.code).toBe(2);
  expect(again.stderr).toContain(`schedule ${id} already exists: delete it first`);

  expect(await cli('recur', 'pause', 'weekly', '--target', stack.target)).toMatchObject({ code: 0, stdout: `${id}: paused\n` });
  expect((await client.schedule.getHandle(id).describe()).state).toMatchObject({ paused: true, note: 'paused with nightshift maintenance recur pause' });
  const paused = await cli('recur', 'list', '--target', stack.target);
  expect(paused.stdout).toContain(`${stack.target}/weekly (schedule ${id}) PAUSED`);
  expect(paused.stdout).toMatch(/^ {2}next windows {4}\(none while paused\)$/m);
  expect(await cli('recur', 'unpause', 'weekly', '--target', stack.target)).toMatchObject({ code: 0, stdout: `${id}: resumed\n` });
  expect((await client.schedule.getHandle(id).describe()).state.paused).toBe(false);
  expect(await cli('recur', 'delete', 'weekly', '--target', stack.target)).toMatchObject({ code: 0, stdout: `${id}: deleted\n` });
  await scheduleGone('weekly');
  expect(await windowRows(stack.pool)).toHaveLength(0);
});

test('R-MW-13 occurrences: a triggered occurrence is announced ahead then runs; a second trigger while it is open is skipped; one arriving while another window is open is refused visibly', async () => {
  const name = 'ticks';
  const scheduleId = maintenanceRecurScheduleId(stack.target, name);
  const template: MaintenanceWindowInput = {
    ...windowInput(stack.target, 0, { graceSeconds: 0 }),
    startsAt: RECUR_TEMPLATE_START,
    endsAt: new Date(Date.parse(RECUR_TEMPLATE_START) + 8_000).toISOString(),
    message: 'recurring test window',
    displayTimeZone: 'Europe/Paris',
    recurrence: { scheduleId, announceAheadSeconds: 5 },
    notify: ['ops-recur@example.com'],
  };
  const handle = await client.schedule.create({
    scheduleId,
    // never fires by itself within the test: the occurrences are triggered
    spec: { cronExpressions: ['0 3 1 1 *'], timezone: 'Europe/Paris' },
    action: recurringWindowAction(template, { taskQueue: stack.config.temporal.taskQueue, workflowId: recurringWindowWorkflowId(stack.target, name), summary: 'recurring test window' }),
    policies: { overlap: ScheduleOverlapPolicy.SKIP },
  });
  const worker = await windowWorker(native, stack);
  try {
    await worker.runUntil(async () => {
      await handle.trigger(ScheduleOverlapPolicy.SKIP);
      const running = await eventually(() => handle.describe(), (x) => x.info.runningActions.length === 1, 'the first occurrence');
      const workflowId = running.info.runningActions[0]!.workflow.workflowId;
      expect(workflowId).toMatch(new RegExp(`^maintenance/${stack.target}/${name}-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
      const occurrence = client.workflow.getHandle(workflowId);
      const described = await occurrence.describe();
      expect([described.typedSearchAttributes.get(NightshiftTarget), described.typedSearchAttributes.get(NightshiftKind)]).toEqual([stack.target, 'maintenance']);
      expect(await described.staticSummary()).toBe('recurring test window');
      const firedAt = Date.parse(workflowId.slice(-20));

      // announced: the row is scheduled, starting 5 s after the occurrence fired, for 8 s (R-MW-4 as a one-off window)
      const announced = await eventually(() => occurrence.query(maintenanceStatusQuery), (s) => s.windowId !== undefined, 'the occurrence row');
      expect(announced).toMatchObject({ state: 'scheduled', startsAt: new Date(firedAt + 5_000).toISOString(), endsAt: new Date(firedAt + 13_000).toISOString(), message: 'recurring test window' });
      const [row] = await windowRows(stack.pool);
      expect(row).toMatchObject({ state: 'scheduled', startsAt: new Date(firedAt + 5_000) });
      // `maintenance status` finds the occurrence through its row (its id is not maintenance/{target})
      const status = await cli('status', '--target', stack.target, '--json');
      expect(JSON.parse(status.stdout)).toMatchObject({ gateState: 'announced', workflow: { workflowId, state: 'scheduled' } });

      // a second occurrence while this one is open: skipped by the Schedule
      await handle.trigger(ScheduleOverlapPolicy.SKIP);
      const skipped = await eventually(() => handle.describe(), (x) => x.info.numActionsSkippedOverlap >= 1, 'the skipped occurrence');
      expect(skipped.info.runningActions.map((a) => a.workflow.workflowId)).toEqual([workflowId]);
      expect((await cli('recur', 'list', '--target', stack.target)).stdout).toMatch(new RegExp(`^ {2}open now {8}${workflowId}\\n {2}skipped {9}1 occurrence\\(s\\), a window of the target being open$`, 'm'));

      // then it runs like a one-off window: in progress from its start, completed at its end
      const result = await occurrence.result();
      expect(result.status).toMatchObject({ state: 'completed', phase: 'completed' });
      expect(result.status.phases.map((p: { phase: string }) => p.phase)).toEqual(expect.arrayContaining(['scheduled', 'closing_sessions', 'working', 'checking', 'restoring', 'completed']));
      const inProgressAt = Date.parse(result.status.phases.find((p: { phase: string }) => p.phase === 'closing_sessions')!.at);
      expect(inProgressAt).toBeGreaterThanOrEqual(firedAt + 5_000);

      // a one-off window is open: the next occurrence is refused with the reason, visible as a failed workflow
      const oneOff = await startMaintenanceWindow(client, windowInput(stack.target, Date.now(), { inMinutes: 30 }), { taskQueue: stack.config.temporal.taskQueue });
      await eventually(() => oneOff.query(maintenanceStatusQuery), (s) => s.windowId !== undefined, 'the one-off window row');
      await handle.trigger(ScheduleOverlapPolicy.SKIP);
      const refusedRun = await eventually(
        () => handle.describe(),
        (x) => x.info.recentActions.length === 2 && x.info.runningActions.length === 0,
        'the refused occurrence to end',
        40_000,
      );
      const refusedId = refusedRun.info.recentActions[1]!.action.workflow.workflowId;
      const refused = await client.workflow.getHandle(refusedId).result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(WorkflowFailedError);
      expect((await client.workflow.getHandle(refusedId).describe()).status.name).toBe('FAILED');
      // R-OP-1 R-MW-2: the Web UI says why too: the failure's own message (not "Activity task failed"), of the type the CLI
      // names, the list's phase failed (not "scheduled"), and details that say "Not started" with no window times
      expect((refused as WorkflowFailedError).cause?.message).toMatch(new RegExp(`^target ${stack.target} already has a .*: cancel it first$`));
      expect(failureTypeOf(refused)).toBe(MaintenanceFailure.WindowExists);
      const refusedHandle = client.workflow.getHandle(refusedId);
      expect((await refusedHandle.describe()).typedSearchAttributes.get(NightshiftPhase)).toBe('failed');
      const details = (await refusedHandle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
      expect(details).toMatch(/^\*\*\w+\*\* maintenance on \*\*[^*]+\*\*: phase \*\*failed\*\*\n\nNot started: target \S+ already has a .*: cancel it first$/);
      // recur show names why (it used to say "failed" alone)
      const shown = await cli('recur', 'show', name, '--target', stack.target);
      expect(shown.stdout).toMatch(new RegExp(`${refusedId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} {2}failed: target ${stack.target} already has a .*: cancel it first`));
      // drill W: the refused occurrence is mailed to --notify (the nightly maintenance stopped and nobody was told)
      const refusedMail = await eventually(
        async () => smtp.messages.filter((m) => m.to.includes('ops-recur@example.com') && subjectOf(m.raw).includes('annulée')),
        (m) => m.length === 1,
        'the refused occurrence mail',
      );
      expect(bodyOf(refusedMail[0]!.raw)).toMatch(new RegExp(`prévue par la récurrence ${name} n'a pas eu lieu : target ${stack.target} already has a .*Le service n'a pas été interrompu`, 's'));
      await oneOff.executeUpdate(cancelMaintenanceUpdate);
    });
  } finally {
    await handle.delete().catch(() => {});
  }
});

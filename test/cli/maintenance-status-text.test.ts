import { rowStatusText, statusText } from '../../cli/commands/maintenance';
import type { MaintenanceStatus } from '../../workflows/maintenance-window.api';

/** `maintenance status`'s text from the window's status (what the Web UI's details show too: R-OP-1). */

beforeAll(() => {
  process.env.TZ = 'Europe/Paris';
});

const base: MaintenanceStatus = {
  target: 'main',
  workflowId: 'maintenance/main',
  windowId: 'w',
  type: 'database',
  startsAt: '2026-12-04T20:00:00.000Z',
  endsAt: '2026-12-04T22:00:00.000Z',
  payload: { kind: 'backup' },
  graceSeconds: 60,
  startWhenDrained: false,
  dbDrain: false,
  notify: [],
  state: 'completed',
  phase: 'completed',
  openSessions: 0,
  sessionsToClose: 0,
  forcedSessions: 0,
  terminatedBackends: 0,
  phases: [
    { phase: 'working', at: '2026-12-04T20:01:00.000Z' },
    { phase: 'completed', at: '2026-12-04T20:41:30.000Z' },
  ],
} as MaintenanceStatus;

test('R-MW-10: a window that ended says when, beside its planned times', () => {
  expect(statusText(base)).toMatch(/^ {2}from 04\/12\/2026 21:00 to 04\/12\/2026 23:00 \([^)]+\); ended 04\/12\/2026 21:41$/m);
  expect(statusText({ ...base, state: 'in_progress', phase: 'working' })).toMatch(/^ {2}from 04\/12\/2026 21:00 to 04\/12\/2026 23:00 \([^)]+\)$/m);
});

test('R-MW-10: a window with more failures than it shows says how many and where they all are', () => {
  const failures = Array.from({ length: 10 }, (_, i) => ({ code: `D${i}`, status: 'failed', error: 'boom' }));
  const text = statusText({ ...base, state: 'in_progress', phase: 'failed', failure: 'the payload failed 326 dossier(s)', failures, failuresTotal: 326 });
  expect(text).toContain('    D9: boom\n    (the last 10 of 326; the payload run\'s status lists them all)');
  expect(statusText({ ...base, state: 'in_progress', phase: 'failed', failure: 'x', failures: failures.slice(0, 3), failuresTotal: 3 })).not.toContain('the last');
});

test('R-MW-12, R-MW-10: a failed window since cancelled says so with its reason, advises the retry and no reopen', () => {
  const failure = 'backup run 8 partial: 3 of 9 dossier(s) not backed up (report: none): "nightshift backup retry --target main --run 8", then reopen';
  const failed = { ...base, state: 'in_progress', phase: 'failed', failure, payloadRun: { kind: 'backup', workflowId: 'backup/main/x', runId: '8', state: 'partial' } } as MaintenanceStatus;
  // while failed: FAILED, the retry, then the reopen
  expect(statusText({ ...failed, nextSteps: undefined })).toContain(`  FAILED: ${failure}`);
  const cancelled = { ...failed, state: 'cancelled', phase: 'cancelled', phases: [...base.phases, { phase: 'cancelled', at: '2026-12-04T20:50:00.000Z' }] } as MaintenanceStatus;
  // what a workflow that ran before this rule reports (its failed-phase steps kept), and one with none at all
  for (const nextSteps of [[{ text: 'Then give access back', command: 'nightshift maintenance reopen --target main' }], undefined]) {
    const text = statusText({ ...cancelled, nextSteps });
    expect(text).toMatch(/^database maintenance on main: cancelled \(phase cancelled\)$/m);
    expect(text).toContain('  cancelled after a failure: backup run 8 partial: 3 of 9 dossier(s) not backed up (report: none): "nightshift backup retry --target main --run 8"\n');
    expect(text).toContain('  Back up the dossiers not backed up (the window was cancelled): nightshift backup retry --target main --run 8');
    expect(text).not.toMatch(/reopen|FAILED/);
  }
  // a failure with no run left to retry: nothing to advise
  const noRun = statusText({ ...cancelled, failure: 'post-check: the target database does not answer', payloadRun: undefined });
  expect(noRun).toContain('  cancelled after a failure: post-check: the target database does not answer');
  expect(noRun).not.toMatch(/reopen|retry/);
});

test('R-MW-11 (drill W): a window still closed past its planned end says it overruns, and for how long', () => {
  const running = { ...base, state: 'in_progress', phase: 'working' } as MaintenanceStatus;
  expect(statusText(running, undefined, Date.parse('2026-12-04T22:25:30Z'))).toContain(
    "\n  OVERRUNNING: its planned end passed 25 min ago; access comes back once the work in it has ended ('nightshift maintenance extend' gives users a new end)\n",
  );
  expect(statusText(running, undefined, Date.parse('2026-12-04T21:59:00Z'))).not.toContain('OVERRUNNING');
  expect(statusText({ ...running, phase: 'failed' } as MaintenanceStatus, undefined, Date.parse('2026-12-04T23:00:00Z'))).not.toContain('OVERRUNNING');
});

test('SSM cutoff: status shows the cutoff of a window with a payload, and a payload the cutoff left unstarted; the overrun mail once sent', () => {
  expect(statusText({ ...base, cutoffSeconds: 1800 })).toContain('\n  payload backup, drain grace 60 s, cutoff 30m (not started with less left before the end)\n');
  // work by hand ignores it
  expect(statusText({ ...base, payload: { kind: 'none' }, cutoffSeconds: 1800 })).not.toContain('cutoff');
  const cut = statusText({ ...base, cutoffSeconds: 1800, cutoffReached: { remainingSeconds: 12 * 60 + 30, cutoffSeconds: 1800, at: '2026-12-04T21:47:30.000Z' } });
  expect(cut).toContain('\n  payload not started: cutoff (12 min left before the planned end, cutoff 30m): access given back without it; schedule a new window for it\n');
  const over = statusText({ ...base, state: 'in_progress', phase: 'working', overrun: { at: '2026-12-04T22:00:00.000Z', mailed: true } } as MaintenanceStatus, undefined, Date.parse('2026-12-04T22:10:00Z'));
  expect(over).toContain('OVERRUNNING: its planned end passed 10 min ago');
  expect(over).toContain('\n  the planned end passed at 04/12/2026 23:00 while the payload ran: --notify was told\n');
  // tester A bug 5: the planned end passed while the sessions were still being closed: said so, not "while the payload ran"
  const inDrain = statusText({ ...base, state: 'in_progress', phase: 'working', overrun: { at: '2026-12-04T22:00:00.000Z', mailed: true, during: 'closing_sessions' } } as MaintenanceStatus, undefined, Date.parse('2026-12-04T22:10:00Z'));
  expect(inDrain).toContain('\n  the planned end passed at 04/12/2026 23:00 while its sessions were being closed (the payload not started yet): --notify was told\n');
  // tester A bug 3: a window completed while its sessions were being closed
  expect(statusText({ ...base, payload: { kind: 'none' }, state: 'completed', phase: 'completed', completedEarly: true } as MaintenanceStatus)).toContain(
    '\n  completed early, before its work began: close orders withdrawn, no session closed by force (R-MW-7)',
  );
});

test('R-PI-11 R-MW-10 R-OP-1 (no worker answering): a window failed by its post-checks after --on-failure rollback says the rollback run and advises reopen first, then the retry, as its workflow does', () => {
  const row = {
    id: 'w',
    workflowId: 'maintenance/main',
    type: 'deployment',
    state: 'in_progress',
    phase: 'failed',
    startsAt: new Date('2026-12-04T20:00:00Z'),
    endsAt: new Date('2026-12-04T22:00:00Z'),
    preventLoginsFrom: null,
    message: null,
    createdAt: new Date('2026-12-04T19:00:00Z'),
    finishedAt: null,
    outcome: 'failed: post-checks: dossier DEMO0001: schema d_DEMO0001 is missing',
    cutoffSeconds: null,
  } as const;
  const patchRun = { kind: 'patch', id: '7', workflowId: 'patch/main/1', state: 'partial', notDone: 2, notStarted: null } as const;
  const rollback = { kind: 'rollback', id: '3', workflowId: 'patch-rollback/main/1', state: 'completed', notDone: null, notStarted: null } as const;
  const runs = [{ run: patchRun, failures: [{ code: 'DEMO0003', error: 'blocker present' }, { code: 'DEMO0005', error: 'blocker present' }] }];
  const text = rowStatusText(row, 'main', runs, rollback);
  expect(text).toContain("\n  rollback run 3 (patch-rollback/main/1): completed: the payload's failed dossiers back to their restore point (R-PI-11)\n");
  const steps = text.split('\n').filter((l) => /^ {2}\S.*: nightshift /.test(l));
  expect(steps).toEqual([
    '  Fix what the post-checks found, then give access back: nightshift maintenance reopen --target main',
    '  Fix the rolled-back dossiers, then patch them again inside a window: nightshift patch retry --target main --run 7',
    '  or give access back without the checks (R-MW-12): nightshift maintenance cancel --target main',
  ]);
  // without a rollback: the retry first, then reopen (the payload's failure is the window's)
  const plain = rowStatusText({ ...row, outcome: 'failed: 2 dossier(s) not patched' }, 'main', runs).split('\n').filter((l) => /^ {2}\S.*: nightshift /.test(l));
  expect(plain[0]).toContain('nightshift patch retry --target main --run 7');
  expect(plain[1]).toContain('nightshift maintenance reopen --target main');
});

test('R-PI-11 R-OP-1: a window whose payload was rolled back names the dossiers rolled back in its status, as the Web UI does (also once reopened)', () => {
  const rollbackRun = { kind: 'rollback' as const, workflowId: 'patch-rollback/main/1', runId: '3', state: 'completed', restored: 3, codes: ['DEMO0003', 'DEMO0005'] };
  expect(statusText({ ...base, rollbackRun, reopenedAfter: 'post-checks: dossier DEMO0001: schema d_DEMO0001 is missing' } as MaintenanceStatus)).toContain(
    '\n  on failure: rollback patch-rollback/main/1 (completed), 3 dossier(s) rolled back: DEMO0003, DEMO0005 and 1 more\n',
  );
});

test('AWS SSM MaxErrors, R-PI-2: a patch run started by hand in the window counts its dossiers not started, as maintenance list does', () => {
  const text = statusText({ ...base, linkedRuns: [{ kind: 'patch', workflowId: 'patch/main/x', runId: '5', state: 'partial', notDone: 4, notStarted: 7 }] } as MaintenanceStatus);
  expect(text).toContain('  started by hand in the window: patch patch/main/x (partial, 4 dossier(s) not done, 7 not started (--max-failures stopped it))');
});

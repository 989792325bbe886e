import { renderWindowDetails, windowNextSteps, type WindowFacts } from '../../domain/maintenance-details';

/** What the Web UI shows of a window (current details) against what `maintenance status` prints (R-OP-1). */

const paris = 'Europe/Paris';
const window: WindowFacts = {
  target: 'main',
  workflowId: 'maintenance/main',
  type: 'database',
  state: 'scheduled',
  phase: 'scheduled',
  startsAt: '2026-05-11T20:00:00Z',
  endsAt: '2026-05-11T22:00:00Z',
  payload: { kind: 'patch' },
  openSessions: null,
  sessionsToClose: null,
  forcedSessions: 0,
};
const failure = 'patch payload: patch run 1: 2 dossier(s) failed (DEMO0008, DEMO0012): "nightshift patch retry --target main --run 1", then reopen';
const afterFailure: WindowFacts = {
  ...window,
  state: 'in_progress',
  phase: 'failed',
  payloadRun: { kind: 'patch', workflowId: 'patch/main/20260511T200500Z', runId: '1', state: 'partial' },
  failure,
  failures: [
    { code: 'DEMO0008', status: 'failed', error: 'patch 1 failed in dossier DEMO0008: relation t_x does not exist' },
    { code: 'DEMO0012', status: 'failed', error: 'patch 1 failed in dossier DEMO0012: blocker present' },
  ],
  failuresTotal: 2,
  phases: [
    { phase: 'scheduled', at: '2026-05-11T19:00:00Z' },
    { phase: 'failed', at: '2026-05-11T20:10:00Z' },
  ],
};

test('R-OP-1 R-MW-2: a window refused before it existed says "Not started" and why, with no window times', () => {
  const refused = 'target main already has a deployment window scheduled from 16/05/2026 07:00 to 16/05/2026 07:30 (workflow maintenance/main): cancel it first';
  const details = renderWindowDetails({ ...window, phase: 'failed', refused }, paris, 'default');
  expect(details).toBe(`**database** maintenance on **main**: phase **failed**\n\nNot started: ${refused}`);
  expect(details).not.toMatch(/FAILED|reopen|11\/05\/2026|starting/);
  expect(windowNextSteps({ ...window, phase: 'failed', refused })).toEqual([]);
});

test('R-OP-1 R-MW-10: a failed window gives its failure and its dossiers, and the retry then reopen', () => {
  const details = renderWindowDetails(afterFailure, paris, 'default');
  expect(details).toMatch(/^\*\*FAILED\*\*: the target stays closed until reopen/);
  expect(details).toContain('Failure: patch payload: patch run 1: 2 dossier(s) failed (DEMO0008, DEMO0012)');
  expect(details).toContain('- DEMO0008: patch 1 failed in dossier DEMO0008: relation t\\_x does not exist');
  expect(details).toContain('`nightshift maintenance reopen --target main`');
});

test('R-OP-1 R-MW-12: a window cancelled after a failure keeps the failure and its dossiers, and says when it was cancelled', () => {
  const cancelled: WindowFacts = { ...afterFailure, state: 'cancelled', phase: 'cancelled', phases: [...afterFailure.phases!, { phase: 'cancelled', at: '2026-05-11T22:13:00Z' }] };
  const details = renderWindowDetails(cancelled, paris, 'default');
  expect(details).toContain('**cancelled 12/05/2026 00:13**');
  expect(details).toContain('Cancelled after a failure: patch payload: patch run 1: 2 dossier(s) failed (DEMO0008, DEMO0012): "nightshift patch retry --target main --run 1"\n');
  expect(details).not.toContain('then reopen');
  expect(details).toContain('- DEMO0008: patch 1 failed');
  expect(details).toContain('- DEMO0012: patch 1 failed in dossier DEMO0012: blocker present');
  expect(details).toContain('Gate: **open**');
  expect(details).not.toMatch(/FAILED|maintenance reopen/);
});

test('R-OP-1 R-MW-10: a window reopened after a failure says which, with its dossiers, and when it ended; nothing says FAILED', () => {
  const reopened: WindowFacts = {
    ...window,
    state: 'completed',
    phase: 'completed',
    reopenedAfter: 'dossier DEMO0012: schema d_DEMO0012 is missing',
    failures: [{ code: 'DEMO0012', status: 'post-check', error: 'schema d_DEMO0012 is missing' }],
    failuresTotal: 1,
    phases: [{ phase: 'completed', at: '2026-05-11T21:05:00Z' }],
  };
  const details = renderWindowDetails(reopened, paris, 'default');
  expect(details).toContain('Reopened by the operator after a failure (R-MW-10): dossier DEMO0012: schema d\\_DEMO0012 is missing');
  expect(details).toContain('- DEMO0012: schema d\\_DEMO0012 is missing');
  expect(details).toContain('**ended 11/05/2026 23:05**');
  expect(details).not.toMatch(/FAILED|maintenance reopen/);
});

test('R-OP-1 R-MW-10: a failure without dossiers is said once, with its type', () => {
  const drain = 'database drain (R-MW-8): GRANT CONNECT ON DATABASE x TO nightshift first';
  const details = renderWindowDetails({ ...afterFailure, payloadRun: undefined, failure: drain, failures: [{ code: 'DbDrainRefused', status: 'failed', error: drain }], failuresTotal: 1 }, paris, 'default');
  expect(details).toContain('Failure (DbDrainRefused): database drain (R-MW-8): GRANT CONNECT');
  expect(details).not.toContain('Latest failures');
});

test('R-OP-1 R-MW-4 R-MW-5 R-MW-10: a scheduled window gives the gate state and the notification list, as maintenance status does', () => {
  const details = renderWindowDetails({ ...window, notify: ['ops@example.org', 'dba@example.org'] }, paris, 'default');
  expect(details).toContain('Gate: **announced** (logins accepted with a warning)');
  expect(details).toContain('Notify: ops@example.org, dba@example.org');
  expect(renderWindowDetails({ ...window, phase: 'blocking_logins' }, paris, 'default')).toContain('Gate: **announced** (new logins refused, open sessions go on)');
  expect(renderWindowDetails({ ...window, state: 'in_progress', phase: 'draining' }, paris, 'default')).toContain('Gate: **closed** (logins refused)');
});

test('R-OP-1 AWS SSM MaxErrors: a patch payload with --max-failures says it in the Web UI, as `maintenance status` does', () => {
  const details = renderWindowDetails({ ...window, payload: { kind: 'patch', maxFailures: { percent: 5 } } }, paris, 'default');
  expect(details).toContain('Max failures: 5% (the patch run stops starting dossiers once more have failed, AWS SSM MaxErrors)');
  expect(renderWindowDetails(window, paris, 'default')).not.toContain('Max failures');
});

test('AWS SSM MaxErrors: a window failed by a patch run --max-failures stopped: its retry takes the failed dossiers and those not started, then reopen', () => {
  const stopped: WindowFacts = { ...afterFailure, payloadRun: { ...afterFailure.payloadRun!, notStarted: 7 } };
  expect(windowNextSteps(stopped)).toEqual([
    { text: 'Retry the dossiers not patched; the retry also takes the 7 dossier(s) the patch run did not start (--max-failures stopped it)', command: 'nightshift patch retry --target main --run 1' },
    { text: 'Then give access back', command: 'nightshift maintenance reopen --target main' },
  ]);
  // without the stop, as before
  expect(windowNextSteps(afterFailure)[0]).toEqual({ text: 'Retry the dossiers not patched', command: 'nightshift patch retry --target main --run 1' });
});

test('R-PI-11 R-MW-10 R-OP-1: failed dossiers rolled back, then a failed post-check: reopen first (not a patch retry), then the retry of the rolled-back dossiers; the details name them', () => {
  const postCheck: WindowFacts = {
    ...afterFailure,
    payload: { kind: 'backup+patch' },
    rollbackRun: { kind: 'rollback', workflowId: 'patch-rollback/main/20260511T200800Z', runId: '4', state: 'completed', restored: 1, codes: ['DEMO0030'] },
    failure: 'post-checks: dossier AAA1: schema d_AAA1 is missing',
    failures: [
      { code: 'DEMO0030', status: 'failed', error: 'patch 13 failed in dossier DEMO0030: check constraint' },
      { code: 'AAA1', status: 'post-check', error: 'schema d_AAA1 is missing' },
    ],
    failuresTotal: 2,
  };
  const retry = 'nightshift patch retry --target main --run 1';
  expect(windowNextSteps(postCheck)).toEqual([
    { text: 'Fix what the post-checks found, then give access back', command: 'nightshift maintenance reopen --target main' },
    { text: 'Fix the rolled-back dossiers, then patch them again inside a window', command: retry },
  ]);
  const details = renderWindowDetails(postCheck, paris, 'default');
  expect(details).toContain('**1** failed dossier(s) rolled back to their restore point (R-PI-11): DEMO0030');
  expect(details).toContain('Failure: post-checks: dossier AAA1: schema d\\_AAA1 is missing');
  expect(details).toContain('- DEMO0030: patch 13 failed in dossier DEMO0030: check constraint');
  expect(details).toContain('- AAA1: schema d\\_AAA1 is missing');
  expect(details).not.toContain('Retry the dossiers not patched');
  // reopened: the retry of the rolled-back dossiers only, as for a window that went on without a failure
  expect(windowNextSteps({ ...postCheck, state: 'completed', phase: 'completed', failure: undefined, reopenedAfter: postCheck.failure })).toEqual([
    { text: 'Fix the rolled-back dossiers, then patch them again inside a window', command: retry },
  ]);
  // more dossiers restored than the rollback names: counted
  expect(renderWindowDetails({ ...postCheck, rollbackRun: { ...postCheck.rollbackRun!, restored: 25 } }, paris, 'default')).toContain('rolled back to their restore point (R-PI-11): DEMO0030 and 24 more');
});

import { maintenanceMailText } from '../../domain/maintenance-text';
import { patchIntegrateCommand, retryAboveSupervisorProblem } from '../../domain/patch';

/** R-PI-4: a retry never leaves dossiers above the supervisor; the mail points to the command that lists every failure. */

const base = { target: 'main', runId: 4, upTo: 4, supervisor: { code: 'DEMO0001', level: 3 }, supervisorRetried: false, dir: '/srv/patches/p4' };

test('R-PI-4: the supervisor below the run rolled back: refused, naming its level and the integrate command', () => {
  expect(retryAboveSupervisorProblem(base, 'nothing started')).toBe(
    'patch run 4 brings dossiers to patch 4 but the supervisor DEMO0001 is at level 3 (rolled back since?): a retry would leave dossiers above the supervisor (R-PI-4), ' +
      'nothing started; integrate the patches again, supervisor first: nightshift patch integrate /srv/patches/p4 --target main',
  );
});

test('R-PI-4: a retry may go when the supervisor is at the run level, or when the retry takes the supervisor first', () => {
  expect(retryAboveSupervisorProblem({ ...base, supervisor: { code: 'DEMO0001', level: 4 } })).toBeUndefined();
  expect(retryAboveSupervisorProblem({ ...base, supervisorRetried: true })).toBeUndefined();
  expect(retryAboveSupervisorProblem({ ...base, supervisor: null })).toBeUndefined();
});

test('the integrate command quotes a folder a shell would split, and names DIR when the folder is unknown', () => {
  expect(patchIntegrateCommand('main', "/srv/my patches/it's")).toBe(`nightshift patch integrate '/srv/my patches/it'\\''s' --target main`);
  expect(patchIntegrateCommand('main', null)).toBe('nightshift patch integrate DIR --target main');
});

test("R-PI-11 mail: more failed dossiers than it names: it points to the command listing every one of that run", () => {
  const dossiers = Array.from({ length: 20 }, (_, i) => ({ code: `D${i}`, error: 'blocker present' }));
  const { text } = maintenanceMailText(
    'main',
    { kind: 'completed', to: [], type: 'deployment', startsAt: '2020-09-14T21:25:00Z', endsAt: '2020-09-14T21:30:00Z', rolledBack: { failed: 408, restored: 408, retryCommand: 'nightshift patch retry --target main --run 4', dossiers } },
    'APP',
    'Europe/Paris',
    new Date('2020-09-14T21:30:00Z'),
  );
  expect(text).toContain('(et 388 autre(s) : nightshift patch status --target main --run 4)\n');
});

import { progressLine } from '../../cli/commands/backup-restore-run';
import type { RestoreRunProgress } from '../../workflows/backup-restore-run.api';

/** `backup restore --all|--codes --wait`: the progress line it prints while the run works (R-OP-1: the details say the same counts). */

const progress = (over: Partial<RestoreRunProgress>): RestoreRunProgress => ({
  runId: 7,
  workflowId: 'backup-restore-run/main/20261205T100000Z',
  target: 'main',
  phase: 'dossiers',
  prerequisites: [],
  notes: [],
  total: 120,
  done: 45,
  failed: 2,
  scope: 'every dossier of the generations catalog',
  restored: 40,
  kept: 3,
  ...over,
});

test('R-BK-11: --wait says each phase, and in the dossiers phase how many are done of how many, restored, kept and failed', () => {
  expect(progressLine(progress({ phase: 'prerequisites', runId: null }))).toBe('prerequisites');
  expect(progressLine(progress({ phase: 'selecting' }))).toBe('selecting (restore run 7)');
  expect(progressLine(progress({}))).toBe('dossiers (restore run 7): 45 / 120 done: 40 restored, 3 kept (already there), 2 failed');
});

import { faultAdvice } from '../../domain/patch';
import { adviceLines, levelSummary, othersToRevalidate, progressText, resultText, rolledBackText, runAdvice, runNotesLines, runText, type RunOutcome } from '../../cli/commands/patch';
import type { PatchProgress, PatchRunResult } from '../../workflows/patch-integration.api';

/** `patch status` at thousands of dossiers and `patch integrate --wait`'s progress (R-PI-9, R-OP-1). */

test('R-PI-9: above 50 dossiers, patch status counts them per level, highest first, the few behind named', () => {
  const dossiers = [
    ...Array.from({ length: 2100 }, (_, i) => ({ code: `BIG${String(i).padStart(4, '0')}`, level: 4 })),
    { code: 'BIG9998', level: 3 },
    { code: 'BIG9999', level: 2 },
    ...Array.from({ length: 6 }, (_, i) => ({ code: `OLD${i}`, level: 1 })),
  ];
  expect(levelSummary(dossiers)).toEqual([
    '  level     4: 2100 dossier(s)',
    '  level     3: 1 dossier(s) (BIG9998)',
    '  level     2: 1 dossier(s) (BIG9999)',
    '  level     1: 6 dossier(s)',
    '  (2108 dossiers: one line each with --dossiers, or --json)',
  ]);
});

test('R-PI-3: --wait progress names the supervisor\'s part in words', () => {
  const p = { runId: 4, done: 120, total: 2512, failed: 2, phase: 'running', supervisor: { code: 'DEMO0001', status: 'not-in-list', level: 3 } } as unknown as PatchProgress;
  expect(progressText(p)).toBe("patch run 4: 120 / 2512 dossier(s), 2 failed, supervisor DEMO0001 not among this run's dossiers (running)");
});

/** Finding A at 1,512 dossiers: 3 dossiers failed on a CHECK constraint of their own, 1,509 patched. */
const partial = {
  mode: 'integrate',
  target: 'main',
  runId: 2,
  state: 'partial',
  prerequisites: [],
  patches: { first: 7, last: 7 },
  supervisor: { code: 'BIG0000', status: 'ok', level: 7 },
  done: 1509,
  total: 1512,
  failed: 3,
  failures: ['BIG0100', 'BIG0700', 'BIG1400'].map((code) => ({ code, patch: 7, error: `patch 7 failed in dossier ${code} (data.sql): check constraint` })),
  failuresTotal: 3,
  retryCommand: 'nightshift patch retry --target main --run 2',
  notes: [],
  supervisorLevel: 7,
  toRevalidate: [
    { code: 'BIG0100', level: 6 },
    { code: 'BIG0700', level: 6 },
    { code: 'BIG1400', level: 6 },
  ],
  toRevalidateCount: 3,
  phase: 'done',
} as unknown as PatchRunResult;
const facts = {
  id: 2,
  notes: [] as string[],
  notStarted: null as number | null,
  workflow_id: 'patch/main/2',
  mode: 'integrate',
  state: 'partial',
  first_patch: 7,
  last_patch: 7,
  error: null,
  failed: 3,
  behind: 3,
  gone: 0,
  packageHeld: true,
  supervisorHolds: false,
  supervisorFailed: false,
  sourceDir: '/srv/patches/p7',
  failedBelowSupervisor: 3,
  rolledBack: { dossiers: 0, patched: 0, by: [] as number[], patchedBehind: 0, patchedBehindCodes: [] as string[] },
};
const supervisor = { code: 'BIG0000', patch_level: 7 };
const outcome = (f: typeof facts): RunOutcome => ({ ...runAdvice('main', f, supervisor), packageHeld: f.packageHeld, supervisorHolds: f.supervisorHolds, failedCodes: new Set(['BIG0100', 'BIG0700', 'BIG1400']), failedBelowSupervisor: f.failedBelowSupervisor });

test('R-PI-4, R-PI-9: --wait advises what `patch status --run N` advises: the package held elsewhere, no "package at fault", no revalidate of the failed dossiers', () => {
  const text = resultText(partial, outcome(facts));
  expect(text).toContain('retry them: nightshift patch retry --target main --run 2\nno package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)');
  expect(text).not.toContain('a package at fault');
  expect(text).not.toContain('revalidate');
  // status's advice lines for the same run, word for word
  for (const l of adviceLines({ ...runAdvice('main', facts, supervisor), packageHeld: true })) expect(runText({ ...facts, ...runAdvice('main', facts, supervisor) })).toContain(`\n  ${l}`);
  // the package failed everywhere it went: then (and only then) it is at fault
  const nowhere = resultText(partial, outcome({ ...facts, packageHeld: false }));
  expect(nowhere).toContain('a package at fault (not the dossiers)');
  expect(nowhere).not.toContain('no package at fault');
  // not led by a retry that applies the stored package again (drill F2, session 37), and the folder to integrate once fixed
  expect(nowhere).not.toContain('retry them:');
  expect(nowhere).toContain(`${faultAdvice(false)}\nthen: nightshift patch integrate /srv/patches/p7 --target main`);
  // the supervisor applied it (it failed only in the others): the fix goes through `patch repair` first
  const supervisorOnly = resultText(partial, outcome({ ...facts, packageHeld: false, supervisorHolds: true }));
  expect(supervisorOnly).toContain(`${faultAdvice(false, true)}\nthen: nightshift patch integrate /srv/patches/p7 --target main`);
  expect(faultAdvice(false, true)).toContain("then 'nightshift patch repair DIR' (the supervisor applied the faulty version: its ledger takes the fixed checksum, nothing is applied again there, check it by hand), then integrate the folder again");
  // stopped at its supervisor: its fix and the folder's integration first, not a retry that applies the stored package again (drill A, session 35;
  // as the Web UI's next step says it)
  const atSupervisor = resultText(partial, outcome({ ...facts, packageHeld: false, supervisorFailed: true }));
  expect(atSupervisor).toContain(`${faultAdvice(false)}\nthen: nightshift patch integrate /srv/patches/p7 --target main`);
  expect(atSupervisor).not.toContain('retry them:');
});

test('R-PI-9: --wait names the other dossiers to revalidate, never the failed ones; above five, every dossier below, the failed ones said', () => {
  const more = { ...partial, toRevalidate: [...partial.toRevalidate, { code: 'BIG0200', level: 5 }].sort((a, b) => a.code.localeCompare(b.code)), toRevalidateCount: 4 };
  const text = resultText(more, outcome(facts));
  expect(text).toContain("1 other dossier(s) below the supervisor's level 7 (R-PI-9), besides the 3 failed one(s) above: BIG0200@5\nbring them up with: nightshift patch revalidate BIG0200 --target main");
  expect(othersToRevalidate({ toRevalidate: more.toRevalidate, toRevalidateCount: 1500 }, new Set(['BIG0100', 'BIG0700', 'BIG1400']), 3)).toEqual({ list: [{ code: 'BIG0200', level: 5 }], count: 1497 });
  const many = resultText({ ...more, toRevalidateCount: 1500 }, outcome(facts));
  expect(many).toContain('BIG0200@5 and 1496 more');
  expect(many).toContain("bring them up with: nightshift patch revalidate --target main (every dossier below the supervisor's level, the failed ones too: fix them first)");
});

test('R-PI-11, R-PI-4: a run whose dossiers a rollback restored with its supervisor says so and advises no retry (the run is undone)', () => {
  const rolled = { ...facts, id: 1, rolledBack: { dossiers: 1512, patched: 1509, by: [1], patchedBehind: 1509, patchedBehindCodes: ['BIG0001', 'BIG0002', 'BIG0003', 'BIG0004', 'BIG0005'] } };
  const below = { code: 'BIG0000', patch_level: 6 };
  expect(runAdvice('main', rolled, below)).toEqual({});
  const line = runText({ ...rolled, ...runAdvice('main', rolled, below) });
  expect(line).toBe('run 1 patch/main/2: integrate partial patch 7, 3 failed, rolled back by rollback run 1 (1512 dossier(s))');
  expect(rolledBackText({ rolledBack: { dossiers: 5, patched: 2, by: [3, 4], patchedBehind: 2, patchedBehindCodes: ['A', 'B'] } })).toBe(', rolled back by rollback runs 3, 4 (5 dossier(s))');
  // only its failed dossiers restored (a deployment's rollback of the failed ones): the retry stays the way on, nothing else to bring back
  const failedOnly = { ...facts, rolledBack: { dossiers: 3, patched: 0, by: [2], patchedBehind: 0, patchedBehindCodes: [] } };
  expect(runAdvice('main', failedOnly, supervisor)).toEqual({ retryCommand: 'nightshift patch retry --target main --run 2' });
});

test('R-PI-11, R-PI-9: a rollback by hand of dossiers a run had patched (supervisor not with them) keeps the retry of its failed ones and says revalidate brings the others back', () => {
  // bug B: `patch rollback DEMO0050 DEMO0051` of two ok dossiers of run 2 dropped its `retry them:` line
  const rolled = { ...facts, rolledBack: { dossiers: 2, patched: 2, by: [2], patchedBehind: 2, patchedBehindCodes: ['BIG0050', 'BIG0051'] } };
  const advice = runAdvice('main', rolled, supervisor);
  expect(advice).toEqual({
    retryCommand: 'nightshift patch retry --target main --run 2',
    revalidateRolledBack: { count: 2, command: 'nightshift patch revalidate BIG0050 BIG0051 --target main', everyBelow: false },
  });
  expect(runText({ ...rolled, ...advice })).toBe(
    'run 2 patch/main/2: integrate partial patch 7, 3 failed, rolled back by rollback run 2 (2 dossier(s))\n' +
      '  retry them: nightshift patch retry --target main --run 2\n' +
      '  no package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)\n' +
      '  2 dossier(s) it had patched were rolled back since (R-PI-11): the retry takes its failed dossiers only; bring them back up with: nightshift patch revalidate BIG0050 BIG0051 --target main',
  );
  // many: every dossier below the supervisor's level; no failed one behind: the revalidate alone
  const many = { ...facts, behind: 0, rolledBack: { dossiers: 9, patched: 9, by: [2], patchedBehind: 9, patchedBehindCodes: ['A', 'B', 'C', 'D', 'E'] } };
  expect(adviceLines({ ...runAdvice('main', many, supervisor), packageHeld: true })).toEqual([
    "9 dossier(s) it had patched were rolled back since (R-PI-11): bring them back up with: nightshift patch revalidate --target main (every dossier below the supervisor's level)",
  ]);
  // brought back up since: nothing more to say
  expect(runAdvice('main', { ...rolled, rolledBack: { ...rolled.rolledBack, patchedBehind: 0, patchedBehindCodes: [] } }, supervisor)).toEqual({ retryCommand: 'nightshift patch retry --target main --run 2' });
});

test('a run whose failed dossiers were deleted since says so, not "brought up since" (drill R)', () => {
  const line = (f: Partial<typeof facts>) => runText({ ...facts, ...f, rolledBack: facts.rolledBack }).split('\n')[0];
  expect(line({ behind: 0, gone: 0 })).toBe('run 2 patch/main/2: integrate partial patch 7, 3 failed (brought up since)');
  expect(line({ behind: 0, gone: 3 })).toBe('run 2 patch/main/2: integrate partial patch 7, 3 failed (deleted since)');
  expect(line({ behind: 2, gone: 1 })).toBe('run 2 patch/main/2: integrate partial patch 7, 3 failed (1 deleted since)');
  expect(line({ behind: 3, gone: 0 })).toBe('run 2 patch/main/2: integrate partial patch 7, 3 failed');
});

test('AWS SSM MaxErrors: a run --max-failures stopped says how many dossiers it did not start on its line', () => {
  expect(runText({ ...facts, notStarted: 7 }).split('\n')[0]).toBe('run 2 patch/main/2: integrate partial patch 7, 3 failed, 7 not started (--max-failures stopped it)');
});

test('AWS SSM MaxErrors: `patch status --run N` shows the run\'s notes (the stop and how many it did not start), indented under "notes:"; none, no heading', () => {
  const stopped = "stopped: 2 dossier(s) failed, more than the 1 that --max-failures 1 allows; 7 dossier(s) not started, left at their level (once the cause is fixed, 'nightshift patch retry' of this run takes them with the failed ones)";
  expect(runNotesLines({ notes: ['patches 2 to 3', stopped] })).toEqual(['notes:', '  patches 2 to 3', `  ${stopped}`]);
  expect(runNotesLines({ notes: [] })).toEqual([]);
});

import { FailureType } from '../../domain/failures';
import {
  addToSummary,
  emptyPlanSummary,
  estimateSeconds,
  estimateText,
  installedTreatments,
  planDossier,
  summaryLines,
  type PlanDossier,
  type PlanDossierState,
  type PlanPackage,
} from '../../domain/patch-plan';
import type { PatchType } from '../../domain/patch';

/** The plan of one dossier (R-PI-10): one pure function, the rules it applies named by id in each step. */

const SUP: PlanDossier = { code: 'SUP', role: 'supervisor', test: false, specific: false, patchLevel: 0 };
const REG: PlanDossier = { code: 'REG', role: 'regular', test: false, specific: false, patchLevel: 0 };
const TEST: PlanDossier = { code: 'TST', role: 'regular', test: true, specific: false, patchLevel: 0 };
const SPEC: PlanDossier = { code: 'SPC', role: 'regular', test: false, specific: true, patchLevel: 0 };

const sum = (n: number) => String(n).repeat(64).slice(0, 64);

function pkg(number: number, type: PatchType, treatments: string[] = [], extra: Partial<PlanPackage['manifest']> = {}): PlanPackage {
  return {
    number,
    type,
    checksum: sum(number),
    manifest: {
      treatments: treatments.map((name) => ({ name, file: `t/${name}.src` })),
      dictionary: [],
      protectedDictionaryFields: [],
      structure: [`structure/${number}.sql`],
      data: [`data/${number}.sql`],
      ...extra,
    },
  };
}

const fresh = (dossier: PlanDossier, o: Partial<PlanDossierState> = {}): PlanDossierState => ({ dossier, ledger: null, treatments: [], ...o });

test('R-PI-4 R-PI-7: the supervisor installs a standard treatment, a regular dossier inherits it, a test dossier receives it; structure, data and dictionary go to each', () => {
  const packages = [pkg(1, 'standard', ['TRT1'], { dictionary: [{ key: 'ECRAN_1', fields: { libelle: 'x' } }] })];
  const sup = planDossier(packages, fresh(SUP), 0);
  expect(sup).toMatchObject({ code: 'SUP', fromLevel: 0, toLevel: 1, applies: [1], notes: [] });
  expect(sup.steps).toEqual([
    {
      patch: 1,
      type: 'standard',
      action: 'apply',
      rule: 'R-PI-7',
      treatments: [{ name: 'TRT1', decision: 'install', rule: 'R-PI-4', why: 'treatments go into the supervisor' }],
      structure: ['structure/1.sql'],
      data: ['data/1.sql'],
      dictionary: ['ECRAN_1'],
      protectedKept: [],
      notes: [],
    },
  ]);
  expect(planDossier(packages, fresh(REG), 1).steps[0]!.treatments).toEqual([{ name: 'TRT1', decision: 'inherited', rule: 'R-PI-4', why: 'inherited from the supervisor, which holds the patch' }]);
  expect(planDossier(packages, fresh(TEST), 1).steps[0]!.treatments[0]).toMatchObject({ decision: 'install', rule: 'R-PI-4' });
});

test('R-PI-3: without the supervisor holding the patch, a regular dossier\'s standard treatment is not patched; a test dossier still gets its own', () => {
  const packages = [pkg(1, 'standard', ['TRT1'])];
  expect(planDossier(packages, fresh(REG), 0).steps[0]!.treatments[0]).toMatchObject({ decision: 'supervisor-absent', rule: 'R-PI-3' });
  expect(planDossier(packages, fresh(TEST), 0).steps[0]!.treatments[0]).toMatchObject({ decision: 'install', rule: 'R-PI-4' });
});

test('R-PI-5: a specific treatment the dossier holds is kept (the run\'s note, word for word); one it does not hold goes into a specific dossier only, then counts as held', () => {
  const packages = [pkg(1, 'standard', ['XKEEP', 'X1A']), pkg(2, 'vertical', ['XKEEP', 'X1A'])];
  const own = planDossier(packages, fresh(SPEC, { treatments: ['XKEEP'] }), 2);
  expect(own.steps[0]!.treatments).toEqual([
    { name: 'XKEEP', decision: 'kept-existing', rule: 'R-PI-5', why: 'kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced)' },
    { name: 'X1A', decision: 'install', rule: 'R-PI-5', why: 'a specific treatment the dossier does not hold goes into a dossier of type specific' },
  ]);
  // patch 2 ships X1A again: installed by patch 1, it is the dossier's now (the engine does the same)
  expect(own.steps[1]!.treatments.map((t) => t.decision)).toEqual(['kept-existing', 'kept-existing']);
  expect(own.notes).toEqual([
    'patch 1: treatment XKEEP kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)',
    'patch 2: treatment XKEEP kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)',
    'patch 2: treatment X1A kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)',
  ]);
  expect(installedTreatments(own.steps[0]!)).toEqual(['X1A']);
  expect(planDossier(packages, fresh(REG), 2).steps[0]!.treatments.map((t) => [t.decision, t.rule])).toEqual([
    ['not-specific-dossier', 'R-PI-5'],
    ['not-specific-dossier', 'R-PI-5'],
  ]);
});

test('R-PI-6: a supervisor-type patch goes into the supervisor only; elsewhere only its ledger row and level (not applicable)', () => {
  const packages = [pkg(1, 'supervisor', ['DOC1'])];
  expect(planDossier(packages, fresh(SUP), 0).steps[0]).toMatchObject({ action: 'apply', treatments: [{ decision: 'install', rule: 'R-PI-6' }] });
  const reg = planDossier(packages, fresh(REG), 1);
  expect(reg).toMatchObject({ toLevel: 1, applies: [1] });
  expect(reg.steps[0]).toMatchObject({ action: 'not-applicable', rule: 'R-PI-6', structure: [], data: [], dictionary: [], treatments: [{ decision: 'not-applicable', rule: 'R-PI-6' }] });
});

test('R-PI-8: in number order; applied ones skipped, a level without ledger rows skipped, a changed checksum or a missing number refused at that patch', () => {
  const packages = [pkg(1, 'standard'), pkg(2, 'standard'), pkg(3, 'standard'), pkg(4, 'standard')];
  const ledger = new Map([
    [1, sum(1)],
    [2, sum(2)],
  ]);
  const skip = planDossier(packages, fresh({ ...REG, patchLevel: 2 }, { ledger }), 4);
  expect(skip.steps.map((s) => [s.patch, s.action])).toEqual([
    [1, 'applied'],
    [2, 'applied'],
    [3, 'apply'],
    [4, 'apply'],
  ]);
  expect(skip).toMatchObject({ fromLevel: 2, toLevel: 4, applies: [3, 4] });
  expect(planDossier(packages, fresh({ ...REG, patchLevel: 3 }), 4).steps.map((s) => s.action)).toEqual(['at-level', 'at-level', 'at-level', 'apply']);

  const drift = planDossier(packages, fresh({ ...REG, patchLevel: 2 }, { ledger: new Map([[1, sum(1)], [2, 'f'.repeat(64)]]) }), 4);
  expect(drift).toMatchObject({ toLevel: 2, applies: [], refusal: { patch: 2, type: FailureType.ChecksumDrift, rule: 'R-PI-8' } });
  expect(drift.refusal!.message).toBe(
    `patch 2 was applied to dossier REG with checksum ffffffffffff…, the package now has ${sum(2).slice(0, 12)}…: refused (R-PI-8); ` +
      "if what it applied is this package's content (its ledger restored from elsewhere): 'nightshift patch repair DIR --accept-ledger REG' realigns it",
  );
  expect(drift.steps.map((s) => s.action)).toEqual(['applied']);

  const gap = planDossier(packages.slice(2), fresh({ ...REG, patchLevel: 1 }), 4);
  expect(gap).toMatchObject({ toLevel: 1, steps: [], refusal: { patch: 3, type: FailureType.PatchGap, message: 'dossier REG is at patch level 1: patch 2 is missing before patch 3' } });
});

test('R-PI-7: protected fields an entry already has are kept, also when an earlier patch of the same run created them', () => {
  const entry = (n: number) => ({ key: 'ECRAN_COMMUN', fields: { libelle: `v${n}`, parametrage: `defaut ${n}` } });
  const packages = [1, 2].map((n) => pkg(n, 'standard', [], { dictionary: [entry(n), { key: `ECRAN_${n}`, fields: { libelle: 'x' } }], protectedDictionaryFields: ['parametrage'] }));
  const had = planDossier(packages, fresh(REG, { dictionary: { ECRAN_COMMUN: ['parametrage'] } }), 2);
  expect(had.steps.map((s) => s.protectedKept)).toEqual([[{ key: 'ECRAN_COMMUN', fields: ['parametrage'] }], [{ key: 'ECRAN_COMMUN', fields: ['parametrage'] }]]);
  const none = planDossier(packages, fresh(REG, { dictionary: {} }), 2);
  expect(none.steps.map((s) => s.protectedKept)).toEqual([[], [{ key: 'ECRAN_COMMUN', fields: ['parametrage'] }]]);
  // not read (the engine): nothing claimed
  expect(planDossier(packages, fresh(REG), 2).steps.map((s) => s.protectedKept)).toEqual([[], []]);
});

test('R-PI-10: deterministic, and the input is left as it was', () => {
  const packages = [pkg(1, 'standard', ['TRT1', 'XKEEP']), pkg(2, 'supervisor', ['DOC2'])];
  const state = fresh(SPEC, { treatments: ['XKEEP'], ledger: new Map(), dictionary: { A: ['p'] } });
  const copy = JSON.stringify({ ...state, ledger: [...state.ledger!] });
  const a = planDossier(packages, state, 2);
  expect(planDossier(packages, state, 2)).toEqual(a);
  expect(JSON.stringify({ ...state, ledger: [...state.ledger!] })).toBe(copy);
});

test('R-PI-10: the summary by category, the refusals with examples, the estimate from history or "no history"', () => {
  const packages = [pkg(1, 'standard', ['TRT1', 'XKEEP']), pkg(2, 'supervisor', ['DOC2'])];
  const s = emptyPlanSummary();
  addToSummary(s, planDossier(packages, fresh(SUP), 0));
  addToSummary(s, planDossier(packages, fresh(REG), 2));
  addToSummary(s, planDossier(packages, fresh(SPEC, { treatments: ['XKEEP'] }), 2));
  addToSummary(s, planDossier(packages, fresh({ ...REG, code: 'DONE', patchLevel: 2 }, { ledger: new Map([[1, sum(1)], [2, sum(2)]]) }), 2));
  addToSummary(s, planDossier(packages, fresh({ ...REG, code: 'DRIFT', patchLevel: 1 }, { ledger: new Map([[1, 'e'.repeat(64)]]) }), 2));
  expect(s).toMatchObject({ dossiers: 5, toPatch: 3, upToDate: 1, refused: 1, applications: 6, structureScripts: 4, dataScripts: 4 });
  expect(s.patches).toEqual({ 1: { apply: 3, notApplicable: 0, skipped: 1 }, 2: { apply: 1, notApplicable: 2, skipped: 1 } });
  expect(s.refusedExamples).toEqual([{ code: 'DRIFT', type: 'ChecksumDrift', message: expect.stringContaining('refused (R-PI-8)') }]);
  const lines = summaryLines(s, null);
  expect(lines).toEqual([
    'dossiers: 5 targeted, 3 to patch, 1 up to date, 1 refused (R-PI-8)',
    'patches 1-2: 1: 3 apply, 1 already applied; 2: 1 apply, 2 not applicable (R-PI-6), 1 already applied',
    // SUP: TRT1 installed, XKEEP not its own type, DOC2 installed; REG and SPC inherit TRT1, DOC2 not applicable; SPC keeps its XKEEP
    'treatments: 2 inherited from the supervisor (R-PI-4), 1 installed (R-PI-4), 1 installed (R-PI-6), 1 kept (already held: its own, or one an earlier patch installed) (R-PI-5), 2 not applicable (R-PI-6), 2 not for this dossier (not of type specific) (R-PI-5)',
    'content (R-PI-7): 4 structure script(s), 4 data script(s), 0 dictionary entr(ies), 0 protected field(s) kept',
    `refused: DRIFT: ChecksumDrift: ${s.refusedExamples[0]!.message}`,
    'estimate: no history (no earlier patch run on this target applied a patch)',
  ]);
  // drill S: what the estimate leaves out is said with it
  const SCOPE = "patch applications only: a 'backup+patch' window first takes a restore point of each dossier, about a backup batch's time more";
  expect(estimateSeconds(6, { runs: 2, seconds: 10, applications: 40 })).toBe(2);
  expect(estimateText(600, { runs: 2, seconds: 10, applications: 40 })).toBe('estimate: about 2 min 30 s (600 patch application(s) × 250 ms each, from 2 past run(s)); ' + SCOPE);
  expect(estimateText(2512, { runs: 3, seconds: 41.4, applications: 7536 })).toBe('estimate: about 14 s (2512 patch application(s) × 5.5 ms each, from 3 past run(s)); ' + SCOPE);
  expect(estimateText(10, { runs: 1, seconds: 30, applications: 10 })).toBe('estimate: about 30 s (10 patch application(s) × 3.00 s each, from 1 past run(s)); ' + SCOPE);
});

test('R-PI-10: a dossier whose schema is missing fails at its first patch to apply (nothing applied, the run\'s failure type); one with nothing to apply stays up to date', () => {
  const packages = [pkg(1, 'standard', ['TRT1']), pkg(2, 'supervisor'), pkg(3, 'standard')];
  const gone = planDossier(packages, fresh({ ...REG, patchLevel: 1 }, { missingSchema: 'd_REG' }), 3);
  expect(gone).toMatchObject({ fromLevel: 1, toLevel: 1, applies: [], notes: [] });
  expect(gone.steps.map((s) => [s.patch, s.action])).toEqual([[1, 'at-level']]);
  expect(gone.refusal).toEqual({ patch: 2, type: FailureType.PatchSqlFailed, rule: 'R-PI-10', message: 'schema "d_REG" of dossier REG does not exist: the run would fail it at patch 2' });
  const s = addToSummary(emptyPlanSummary(), gone);
  expect(s).toMatchObject({ refused: 1, toPatch: 0, upToDate: 0, applications: 0 });
  expect(planDossier(packages, fresh({ ...REG, patchLevel: 3 }, { missingSchema: 'd_REG' }), 3)).not.toHaveProperty('refusal');
});

test("tester B (R-PI-5): a specific treatment an earlier patch of the same run installed, shipped again, is kept: the summary words it as the run's notes do, not as the dossier's own", () => {
  // DEMO0006's XKEEP: installed by patch 1, shipped again by patch 2 and kept
  const plan = planDossier([pkg(1, 'standard', ['XKEEP']), pkg(2, 'standard', ['XKEEP'])], fresh(SPEC), 2);
  expect(plan.steps.map((s) => s.treatments[0]!.decision)).toEqual(['install', 'kept-existing']);
  expect(plan.notes).toEqual(['patch 2: treatment XKEEP kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)']);
  const line = summaryLines(addToSummary(emptyPlanSummary(), plan)).find((l) => l.startsWith('treatments: '));
  expect(line).toBe('treatments: 1 installed (R-PI-5), 1 kept (already held: its own, or one an earlier patch installed) (R-PI-5)');
  expect(line).not.toContain("the dossier's own");
});

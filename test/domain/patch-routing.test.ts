import {
  belowSupervisor,
  contentApplies,
  isSpecificTreatment,
  mergeDictionaryEntry,
  numberingProblem,
  patchAppliesTo,
  patchManifestSchema,
  rangeText,
  routeTreatment,
  runTimestamp,
  supervisorAbsentNote,
  treatmentDecisionNote,
  type PatchType,
  type RoutingDossier,
  type TreatmentDecision,
} from '../../domain/patch';

/** The routing rules of patch integration, one table per rule. */

const SUP: RoutingDossier = { code: 'SUP', role: 'supervisor', test: false, specific: false };
const REG: RoutingDossier = { code: 'REG', role: 'regular', test: false, specific: false };
const TEST: RoutingDossier = { code: 'TST', role: 'regular', test: true, specific: false };
const SPEC: RoutingDossier = { code: 'SPC', role: 'regular', test: false, specific: true };
const TEST_SPEC: RoutingDossier = { code: 'TSP', role: 'regular', test: true, specific: true };

type Row = [PatchType, string, RoutingDossier, boolean /* exists */, boolean /* supervisor covered */, TreatmentDecision];

test.each<Row>([
  // standard treatment of a standard patch
  ['standard', 'TRT1', SUP, false, true, 'install'],
  ['standard', 'TRT1', REG, false, true, 'inherited'],
  ['standard', 'TRT1', SPEC, false, true, 'inherited'],
  // supervisor not in the list and without the patch: not patched, and said so
  ['standard', 'TRT1', REG, false, false, 'supervisor-absent'],
  ['vertical', 'TRT1', REG, false, false, 'supervisor-absent'],
])('R-PI-3 %s patch, treatment %s in %o (exists %s, supervisor covered %s) -> %s', (patchType, name, dossier, exists, supervisorCovered, expected) => {
  expect(routeTreatment({ patchType, name, dossier, exists, supervisorCovered })).toBe(expected);
});

test.each<Row>([
  // R-PI-4: into the supervisor, inherited by the others; a test dossier receives them itself
  ['standard', 'TRT1', SUP, true, true, 'install'],
  ['standard', 'TRT1', REG, true, true, 'inherited'],
  ['standard', 'TRT1', TEST, false, true, 'install'],
  ['standard', 'TRT1', TEST, true, true, 'install'],
  ['specific', 'TRT1', TEST, false, false, 'install'],
  ['vertical', 'TRT1', TEST, false, true, 'install'],
])('R-PI-4 %s patch, treatment %s in %o (exists %s, covered %s) -> %s', (patchType, name, dossier, exists, supervisorCovered, expected) => {
  expect(routeTreatment({ patchType, name, dossier, exists, supervisorCovered })).toBe(expected);
});

test.each<[string, boolean]>([
  ['XFOO', true],
  ['YBAR', true],
  ['ZZZ', true],
  ['SPE1', true],
  ['SPVTRUC', true],
  ['CNS123SPE', true],
  ['CNSABCSPE', true],
  ['CNS12SPE', false],
  ['CNS1234SPE', false],
  ['TRT1', false],
  ['ASPE', false],
  ['SP', false],
  ['CNS', false],
])('R-PI-5 %s is a specific treatment name: %s', (name, expected) => {
  expect(isSpecificTreatment(name)).toBe(expected);
});

test.each<Row>(
  (['standard', 'specific', 'vertical'] as const).flatMap((t): Row[] => [
    // never overwrite an existing one, whoever the dossier
    [t, 'XKEEP', SPEC, true, true, 'kept-existing'],
    [t, 'CNS001SPE', SUP, true, true, 'kept-existing'],
    [t, 'SPV9', TEST, true, true, 'kept-existing'],
    // otherwise into dossiers of type specific only
    [t, 'XKEEP', SPEC, false, true, 'install'],
    [t, 'YNEW', TEST_SPEC, false, false, 'install'],
    [t, 'ZNEW', REG, false, true, 'not-specific-dossier'],
    [t, 'SPE1', SUP, false, true, 'not-specific-dossier'],
    [t, 'SPE1', TEST, false, true, 'not-specific-dossier'],
  ]),
)('R-PI-5 %s patch, specific treatment %s in %o (exists %s) -> %s', (patchType, name, dossier, exists, supervisorCovered, expected) => {
  expect(routeTreatment({ patchType, name, dossier, exists, supervisorCovered })).toBe(expected);
});

test.each<[PatchType, RoutingDossier, boolean]>([
  ['supervisor', SUP, true],
  ['supervisor', REG, false],
  ['supervisor', TEST, false],
  ['supervisor', SPEC, false],
  ['standard', REG, true],
  ['specific', SPEC, true],
  ['vertical', TEST, true],
])('R-PI-6 a %s patch applies to %o: %s', (type, dossier, expected) => {
  expect(patchAppliesTo(type, dossier)).toBe(expected);
  expect(contentApplies(type, dossier)).toEqual({ dictionary: expected, structure: expected, data: expected });
  if (type === 'supervisor') {
    expect(routeTreatment({ patchType: type, name: 'DOC1', dossier, exists: false, supervisorCovered: true })).toBe(expected ? 'install' : 'not-applicable');
  }
});

test.each<[string, Record<string, unknown> | undefined, Record<string, unknown>, string[], Record<string, unknown>]>([
  ['new entry: every field from the patch', undefined, { libelle: 'A', parametrage: 'p' }, ['parametrage'], { libelle: 'A', parametrage: 'p' }],
  ['protected field kept', { libelle: 'old', parametrage: 'mine' }, { libelle: 'new', parametrage: 'theirs' }, ['parametrage'], { libelle: 'new', parametrage: 'mine' }],
  ['protected field absent: the patch may add it', { libelle: 'old' }, { libelle: 'new', parametrage: 'theirs' }, ['parametrage'], { libelle: 'new', parametrage: 'theirs' }],
  ['fields the patch does not name stay', { libelle: 'old', extra: 1 }, { libelle: 'new' }, [], { libelle: 'new', extra: 1 }],
])('R-PI-7 dictionary: %s', (_what, existing, incoming, protectedFields, expected) => {
  expect(mergeDictionaryEntry(existing, incoming, protectedFields)).toEqual(expected);
});

test.each<[number[], string | undefined]>([
  [[1, 2, 3], undefined],
  [[3, 1, 2], undefined],
  [[5], undefined],
  [[1, 2, 4], 'gap in the numbering: 2 is followed by 4 (missing 3)'],
  [[3, 9], 'gap in the numbering: 3 is followed by 9 (missing 4-8)'],
  [[1, 2, 2, 3], 'patch number 2 appears twice'],
])('R-PI-8 numbering %o -> %s', (numbers, expected) => {
  expect(numberingProblem(numbers)).toBe(expected);
});

test('R-PI-9 dossiers below the supervisor level are listed', () => {
  const r = belowSupervisor([
    { code: 'SUP', role: 'supervisor', patchLevel: 7 },
    { code: 'A', role: 'regular', patchLevel: 7 },
    { code: 'B', role: 'regular', patchLevel: 5 },
    { code: 'C', role: 'regular', patchLevel: 9 },
  ]);
  expect(r.supervisorLevel).toBe(7);
  expect(r.below.map((d) => d.code)).toEqual(['B']);
  expect(belowSupervisor([{ code: 'A', role: 'regular', patchLevel: 1 }])).toEqual({ supervisorLevel: null, below: [] });
});

test('R-PI-3 the run says why treatments were not patched', () => {
  expect(supervisorAbsentNote('SUP', [])).toBeUndefined();
  expect(supervisorAbsentNote('SUP', [3, 4, 5, 9])).toMatch(/patch\(es\) 3-5, 9 are not patched: the supervisor dossier SUP is not in the list \(R-PI-3\)/);
  expect(rangeText([9, 1, 2])).toBe('1-2, 9');
  expect(runTimestamp(new Date('2026-03-04T05:06:07.089Z'))).toBe('20260304T050607Z');
});

test('manifest schema refuses what it must', () => {
  const ok = { number: 1, type: 'standard', description: 'd', checksum: 'a'.repeat(64) };
  expect(patchManifestSchema.safeParse(ok).success).toBe(true);
  for (const bad of [
    { ...ok, number: 0 },
    { ...ok, number: 1.5 },
    { ...ok, type: 'other' },
    { ...ok, checksum: 'xyz' },
    { ...ok, extra: true },
    { ...ok, structure: ['../escape.sql'] },
    { ...ok, data: ['/abs.sql'] },
    { ...ok, treatments: [{ name: 'lower', file: 'a.src' }] },
    { ...ok, treatments: [{ name: 'A', file: 'a.src' }, { name: 'A', file: 'b.src' }] },
    { ...ok, dictionary: [{ key: 'K', fields: {} }, { key: 'K', fields: {} }] },
    // a script listed twice would run twice in every dossier (drill P, session 37)
    { ...ok, data: ['data/9.sql', 'data/9.sql'] },
    { ...ok, structure: ['s.sql'], data: ['s.sql'] },
  ]) {
    expect(patchManifestSchema.safeParse(bad).success).toBe(false);
  }
  expect(patchManifestSchema.safeParse({ ...ok, data: ['data/9.sql', 'data/9.sql'] }).error?.issues[0]?.message).toBe('script data/9.sql is listed twice (structure and data run each listing once)');
});

test('R-PI-5: a specific treatment kept in a dossier is named with its patch and rule; other decisions need no note', () => {
  expect(treatmentDecisionNote(7, 'XTRT1', 'kept-existing')).toBe('patch 7: treatment XTRT1 kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)');
  const silent: TreatmentDecision[] = ['install', 'inherited', 'supervisor-absent', 'not-specific-dossier', 'not-applicable'];
  for (const d of silent) expect(treatmentDecisionNote(7, 'XTRT1', d)).toBeUndefined();
});

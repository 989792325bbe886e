import { patchHistory, patchHistoryCounts } from '../../domain/patch-history';

// `patch history CODE` (drill M: Flyway's info): every state a number of a dossier can be in
test('R-PI-6 R-PI-8: a dossier\'s patches: applied (by which run), not applicable, checksum differs, not stored, missing below its level, pending above it', () => {
  const at = new Date('2026-12-05T10:00:00Z');
  const sum = (c: string) => c.repeat(64);
  const rows = patchHistory({
    level: 5,
    ledger: [
      { number: 1, type: 'standard', checksum: sum('a'), outcome: 'applied', appliedAt: at },
      { number: 2, type: 'supervisor', checksum: sum('b'), outcome: 'not-applicable', appliedAt: at },
      { number: 3, type: 'standard', checksum: sum('e'), outcome: 'applied', appliedAt: at },
      { number: 5, type: 'standard', checksum: sum('f'), outcome: 'applied', appliedAt: at },
    ],
    stored: [
      { number: 1, type: 'standard', checksum: sum('a'), description: 'one' },
      { number: 2, type: 'supervisor', checksum: sum('b'), description: 'two' },
      { number: 3, type: 'standard', checksum: sum('c'), description: 'three' },
      { number: 4, type: 'standard', checksum: sum('d'), description: 'four' },
      { number: 6, type: 'vertical', checksum: sum('0'), description: 'six' },
    ],
    appliedBy: [{ number: 1, runId: 7 }],
  });
  expect(rows.map((r) => [r.number, r.state, r.runId])).toEqual([
    [1, 'applied', 7],
    [2, 'not applicable', null],
    [3, 'checksum differs', null],
    [4, 'missing', null],
    [5, 'not stored', null],
    [6, 'pending', null],
  ]);
  // the ledger's own checksum and type are shown for what it holds; the stored package's for what it does not
  expect(rows[2]).toMatchObject({ checksum: sum('e'), description: 'three', appliedAt: at });
  expect(rows[5]).toMatchObject({ type: 'vertical', checksum: sum('0'), appliedAt: null });
  expect(patchHistoryCounts(rows)).toEqual({ applied: 1, 'not applicable': 1, 'checksum differs': 1, 'not stored': 1, pending: 1, missing: 1 });
  expect(patchHistory({ level: 0, ledger: [], stored: [], appliedBy: [] })).toEqual([]);
});

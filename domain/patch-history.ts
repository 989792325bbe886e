/**
 * One dossier's patches, as `nightshift patch history CODE` shows them (what Flyway's `info` gives a Flyway user): each
 * number of its ledger and of the target's stored packages, with a state that says what a run would make of it.
 */

/** applied, or recorded not applicable (R-PI-6); `checksum differs`: its ledger holds another checksum than the
 * stored package (R-PI-8, a run refuses the dossier); `not stored`: in its ledger, no package of that number on the
 * target; `pending`: stored, above the dossier's level (a run brings it); `missing`: stored, at or below its level, yet
 * not in its ledger (R-PI-8: a run refuses it) */
export type PatchHistoryState = 'applied' | 'not applicable' | 'checksum differs' | 'not stored' | 'pending' | 'missing';

export interface PatchHistoryRow {
  number: number;
  type: string;
  state: PatchHistoryState;
  checksum: string;
  appliedAt: Date | null;
  /** the patch run that recorded it applied to the dossier, when one did (not rolled back) */
  runId: number | null;
  description: string;
}

export interface PatchHistoryInput {
  level: number;
  ledger: { number: number; type: string; checksum: string; outcome: string; appliedAt: Date }[];
  stored: { number: number; type: string; checksum: string; description: string }[];
  appliedBy: { number: number; runId: number }[];
}

export function patchHistory(input: PatchHistoryInput): PatchHistoryRow[] {
  const stored = new Map(input.stored.map((p) => [p.number, p]));
  const inLedger = new Map(input.ledger.map((l) => [l.number, l]));
  const runs = new Map(input.appliedBy.map((a) => [a.number, a.runId]));
  const numbers = [...new Set([...stored.keys(), ...inLedger.keys()])].sort((a, b) => a - b);
  return numbers.map((number) => {
    const l = inLedger.get(number);
    const p = stored.get(number);
    if (l) {
      const state: PatchHistoryState = !p ? 'not stored' : p.checksum !== l.checksum ? 'checksum differs' : l.outcome === 'applied' ? 'applied' : 'not applicable';
      return { number, type: l.type, state, checksum: l.checksum, appliedAt: l.appliedAt, runId: runs.get(number) ?? null, description: p?.description ?? '' };
    }
    return { number, type: p!.type, state: number > input.level ? 'pending' : 'missing', checksum: p!.checksum, appliedAt: null, runId: null, description: p!.description };
  });
}

/** What a Flyway user reads first: how many are applied, what a run would bring, what a run would refuse. */
export function patchHistoryCounts(rows: PatchHistoryRow[]): Record<PatchHistoryState, number> {
  const counts: Record<PatchHistoryState, number> = { applied: 0, 'not applicable': 0, 'checksum differs': 0, 'not stored': 0, pending: 0, missing: 0 };
  for (const r of rows) counts[r.state]++;
  return counts;
}

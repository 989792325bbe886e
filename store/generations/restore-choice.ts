import { foundBy, type Generation, offsiteCopyOf } from '../../domain/generation';
import { isValidGeneration, operatorDateTime } from '../../domain/retention';
import type { Queryable } from '../queryable';
import { generationAt } from './prune-generation-at';
import { generationsOlderAt } from './older-at';

/** Where a restore reads a generation (workflows/backup-dossier.api.ts RestoreSource). */
export type RestoreChoiceSource = 'auto' | 'local' | 'offsite';

/**
 * The generation a restore --at takes (R-BK-11, R-BK-14): the dossier's newest at or before `at` (of `kind` when given).
 * `place` offsite: the newest with a copy, one without passed over; otherwise one a verification found corrupt or missing
 * is read from its copy when it has one (not with `place` local), else passed over for the newest before it that can be
 * restored. One function for `backup restore CODE --at` and the bulk restore run (`--all`, `--codes`): the same choice.
 * `newest`: the dossier's newest generation at or before `at` when the caller read it already (newestGenerationsAt; null:
 * none), so that a dry run over many dossiers reads them in one statement.
 *
 * - `{ g, skipped?, from }`: restore `g` (read from `from`); `skipped`: the newer one passed over, and why;
 * - `{ problem }`: there are generations at or before `at`, none that this restore can read (the message says why);
 * - `{ none: true }`: no kept generation at or before `at` (of that kind).
 */
export type RestoreChoice =
  | { g: Generation; skipped?: { g: Generation; why: string }; from: RestoreChoiceSource; problem?: undefined; none?: undefined }
  | { problem: string; g?: undefined; none?: undefined }
  | { none: true; g?: undefined; problem?: undefined };

const hasCopy = (g: Generation): boolean => offsiteCopyOf(g) !== undefined;

export async function chooseRestoreGeneration(
  db: Queryable,
  code: string,
  at: Date,
  o: { kind: string | null; place?: 'local' | 'offsite'; zone: string; newest?: Generation | null },
): Promise<RestoreChoice> {
  const { kind, place, zone } = o;
  const newest = o.newest !== undefined ? (o.newest ?? undefined) : await generationAt(db, code, at, { kind });
  if (!newest) return { none: true };
  if (place === 'offsite') {
    // the newest generation with a copy to read: one without is passed over, and the operator told
    const found = hasCopy(newest) ? newest : await generationAt(db, code, at, { withCopy: true, kind });
    if (found) return { g: found, skipped: found === newest ? undefined : { g: newest, why: `has no off-site copy (off-site ${newest.offsiteState})` }, from: 'offsite' };
    return {
      problem: `no generation of dossier ${code} at or before ${operatorDateTime(at, zone)} (${zone}) has an off-site copy (generation ${newest.id}: off-site ${newest.offsiteState}); see 'nightshift backup list ${code}'`,
    };
  }
  const from: RestoreChoiceSource = place ?? 'auto';
  if (isValidGeneration(newest)) return { g: newest, from };
  if (from === 'auto' && hasCopy(newest)) return { g: newest, from: 'offsite' };
  const found = await generationAt(db, code, at, from === 'auto' ? { restorable: true, kind } : { validOnly: true, kind });
  const why = `is ${newest.verifyState} ${foundBy(newest)}${from === 'auto' ? noCopyToRead(newest) : ''}`;
  if (found) return { g: found, skipped: { g: newest, why }, from: from === 'auto' && !isValidGeneration(found) ? 'offsite' : from };
  return {
    problem:
      `no valid generation of dossier ${code} at or before ${operatorDateTime(at, zone)} (${zone}): generation ${newest.id} and those before it are corrupt or missing (backup verify)` +
      (from === 'local' && hasCopy(newest) ? `; its off-site copy can be restored with --from offsite` : '') +
      `; see 'nightshift backup list ${code}'`,
  };
}

/** Why a generation passed over has no copy to read: none was made, or its copy failed or was found lost (drill B, session 35). */
const noCopyToRead = (g: Generation): string => (g.offsiteState === 'failed' ? ', its off-site copy failed or was found lost' : ', with no off-site copy');

/** A generation older than the one chosen, to try when that one cannot be read: read from `from`, or passed over (why). */
export type OlderRestoreCandidate = { g: Generation; from: RestoreChoiceSource; passedOver?: undefined } | { g: Generation; passedOver: string; from?: undefined };

/**
 * The generations older than `thanId` at or before `at` (of `kind`) a restore falls back to, newest first, when the
 * chosen one's file is not on its worker and it has no copy to read (a file deleted by hand, not yet found by a
 * verification): with the rules of chooseRestoreGeneration, one found corrupt or missing is read from its copy (not with
 * `place` local) or passed over (said). `place` offsite: none (the choice already went to the copies).
 */
export async function olderRestoreCandidates(
  db: Queryable,
  code: string,
  at: Date,
  thanId: number,
  o: { kind: string | null; place?: 'local' | 'offsite' },
): Promise<OlderRestoreCandidate[]> {
  if (o.place === 'offsite') return [];
  const from: RestoreChoiceSource = o.place ?? 'auto';
  return (await generationsOlderAt(db, code, at, thanId, o.kind)).map((g): OlderRestoreCandidate => {
    if (isValidGeneration(g)) return { g, from };
    if (from === 'auto' && hasCopy(g)) return { g, from: 'offsite' };
    return { g, passedOver: `${g.verifyState} ${foundBy(g)}${from === 'auto' ? noCopyToRead(g) : ''}` };
  });
}

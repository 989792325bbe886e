import type { Queryable } from '../queryable';
import { leftNotBackedUpSql, lostKeyNewestSql, OFFSITE_PENDING_SQL, selectionFilterSql, UNREADABLE_NEWEST_SQL } from './selection-sql';

/** The run row's lost keys, given here as the settings' parameter. */
const LOST_KEYS = `($2::jsonb -> 'lostKeys')`;

/** What a batch started now would be given (the run row its claim would write): the selection reads only these. */
export interface DryRunSettings {
  /** R-BK-2: the copy statuses the settings take */
  copyStatuses: string[];
  /** R-BK-1: only dossiers changed since their last backup (off with --all or `modified-only` off) */
  modifiedOnly: boolean;
  /** R-BK-14: the run copies off-site (a worker with a bucket) */
  offsite: boolean;
  /** `--only` */
  onlyCodes: string[] | null;
  /** R-BK-12: key ids of kept generations this host does not give (archive/keys.ts keysNotGiven) */
  lostKeys: string[];
  /** the newest ended run: the dossiers it and the runs back to the last full one left not backed up go first (R-BK-4) */
  previousRun: number | null;
}

/** One dossier a batch started now would take, in its order, with why. */
export interface DryRunDossier {
  code: string;
  /** taken in the priority phase, before the others (R-BK-4, R-BK-14) */
  first: boolean;
  /** its status in the run that left it not backed up (since the last full run, R-BK-4): in_use, failed, not_done */
  leftByPrevious: string | null;
  /** that run */
  leftByRun: number | null;
  offsitePending: boolean;
  /** the off-site copy to make is its newest kept generation's (else an older one's, or another kind's: migration 0019) */
  offsitePendingNewest: boolean;
  unreadableNewest: boolean;
  /** its newest kept normal generation is under a key this host does not give (R-BK-12) */
  lostKeyNewest: boolean;
  neverBackedUp: boolean;
  /** backup_seq unset although a backup was taken: restored since, or its newest archive lost and pruned (migration 0031) */
  noArchiveOfItsData: boolean;
  modified: boolean;
}

/**
 * The dossiers a batch started now would take, in the order it takes them (its priority phase, then the rest, each in
 * code order: store/backup/select-page.ts), read with the batch's own selection text over a run row built here
 * rather than written: nothing is claimed or changed.
 */
export async function dryRunSelection(db: Queryable, s: DryRunSettings): Promise<DryRunDossier[]> {
  const { rows } = await db.query<{
    code: string;
    left_by_previous: string | null;
    left_by_run: string | null;
    offsite_pending: boolean;
    pending_newest: boolean | null;
    unreadable: boolean;
    lost_key: boolean;
    never: boolean;
    backed_up_before: boolean;
    modified: boolean;
  }>(
    `WITH r AS (SELECT 'run'::text AS kind, $1::text[] AS only_codes, $2::jsonb AS settings, $3::bigint AS previous_run),
          l AS (${leftNotBackedUpSql('$3::bigint')})
     SELECT d.code, l.status AS left_by_previous, l.run_id::text AS left_by_run,
            ${OFFSITE_PENDING_SQL} AS offsite_pending,
            (SELECT p.generation_id IS NOT NULL FROM nightshift.backup_offsite_pending p WHERE p.code = d.code) AS pending_newest,
            ${UNREADABLE_NEWEST_SQL} AS unreadable,
            ${lostKeyNewestSql(LOST_KEYS)} AS lost_key,
            d.backup_seq IS NULL AS never,
            d.last_backup_at IS NOT NULL AS backed_up_before,
            coalesce(d.change_seq > d.backup_seq, false) AS modified
       FROM r, nightshift.dossier d LEFT JOIN l ON l.code = d.code
      WHERE ${selectionFilterSql(LOST_KEYS)}
      ORDER BY 1`,
    [s.onlyCodes, JSON.stringify({ copyStatuses: s.copyStatuses, modifiedOnly: s.modifiedOnly, offsite: s.offsite, lostKeys: s.lostKeys }), s.previousRun],
  );
  const dossiers = rows.map((r) => ({
    code: r.code,
    // a run without a previous one has no priority phase (domain/backup-batch.ts firstCursor)
    first: s.previousRun !== null && (r.left_by_previous !== null || r.offsite_pending),
    leftByPrevious: r.left_by_previous,
    leftByRun: r.left_by_run === null ? null : Number(r.left_by_run),
    offsitePending: r.offsite_pending,
    offsitePendingNewest: r.offsite_pending && r.pending_newest === true,
    unreadableNewest: r.unreadable,
    lostKeyNewest: r.lost_key,
    neverBackedUp: r.never && !r.backed_up_before,
    noArchiveOfItsData: r.never && r.backed_up_before,
    modified: r.modified,
  }));
  // stable: code order within each phase
  return [...dossiers.filter((d) => d.first), ...dossiers.filter((d) => !d.first)];
}

import type { Queryable } from '../queryable';
import type { RollbackScope } from './rollback-scope';
import { restorePointPick } from './restore-points-sql';

export interface DossiersSaid {
  total: number;
  /** the first ones by code, at most the number asked for */
  codes: string[];
}

export interface ChangedSincePatch {
  /** written to since a patch run last finished with them (change counter above the one it, or a later run, recorded): a rollback loses it */
  changed: DossiersSaid;
  /** patched before the counter was recorded (migration 0023), and written to since the restore point: cannot tell */
  unknown: DossiersSaid;
}

/**
 * What users wrote that a rollback of `scope` would replace (R-PI-11): a restore point is the dossier before its
 * patch, and the patch itself writes to the dossier, so the change counter (nightshift.dossier.change_seq, bumped
 * by the touch trigger) is compared with the one the patch run recorded with the dossier's outcome, not the
 * restore point's. Items recorded without it are unknown unless the dossier is unwritten since the restore point.
 * A later patch run's own writes are not users' (drill M: 151 dossiers patched again by hand were all said "written
 * to since", what users wrote there "lost"): the counter is compared with the latest any patch run recorded since,
 * those later runs being said apart (later-patches-undone.ts). A `patch repair`'s realignment of the ledger is no
 * user's write either (tester B: 52 dossiers "written to since" after a repair): each repair recorded the counter before
 * and after its update (migration 0042); its bump is discounted when the counter before it was one already explained
 * (a patch run's, or an earlier repair's after), so a user's write before the repair still counts.
 */
export async function changedSincePatch(db: Queryable, scope: RollbackScope, shown: number): Promise<ChangedSincePatch> {
  const pick = restorePointPick(scope);
  const { rows } = await db.query<{ kind: 'changed' | 'unknown'; code: string; total: number }>(
    `WITH RECURSIVE pick AS (${pick.sql}),
     later AS (
       SELECT i.code, max(i.change_seq_after) AS seq
         FROM nightshift.patch_run_item i JOIN pick p ON p.code = i.code AND i.run_id > p.run_id
        GROUP BY i.code),
     explained AS (
       SELECT p.code, GREATEST(p.change_seq_after, l.seq) AS seq
         FROM pick p LEFT JOIN later l ON l.code = p.code WHERE p.change_seq_after IS NOT NULL
       UNION
       SELECT e.code, r.change_seq_after
         FROM explained e JOIN nightshift.patch_repair_dossier r
           ON r.code = e.code AND r.change_seq_before <= e.seq AND r.change_seq_after > e.seq),
     upto AS (SELECT code, max(seq) AS seq FROM explained GROUP BY code),
     said AS (
       SELECT p.code,
              CASE WHEN p.change_seq_after IS NOT NULL THEN CASE WHEN d.change_seq > u.seq THEN 'changed' END
                   WHEN d.change_seq = g.change_seq THEN NULL
                   ELSE 'unknown' END AS kind
         FROM pick p JOIN nightshift.dossier d ON d.code = p.code JOIN nightshift.backup_generation g ON g.id = p.restore_point
         LEFT JOIN upto u ON u.code = p.code),
     ranked AS (
       SELECT kind, code, count(*) OVER (PARTITION BY kind)::int AS total, row_number() OVER (PARTITION BY kind ORDER BY code) AS n
         FROM said WHERE kind IS NOT NULL)
     SELECT kind, code, total FROM ranked WHERE n <= $${pick.params.length + 1} ORDER BY kind, code`,
    [...pick.params, shown],
  );
  const of = (kind: 'changed' | 'unknown'): DossiersSaid => {
    const mine = rows.filter((r) => r.kind === kind);
    return { total: mine[0]?.total ?? 0, codes: mine.map((r) => r.code) };
  };
  return { changed: of('changed'), unknown: of('unknown') };
}

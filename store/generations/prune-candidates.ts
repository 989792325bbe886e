import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

export interface PruneCandidate extends Generation {
  /** the latest expiry of an unexpired lease on it (a restore or a verification reading it), else null */
  leasedUntil: Date | null;
  /** the patch run whose restore point it is (an unexpired `restore-point:<run>` lease, R-PI-11), else null */
  restorePointRun: string | null;
}

const SQL = `SELECT ${GENERATION_COLUMNS},
         (SELECT max(l.expires_at) FROM nightshift.backup_generation_lease l WHERE l.generation_id = g.id AND l.expires_at > now()) AS leased_until,
         (SELECT substring(l.holder FROM 15) FROM nightshift.backup_generation_lease l
           WHERE l.generation_id = g.id AND l.expires_at > now() AND l.holder LIKE 'restore-point:%'
           ORDER BY l.expires_at DESC LIMIT 1) AS restore_point_run,
         now() AS db_now
    FROM nightshift.backup_generation g
   WHERE code = $1 AND deleted_at IS NULL
   ORDER BY snapshot_at DESC, id DESC`;

/**
 * A dossier's kept generations with their leases, newest first, and the database's clock (R-BK-11).
 * `lock`: inside the prune's transaction, the rows are locked until it commits, so that a reader taking a
 * lease (FOR SHARE in takeGenerationLease) waits for the decision and then sees a pruned row as pruned.
 */
export async function pruneCandidates(db: Queryable, code: string, o: { lock: boolean }): Promise<{ generations: PruneCandidate[]; now: Date }> {
  const { rows } = await db.query<GenerationRow & { leased_until: Date | null; restore_point_run: string | null; db_now: Date }>(o.lock ? `${SQL} FOR UPDATE OF g` : SQL, [code]);
  return {
    generations: rows.map((r) => ({ ...toGeneration(r), leasedUntil: r.leased_until, restorePointRun: r.restore_point_run })),
    now: rows[0]?.db_now ?? new Date(),
  };
}

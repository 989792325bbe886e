import type { VerifyState } from '../../domain/generation';
import type { Queryable } from '../queryable';

export interface RestorePointCandidate {
  id: number;
  file: string;
  verifyState: VerifyState;
  /** created by the backup that the item's 'taking' started (an earlier, killed attempt of this run) */
  adopted: boolean;
}

/**
 * The generation a dossier's restore point can be (R-PI-11): its newest kept generation whose change_seq is
 * the dossier's current one (not modified since). A verified one is reused. With `takingSince` (the item was
 * left 'taking' by a killed attempt), a restore-point generation created since then, not verified yet, is
 * that attempt's backup: adopted rather than a second one taken.
 */
export async function restorePointCandidate(db: Queryable, code: string, takingSince: Date | null): Promise<RestorePointCandidate | null> {
  const { rows } = await db.query<{ id: string; file: string; verify_state: VerifyState; adopted: boolean }>(
    `SELECT g.id, g.file, g.verify_state, ($2::timestamptz IS NOT NULL AND g.created_at >= $2 AND g.reason = 'restore-point') AS adopted
       FROM nightshift.backup_generation g
       JOIN nightshift.dossier d ON d.code = g.code AND d.change_seq = g.change_seq
      WHERE g.code = $1 AND g.deleted_at IS NULL
        AND (g.verify_state = 'ok'
             OR ($2::timestamptz IS NOT NULL AND g.created_at >= $2 AND g.reason = 'restore-point' AND g.verify_state = 'unverified'))
      ORDER BY g.snapshot_at DESC, g.id DESC
      LIMIT 1`,
    [code, takingSince],
  );
  const r = rows[0];
  return r ? { id: Number(r.id), file: r.file, verifyState: r.verify_state, adopted: r.adopted } : null;
}

import type { Queryable } from '../queryable';

export type RestorePointState = 'taking' | 'taken' | 'reused' | 'failed';

export interface RestorePointItem {
  state: RestorePointState | null;
  generationId: number | null;
  /** when the state was set ('taking': when the backup started) */
  at: Date | null;
}

/** A dossier's restore point in the run's ledger (R-PI-11); null without a ledger row. */
export async function restorePointItem(db: Queryable, runId: number, code: string): Promise<RestorePointItem | null> {
  const { rows } = await db.query<{ restore_point_state: RestorePointState | null; restore_point: string | null; restore_point_at: Date | null }>(
    'SELECT restore_point_state, restore_point, restore_point_at FROM nightshift.patch_run_item WHERE run_id = $1 AND code = $2',
    [runId, code],
  );
  const r = rows[0];
  if (!r) return null;
  return { state: r.restore_point_state, generationId: r.restore_point === null ? null : Number(r.restore_point), at: r.restore_point_at };
}

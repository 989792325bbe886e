import type { Queryable } from '../queryable';
import type { WindowType } from '../../domain/maintenance';

export interface WindowFields {
  type: WindowType;
  startsAt: string;
  endsAt: string;
  preventLoginsFrom?: string;
  message?: string;
  /** absent: the row's cutoff is left as it is (a workflow of a release before --cutoff does not send it) */
  cutoffSeconds?: number | null;
}

/** Writes the editable fields (R-MW-1, R-MW-11): the gate shows the new times at once. */
export async function updateWindow(db: Queryable, id: string, f: WindowFields): Promise<void> {
  await db.query(
    `UPDATE nightshift.maintenance_window
            SET type = $2, starts_at = $3, ends_at = $4, prevent_logins_from = $5, message = $6,
                cutoff_seconds = CASE WHEN $7::boolean THEN $8::integer ELSE cutoff_seconds END, updated_at = now()
          WHERE id = $1`,
    [id, f.type, f.startsAt, f.endsAt, f.preventLoginsFrom ?? null, f.message ?? null, f.cutoffSeconds !== undefined, f.cutoffSeconds ?? null],
  );
}

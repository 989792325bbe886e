import type { Queryable } from '../queryable';
import { type BackupRunKind, SELECTION_FILTER_SQL } from './selection-sql';

const COUNT_SQL: Record<BackupRunKind, string> = {
  run: `SELECT count(*)::int AS n FROM nightshift.backup_run r, nightshift.dossier d WHERE r.id = $1 AND ${SELECTION_FILTER_SQL}`,
  retry: `SELECT count(*)::int AS n FROM nightshift.backup_run r
            JOIN nightshift.backup_run_item i ON i.run_id = r.retry_of AND i.status <> 'ok'
            JOIN nightshift.dossier d ON d.code = i.code
           WHERE r.id = $1 AND ${SELECTION_FILTER_SQL}`,
};

/** How many dossiers a run selects (an estimate: dossiers modified meanwhile join). */
export async function countSelection(db: Queryable, kind: BackupRunKind, runId: number | string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(COUNT_SQL[kind], [runId]);
  return rows[0]!.n;
}

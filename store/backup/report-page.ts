import type { ItemStatus } from '../../domain/backup-batch';
import type { Queryable } from '../queryable';

export interface ReportRow {
  /** the ledger sequence of this row, the next page's `after` */
  after: string;
  code: string;
  status: ItemStatus;
  error: string | null;
}

/** A page of a run's ledger in the order the dossiers ended (2000 rows after `after`, '0' first): the report streams them. */
export async function reportPage(db: Queryable, runId: string, after: string): Promise<ReportRow[]> {
  const { rows } = await db.query<ReportRow>(
    'SELECT seq::text AS after, code, status, error FROM nightshift.backup_run_item WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT 2000',
    [runId, after],
  );
  return rows;
}

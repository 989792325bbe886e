import type { ItemStatus } from '../../domain/backup-batch';
import type { Queryable } from '../queryable';

export interface ReportRow {
  /** the code of this row, the next page's `after` */
  after: string;
  code: string;
  status: ItemStatus;
  error: string | null;
}

/**
 * A page of a run's ledger in dossier code order (2000 rows after `after`, '' first): the report streams them. The
 * seed's report (R-BK-7) lists the dossiers by code, not in the order they ended: a keyset page over the ledger's
 * primary key (run_id, code), so that a run of 100,000 dossiers is never sorted or held whole.
 */
export async function reportPage(db: Queryable, runId: string, after: string): Promise<ReportRow[]> {
  const { rows } = await db.query<ReportRow>(
    'SELECT code AS after, code, status, error FROM nightshift.backup_run_item WHERE run_id = $1 AND code > $2 ORDER BY code LIMIT 2000',
    [runId, after],
  );
  return rows;
}

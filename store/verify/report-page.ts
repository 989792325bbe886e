import type { VerifyItemStatus } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';

export interface VerifyReportRow {
  after: string;
  code: string;
  snapshot_at: Date;
  file: string;
  status: VerifyItemStatus;
  restored: boolean;
  error: string | null;
}

/** A page of a verify run's ledger, by dossier then generation date (2000 rows after the (code, date, id) key `after`, '' first). */
export async function verifyReportPage(db: Queryable, runId: number, after: { code: string; snapshotAt: Date; id: string } | null): Promise<(VerifyReportRow & { generation_id: string })[]> {
  const { rows } = await db.query<VerifyReportRow & { generation_id: string }>(
    `SELECT seq::text AS after, generation_id::text, code, snapshot_at, file, status, restored, error FROM nightshift.verify_run_item
      WHERE run_id = $1 AND ($2::text IS NULL OR (code, snapshot_at, generation_id) > ($2, $3::timestamptz, $4::bigint))
      ORDER BY code, snapshot_at, generation_id LIMIT 2000`,
    [runId, after?.code ?? null, after?.snapshotAt ?? null, after?.id ?? null],
  );
  return rows;
}

import type { Queryable } from '../queryable';

export interface RollbackItemRow {
  status: 'pending' | 'ok' | 'failed';
  run_state: string;
  patch_run: string;
  generation_id: string;
  file: string;
  generation_code: string;
  generation_level: number | null;
  generation_deleted: boolean;
  verify_state: string;
  /** the registry row now (null: the dossier is no longer registered) */
  schema_name: string | null;
  patch_level: number | null;
  /** as text: the microseconds survive the round trip */
  created_at: string | null;
  last_backup_at: string | null;
  backup_seq: string | null;
}

/** One dossier of a rollback run with the generation it restores and its registry row now. */
export async function rollbackItemToRestore(db: Queryable, runId: number, code: string): Promise<RollbackItemRow | undefined> {
  const { rows } = await db.query<RollbackItemRow>(
    `SELECT f.status, r.state AS run_state, f.patch_run, f.generation_id, g.file, g.code AS generation_code, g.patch_level AS generation_level,
            g.deleted_at IS NOT NULL AS generation_deleted, g.verify_state, d.schema_name, d.patch_level, d.created_at::text, d.last_backup_at::text, d.backup_seq
       FROM nightshift.patch_rollback_item f
       JOIN nightshift.patch_rollback_run r ON r.id = f.run_id
       JOIN nightshift.backup_generation g ON g.id = f.generation_id
       LEFT JOIN nightshift.dossier d ON d.code = f.code
      WHERE f.run_id = $1 AND f.code = $2`,
    [runId, code],
  );
  return rows[0];
}

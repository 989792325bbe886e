import type { Queryable } from '../queryable';
import { stillFailedSql } from './still-failed-sql';

/** What a restore run restores: codes (--codes), every dossier with a kept generation at or before `at` (--all), or a run's failed dossiers that no later run restored or kept (--retry). */
export type RestoreScope = { kind: 'codes'; codes: string[] } | { kind: 'all'; at: Date; generationKind: string | null } | { kind: 'retry'; retryOf: number };

/**
 * The run's selection, written once as pending items: the chunks page them and each turns ok, kept or failed. A
 * retried call adds nothing (ON CONFLICT). Returns how many the run holds.
 */
export async function insertRestoreItems(db: Queryable, runId: number, scope: RestoreScope): Promise<number> {
  const [source, params]: [string, unknown[]] =
    scope.kind === 'codes'
      ? [`SELECT DISTINCT unnest($2::text[]) AS code`, [scope.codes]]
      : scope.kind === 'all'
        ? [
            `SELECT DISTINCT code FROM nightshift.backup_generation
              WHERE deleted_at IS NULL AND snapshot_at < $2::timestamptz + interval '1 millisecond' AND ($3::text IS NULL OR kind = $3)`,
            [scope.at, scope.generationKind],
          ]
        : [stillFailedSql('$2'), [scope.retryOf]];
  await db.query(
    `INSERT INTO nightshift.restore_run_item (run_id, code) SELECT $1, s.code FROM (${source}) s ON CONFLICT (run_id, code) DO NOTHING`,
    [runId, ...params],
  );
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.restore_run_item WHERE run_id = $1', [runId]);
  return rows[0]!.n;
}

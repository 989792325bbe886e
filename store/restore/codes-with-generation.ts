import type { Queryable } from '../queryable';

/**
 * Every dossier code with a kept generation at or before `at` (of `kind` when given), by code: the scope of
 * `backup restore --all` (its schema there or not: a lost database's dossiers are only in the catalog), as its dry run reads it.
 */
export async function codesWithGenerationAt(db: Queryable, at: Date, kind: string | null): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT DISTINCT code FROM nightshift.backup_generation
      WHERE deleted_at IS NULL AND snapshot_at < $1::timestamptz + interval '1 millisecond' AND ($2::text IS NULL OR kind = $2) ORDER BY code`,
    [at, kind],
  );
  return rows.map((r) => r.code);
}

import type { Queryable } from '../queryable';

/**
 * What a restore run asked with `--replace` would put back over dossiers that are there (drill D2: `--all --replace`
 * started at once and what users wrote since was gone): those of the scope whose schema is there, the first `shown`.
 * The scope: the dossiers (of `codes`, or all when null) with a kept generation at or before `at` (of `kind`): one without
 * any is not replaced, the run fails it (drill of 2026-12-06: the dry run listed it under both).
 */
export async function dossiersReplaced(db: Queryable, s: { codes: string[] | null; at: Date; kind: string | null; shown: number }): Promise<{ total: number; codes: string[] }> {
  const { rows } = await db.query<{ code: string; n: number }>(
    `WITH scope AS (
       SELECT DISTINCT code FROM nightshift.backup_generation
        WHERE ($1::text[] IS NULL OR code = ANY ($1::text[])) AND deleted_at IS NULL AND snapshot_at < $2::timestamptz + interval '1 millisecond' AND ($3::text IS NULL OR kind = $3))
     SELECT d.code, count(*) OVER ()::int AS n FROM scope JOIN nightshift.dossier d ON d.code = scope.code
      WHERE EXISTS (SELECT 1 FROM pg_namespace s WHERE s.nspname = d.schema_name) ORDER BY d.code LIMIT $4`,
    [s.codes, s.at, s.kind, s.shown],
  );
  return { total: rows[0]?.n ?? 0, codes: rows.map((r) => r.code) };
}

/**
 * R-PI-4 seen from a restore: the dossiers a run would leave above `level` (the supervisor's patch level once restored):
 * every other registered dossier whose schema is there and that the run does not replace (not in `replaced`).
 */
export async function dossiersLeftAbove(db: Queryable, level: number, replaced: { codes: string[] | null; at: Date; kind: string | null } | null, shown: number): Promise<{ total: number; codes: string[]; highest: number }> {
  const { rows } = await db.query<{ code: string; n: number; highest: number }>(
    `SELECT d.code, count(*) OVER ()::int AS n, max(d.patch_level) OVER ()::int AS highest FROM nightshift.dossier d
      WHERE d.role <> 'supervisor' AND d.patch_level > $1
        AND EXISTS (SELECT 1 FROM pg_namespace s WHERE s.nspname = d.schema_name)
        AND NOT ($2::boolean AND ($3::text[] IS NULL OR d.code = ANY ($3::text[]))
                 AND EXISTS (SELECT 1 FROM nightshift.backup_generation g WHERE g.code = d.code AND g.deleted_at IS NULL
                               AND g.snapshot_at < $4::timestamptz + interval '1 millisecond' AND ($5::text IS NULL OR g.kind = $5)))
      ORDER BY d.code LIMIT $6`,
    [level, replaced !== null, replaced?.codes ?? null, replaced?.at ?? null, replaced?.kind ?? null, shown],
  );
  return { total: rows[0]?.n ?? 0, codes: rows.map((r) => r.code), highest: rows[0]?.highest ?? 0 };
}

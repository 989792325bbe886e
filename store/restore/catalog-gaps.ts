import type { Queryable } from '../queryable';

/** The oldest kept generation's time (of `kind` when given), undefined when the catalog holds none: what a date before it misses. */
export async function oldestKeptGeneration(db: Queryable, kind: string | null): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(`SELECT min(snapshot_at) AS at FROM nightshift.backup_generation WHERE deleted_at IS NULL AND ($1::text IS NULL OR kind = $1)`, [kind]);
  return rows[0]?.at ?? undefined;
}

/**
 * Registered dossiers whose schema is not there, not in `scope` (the codes a whole-catalog restore takes) and that no
 * kept generation of any kind holds at or before `at`: what `backup restore --all` cannot bring back (drill D2: 142
 * never backed up, the run said 0 failed). Of any kind, as the run's end note counts them (store/restore/after-run.ts):
 * one whose only generations are of another kind than `--kind` is backed up, not one to create again. The first `shown`.
 */
export async function registeredWithoutSchema(db: Queryable, scope: Set<string>, at: Date, shown: number): Promise<{ total: number; codes: string[] }> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT d.code FROM nightshift.dossier d
      WHERE NOT EXISTS (SELECT 1 FROM pg_namespace s WHERE s.nspname = d.schema_name)
        AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g
                         WHERE g.code = d.code AND g.deleted_at IS NULL AND g.snapshot_at < $1::timestamptz + interval '1 millisecond')
      ORDER BY d.code`,
    [at],
  );
  const left = rows.map((r) => r.code).filter((c) => !scope.has(c));
  return { total: left.length, codes: left.slice(0, shown) };
}

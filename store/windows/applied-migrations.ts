import type { Queryable } from '../queryable';

/** Names of the applied migrations (R-MW-10 post-check). db/migrate has its own: it must not load for every activity. */
export async function appliedMigrations(db: Queryable): Promise<Set<string>> {
  return new Set((await db.query<{ name: string }>('SELECT name FROM nightshift.pgmigrations')).rows.map((r) => r.name));
}

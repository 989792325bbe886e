import type { Queryable } from '../queryable';

/** Whether a Temporal persistence database already has temporal-sql-tool's `schema_version` table. */
export async function temporalSchemaVersioned(db: Queryable): Promise<boolean> {
  return (await db.query<{ ok: boolean }>("SELECT to_regclass('schema_version') IS NOT NULL AS ok")).rows[0]!.ok;
}

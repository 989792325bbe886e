import type { Queryable } from '../queryable';

/** Whether the target's database has the gate's tables (its migrations are applied). */
export async function gateTablesPresent(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>("SELECT to_regclass('nightshift.gate_key') IS NOT NULL AS ok");
  return Boolean(rows[0]?.ok);
}

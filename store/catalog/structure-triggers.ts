import type { Queryable } from '../queryable';

/** Whether migration 0029's event triggers are there and enabled (created only by a superuser): R-BK-10 for structure changes. */
export async function structureChangesSeen(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_event_trigger WHERE evtname IN ('nightshift_touch_ddl', 'nightshift_touch_drop') AND evtenabled <> 'D'`,
  );
  return rows[0]!.n === 2;
}

import type { Queryable } from '../queryable';

/** R-MW-8, after the grace: ends the client backends of other roles on the current database. Returns how many. */
export async function terminateOtherBackends(db: Queryable): Promise<number> {
  const r = await db.query<{ n: number }>(
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND usename IS DISTINCT FROM current_user
            AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
  );
  return r.rows[0]?.n ?? 0;
}

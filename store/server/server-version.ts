import type { Queryable } from '../queryable';

/** The server's version string ('?' when it says none). */
export async function serverVersion(db: Queryable): Promise<string> {
  return (await db.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?';
}

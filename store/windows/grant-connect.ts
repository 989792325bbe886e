import type { Queryable } from '../queryable';
import { connectGrantees } from './connect-grantees';

/**
 * Gives back what revokeConnect took (idempotent: GRANT twice is harmless). Returns the roles that no
 * longer exist, left out.
 */
export async function grantConnect(db: Queryable, database: string, roles: string[]): Promise<string[]> {
  const q = await connectGrantees(db, database, roles);
  if (q.roles) await db.query(`GRANT CONNECT ON DATABASE ${q.database} TO ${q.roles}`);
  return q.missing;
}

import type { Queryable } from '../queryable';
import { connectGrantees } from './connect-grantees';

/**
 * R-MW-8: refuses new connections to the database from these roles ('PUBLIC' allowed). CASCADE: a role
 * that held CONNECT WITH GRANT OPTION and granted it on loses those grants too (their grantees are in
 * the list, and get CONNECT back from grantConnect).
 */
export async function revokeConnect(db: Queryable, database: string, roles: string[]): Promise<void> {
  const q = await connectGrantees(db, database, roles);
  if (q.roles) await db.query(`REVOKE CONNECT ON DATABASE ${q.database} FROM ${q.roles} CASCADE`);
}

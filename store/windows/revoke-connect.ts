import type { Queryable } from '../queryable';
import { ident } from '../../db/ident';
import { roleSql } from './role-sql';

/** R-MW-8: refuses new connections to the database from these roles ('PUBLIC' allowed). */
export async function revokeConnect(db: Queryable, database: string, roles: string[]): Promise<void> {
  await db.query(`REVOKE CONNECT ON DATABASE ${ident(database)} FROM ${roles.map(roleSql).join(', ')}`);
}

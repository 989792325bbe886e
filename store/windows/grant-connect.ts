import type { Queryable } from '../queryable';
import { ident } from '../../db/ident';
import { roleSql } from './role-sql';

/** Gives back what revokeConnect took (idempotent: GRANT twice is harmless). */
export async function grantConnect(db: Queryable, database: string, roles: string[]): Promise<void> {
  await db.query(`GRANT CONNECT ON DATABASE ${ident(database)} TO ${roles.map(roleSql).join(', ')}`);
}

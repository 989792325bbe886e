import type { VerifyScope } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';
import { verifyScopeWhere } from './verify-scope';

/** How many kept generations a verify run covers now (R-BK-13). */
export async function verifyScopeCount(db: Queryable, scope: VerifyScope): Promise<number> {
  const w = verifyScopeWhere(scope, 1);
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM nightshift.backup_generation g WHERE ${w.sql}`, w.values);
  return rows[0]!.n;
}

import type { VerifyScope } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';
import { verifyScopeWhere } from './verify-scope';

/** The next `limit` kept generation ids of the scope after `after`, in id order (the verify run's pages). */
export async function verifyScopePage(db: Queryable, scope: VerifyScope, after: number, limit: number): Promise<number[]> {
  const w = verifyScopeWhere(scope, 3);
  const { rows } = await db.query<{ id: string }>(
    `SELECT g.id FROM nightshift.backup_generation g WHERE g.id > $1 AND ${w.sql} ORDER BY g.id LIMIT $2`,
    [after, limit, ...w.values],
  );
  return rows.map((r) => Number(r.id));
}

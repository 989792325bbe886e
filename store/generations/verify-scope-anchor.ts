import type { VerifyScope } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';
import { verifyScopeWhere } from './verify-scope';

/** The generation at position `offset` (0-based, id order) of the scope: the one a run restores whatever its sample draws. */
export async function verifyScopeAnchor(db: Queryable, scope: VerifyScope, offset: number): Promise<number | null> {
  const w = verifyScopeWhere(scope, 2);
  const { rows } = await db.query<{ id: string }>(
    `SELECT g.id FROM nightshift.backup_generation g WHERE ${w.sql} ORDER BY g.id OFFSET $1 LIMIT 1`,
    [offset, ...w.values],
  );
  return rows[0] ? Number(rows[0].id) : null;
}

import type { Queryable } from '../queryable';
import { SELECTION_FROM_SQL, type PatchSelection } from './selection-sql';

/** Up to `limit` codes of the run's selection after `after`, in code order, the supervisor left out. */
export async function selectionPage(db: Queryable, runId: number, selection: PatchSelection, after: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ code: string }>(
    `SELECT d.code ${SELECTION_FROM_SQL[selection]} AND d.role <> 'supervisor' AND d.code > $2 ORDER BY d.code LIMIT $3`,
    [runId, after, limit],
  );
  return rows.map((r) => r.code);
}

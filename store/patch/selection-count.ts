import type { Queryable } from '../queryable';
import { SELECTION_FROM_SQL, type PatchSelection } from './selection-sql';

/** How many dossiers the run's selection holds besides the supervisor, and whether it holds the supervisor. */
export async function selectionCount(db: Queryable, runId: number, selection: PatchSelection): Promise<{ others: number; supervisor: boolean }> {
  const { rows } = await db.query<{ others: number; supervisor: boolean }>(
    `SELECT count(*) FILTER (WHERE d.role <> 'supervisor')::int AS others, coalesce(bool_or(d.role = 'supervisor'), false) AS supervisor ${SELECTION_FROM_SQL[selection]}`,
    [runId],
  );
  return rows[0]!;
}

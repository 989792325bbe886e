import type { VerifyScope } from '../../domain/backup-verify';
import { verifyScopeWhere } from '../generations/verify-scope';
import type { Queryable } from '../queryable';

/**
 * The distinct dossier codes with a kept generation of the run's scope that the run did not read (it stopped early),
 * after `after`, 2000 at a time: the mail's list names them, as the batch's lists its dossiers not done.
 */
export async function verifyUnreadCodesPage(db: Queryable, runId: number, scope: VerifyScope, after: string): Promise<string[]> {
  const w = verifyScopeWhere(scope, 3);
  const { rows } = await db.query<{ code: string }>(
    `SELECT DISTINCT g.code FROM nightshift.backup_generation g
      WHERE g.code > $2 AND ${w.sql}
        AND NOT EXISTS (SELECT 1 FROM nightshift.verify_run_item i WHERE i.run_id = $1 AND i.generation_id = g.id)
      ORDER BY g.code LIMIT 2000`,
    [runId, after, ...w.values],
  );
  return rows.map((r) => r.code);
}

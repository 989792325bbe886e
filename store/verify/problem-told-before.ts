import type { VerifyItemStatus } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';

/**
 * Whether a verify run before `runId` recorded this generation with this problem and mailed its report (sent, or being
 * sent): the problem was told. A run that mailed nobody (no report recipients then, or its mail failed) told no one
 * (drill F, session 36: such problems were marked "(signalé déjà)" for ever once recipients were set). Index
 * verify_run_item_problem_generation (migration 0044).
 */
export async function problemToldBefore(db: Queryable, generationId: number, status: VerifyItemStatus, runId: number): Promise<boolean> {
  const { rows } = await db.query<{ told: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM nightshift.verify_run_item i JOIN nightshift.verify_run r ON r.id = i.run_id
                     WHERE i.generation_id = $1 AND i.status NOT IN ('ok', 'pruned') AND i.status = $2 AND i.run_id < $3
                       AND r.mail_state IN ('sent', 'pending')) AS told`,
    [generationId, status, runId],
  );
  return rows[0]!.told;
}

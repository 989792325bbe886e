import type { VerifyScope } from '../../domain/backup-verify';
import type { Queryable } from '../queryable';
import type { VerifyRunSettings } from './run-row';

/** Claims a verify run (R-BK-13); its workflow id is unique, so a retried claim finds the same row (runByWorkflowId). */
export async function insertVerifyRun(
  db: Queryable,
  r: { workflowId: string; scope: VerifyScope; full: boolean; samplePercent: number; seed: number; anchor: number | null; selected: number; settings: VerifyRunSettings },
): Promise<number> {
  const part = r.scope.kind === 'all' ? r.scope.part : undefined;
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.verify_run (workflow_id, scope, backup_run_id, codes, full_restore, sample_percent, seed, anchor_generation, selected, settings,
       subset_part, subset_of, subset_rotating)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
    [
      r.workflowId,
      r.scope.kind,
      r.scope.kind === 'run' ? r.scope.runId : null,
      r.scope.kind === 'codes' ? r.scope.codes : null,
      r.full,
      r.samplePercent,
      r.seed,
      r.anchor,
      r.selected,
      JSON.stringify(r.settings),
      // migration 0038: one part of every kept generation
      part?.part ?? null,
      part?.of ?? null,
      part?.rotating ?? false,
    ],
  );
  return Number(rows[0]!.id);
}

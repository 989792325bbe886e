import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { targetNameSchema } from './target';
import { restoringRunTuningSchema } from './fan-out-tuning';

/**
 * A rollback's input (workflows/patch-rollback.api.ts PatchRollbackInput, R-PI-11): exactly one scope,
 * dossier codes, a patch run (optionally its failed dossiers only) or a rollback run to retry. Checked
 * before a start and again by the claim.
 */
export const rollbackInputSchema = z
  .object({
    target: targetNameSchema,
    dossiers: z.array(dossierCodeSchema).min(1, 'give at least one dossier code').max(1_000_000).optional(),
    patchRun: z.number().int().positive().optional(),
    failedOnly: z.boolean().optional(),
    retryOf: z.number().int().positive().optional(),
    windowWorkflowId: z.string().min(1).max(500).optional(),
    tuning: restoringRunTuningSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const scopes = [v.dossiers !== undefined, v.patchRun !== undefined, v.retryOf !== undefined].filter(Boolean).length;
    if (scopes !== 1) ctx.addIssue({ code: 'custom', message: 'give dossier codes, a patch run (--run) or a rollback run to retry (--retry): exactly one of them' });
    if (v.failedOnly && v.patchRun === undefined) ctx.addIssue({ code: 'custom', path: ['failedOnly'], message: '--failed-only goes with --run' });
  });
export type RollbackInput = z.infer<typeof rollbackInputSchema>;

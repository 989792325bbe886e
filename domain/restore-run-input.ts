import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { GENERATION_KINDS } from './generation';
import { targetNameSchema } from './target';
import { restoringRunTuningSchema } from './fan-out-tuning';

/**
 * A bulk restore run's input (workflows/backup-restore-run.api.ts RestoreRunInput): the instant (each dossier's
 * generation at or just before it), and exactly one scope: dossier codes, every dossier of the generations catalog, or
 * the failed dossiers of a restore run. Checked before a start and again by the claim.
 */
export const restoreRunInputSchema = z
  .object({
    target: targetNameSchema,
    at: z.iso.datetime({ offset: true }),
    kind: z.enum(GENERATION_KINDS).optional(),
    replace: z.boolean(),
    from: z.enum(['auto', 'local', 'offsite']),
    codes: z.array(dossierCodeSchema).min(1, 'give at least one dossier code').max(1_000_000).optional(),
    all: z.literal(true).optional(),
    retryOf: z.number().int().positive().optional(),
    tuning: restoringRunTuningSchema.optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const scopes = [v.codes !== undefined, v.all !== undefined, v.retryOf !== undefined].filter(Boolean).length;
    if (scopes !== 1) ctx.addIssue({ code: 'custom', message: 'give --all, --codes A,B,C or --retry ID: exactly one of them' });
  });
export type RestoreRunInputChecked = z.infer<typeof restoreRunInputSchema>;

import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { targetNameSchema } from './target';
import { fanOutTuningSchema } from './fan-out-tuning';

/** The backup batch's input (workflows/backup-batch.api.ts BackupBatchInput), checked before a start and again by the claim. */
export const backupBatchInputSchema = z.object({
  target: targetNameSchema,
  all: z.boolean().optional(),
  only: z.array(dossierCodeSchema).min(1).max(10_000).optional(),
  retryOf: z.number().int().positive().optional(),
  trigger: z.enum(['manual', 'schedule', 'retry']).optional(),
  tuning: fanOutTuningSchema(),
});

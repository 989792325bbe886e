import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { targetNameSchema } from './target';

/** The backup batch's input (workflows/backup-batch.api.ts BackupBatchInput), checked before a start and again by the claim. */
export const backupBatchInputSchema = z.object({
  target: targetNameSchema,
  all: z.boolean().optional(),
  only: z.array(dossierCodeSchema).min(1).max(10_000).optional(),
  retryOf: z.number().int().positive().optional(),
  trigger: z.enum(['manual', 'schedule', 'retry']).optional(),
  tuning: z
    .object({
      chunkSize: z.number().int().min(1).max(1000),
      window: z.number().int().min(1).max(16),
      concurrency: z.number().int().min(1).max(16),
      chunkTimeBudgetMs: z.number().int().min(100).max(3_600_000),
      maxChunksPerRun: z.number().int().min(1).max(900),
      heartbeatTimeout: z.string().min(1).max(40),
    })
    .partial()
    .optional(),
});

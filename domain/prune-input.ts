import { z } from 'zod';
import { targetNameSchema } from './target';

/** The prune's input (workflows/backup-prune.api.ts BackupPruneInput), checked before a start (client or child). */
export const backupPruneInputSchema = z.object({
  target: targetNameSchema,
  dryRun: z.boolean().optional(),
  trigger: z.enum(['manual', 'batch']).optional(),
  batchWorkflowId: z.string().min(1).max(300).optional(),
  tuning: z
    .object({
      chunkSize: z.number().int().min(1).max(2000),
      window: z.number().int().min(1).max(16),
      concurrency: z.number().int().min(1).max(64),
      chunkTimeBudgetMs: z.number().int().min(100).max(3_600_000),
      maxChunksPerRun: z.number().int().min(1).max(900),
      heartbeatTimeout: z.string().min(1).max(40),
    })
    .partial()
    .optional(),
});

import { z } from 'zod';
import { targetNameSchema } from './target';
import { fanOutTuningSchema } from './fan-out-tuning';

/** The prune's input (workflows/backup-prune.api.ts BackupPruneInput), checked before a start (client or child). */
export const backupPruneInputSchema = z.object({
  target: targetNameSchema,
  dryRun: z.boolean().optional(),
  trigger: z.enum(['manual', 'batch']).optional(),
  batchWorkflowId: z.string().min(1).max(300).optional(),
  tuning: fanOutTuningSchema({ chunkSize: 2000, concurrency: 64 }),
});

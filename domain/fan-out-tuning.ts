import { z } from 'zod';

/**
 * The tuning a fan-out run accepts (workflows/fan-out.api.ts FanOutRunTuning), each field optional: one schema
 * for the backup batch, the verification and the prune (a prune's dossier is cheap: wider limits).
 */
export function fanOutTuningSchema(limits: { chunkSize: number; concurrency: number } = { chunkSize: 1000, concurrency: 16 }) {
  return z
    .object({
      chunkSize: z.number().int().min(1).max(limits.chunkSize),
      window: z.number().int().min(1).max(16),
      concurrency: z.number().int().min(1).max(limits.concurrency),
      chunkTimeBudgetMs: z.number().int().min(100).max(3_600_000),
      maxChunksPerRun: z.number().int().min(1).max(900),
      heartbeatTimeout: z.string().min(1).max(40),
    })
    .partial()
    .optional();
}

/** The tuning a restoring run accepts (workflows/fan-out.api.ts RestoringRunTuning): the patch rollback and the bulk restore. */
export const restoringRunTuningSchema = z
  .object({
    chunkSize: z.number().int().min(1).max(1000),
    concurrency: z.number().int().min(1).max(64),
    heartbeatTimeoutSeconds: z.number().int().min(1).max(3600),
    maxChunksPerRun: z.number().int().min(1).max(10_000),
    detailsEverySeconds: z.number().int().min(0).max(3600),
  })
  .partial()
  .strict();

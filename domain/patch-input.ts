import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { targetNameSchema } from './target';

/** What a patch run claims with (activities/patch.ts ClaimArgs): checked before a start and again by the claim. */
export const patchClaimSchema = z.object({
  target: targetNameSchema,
  workflowId: z.string().min(1).max(500),
  mode: z.enum(['integrate', 'revalidate', 'retry']),
  dir: z.string().min(1).max(4096).optional(),
  dossiers: z.array(dossierCodeSchema).max(1_000_000).optional(),
  retryOf: z.number().int().positive().optional(),
  windowWorkflowId: z.string().min(1).max(500).optional(),
  /** R-PI-11: a restore point of each dossier just before it is patched (window payload backup+patch); absent: false */
  restorePoints: z.boolean().optional(),
});

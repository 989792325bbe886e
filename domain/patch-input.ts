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

/**
 * How many dossiers of a run may fail before it stops starting others (AWS SSM's MaxErrors, Ansible's
 * max_fail_percentage): a count, or a percentage of the dossiers the run takes besides the supervisor. The run stops
 * once MORE than that have failed (0: the first failure stops it); the dossiers already started finish.
 */
export type MaxFailures = { count: number } | { percent: number };

export const MAX_FAILURES_COUNT_MAX = 1_000_000;

export const maxFailuresSchema = z.union([
  z.object({ count: z.number().int().min(0).max(MAX_FAILURES_COUNT_MAX) }).strict(),
  z.object({ percent: z.number().min(0).max(100) }).strict(),
]);

export const MAX_FAILURES_EXPECTED = 'expected a number of dossiers (such as 10) or a percentage of them (such as 5%)';

/** `--max-failures 10` or `5%` / `12.5%`, decimal digits only; undefined when it is neither. */
export function parseMaxFailures(text: string): MaxFailures | undefined {
  const count = /^(\d{1,7})$/.exec(text);
  if (count) {
    const n = Number(count[1]);
    return n <= MAX_FAILURES_COUNT_MAX ? { count: n } : undefined;
  }
  const percent = /^(\d{1,3}(?:\.\d{1,2})?)%$/.exec(text);
  if (percent) {
    const n = Number(percent[1]);
    return n <= 100 ? { percent: n } : undefined;
  }
  return undefined;
}

/** The number of failed dossiers a run may reach before it stops (more stops it), for `others` dossiers. */
export const failureLimit = (m: MaxFailures, others: number): number => ('count' in m ? m.count : Math.floor((others * m.percent) / 100));

/** As the operator typed it: `10`, `5%`. */
export const maxFailuresText = (m: MaxFailures): string => ('count' in m ? String(m.count) : `${m.percent}%`);

/** `--max-failures 10` or `5%` as typed (patch integrate / revalidate / retry, maintenance schedule): decimal digits only */
export const MAX_FAILURES_FLAG = z.string().transform((v, ctx) => parseMaxFailures(v) ?? (ctx.addIssue({ code: 'custom', message: MAX_FAILURES_EXPECTED }), z.NEVER));

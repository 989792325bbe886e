import type { Config } from '../../config/config';
import { type RetentionDecision, type RetentionPolicies, decideRetention, resolveRetention } from '../../domain/retention';
import type { Queryable } from '../queryable';
import { type PruneCandidate, pruneCandidates } from './prune-candidates';
import { readRetentionSetting } from './prune-retention-setting';

/** Retention as the prune, `backup list` and `prune --dry-run` see it (R-BK-11): the policies and one dossier's decisions. */

/** This machine's retention over the common one over the default, per kind (R-BK-9). */
export async function loadRetention(db: Queryable, config: Pick<Config, 'backupRetention'>) {
  return resolveRetention(config.backupRetention, await readRetentionSetting(db));
}

export interface DossierPlan {
  code: string;
  /** newest first, each with the decision */
  generations: (PruneCandidate & { decision: RetentionDecision })[];
}

/**
 * Where retention is decided, whether off-site storage is configured (config.offsite of the process deciding: the worker
 * for a prune, the CLI's host for a dry run and `backup list`): it decides whether a generation without a copy holds
 * the newest off-site copy (R-BK-14, decideRetention).
 */
export interface PlanContext {
  offsiteConfigured: boolean;
}

/** What retention decides for one dossier now, without changing anything (dry run, `backup list`). */
export async function planDossierPrune(db: Queryable, code: string, policies: RetentionPolicies, timeZone: string, ctx: PlanContext): Promise<DossierPlan> {
  const { generations, now } = await pruneCandidates(db, code, { lock: false });
  return { code, generations: joinDecisions(generations, policies, timeZone, now, ctx) };
}

export function joinDecisions(generations: PruneCandidate[], policies: RetentionPolicies, timeZone: string, now: Date, ctx: PlanContext) {
  const decisions = new Map(decideRetention(generations, policies, timeZone, { now, offsiteConfigured: ctx.offsiteConfigured }).map((d) => [d.id, d]));
  return generations.map((g) => ({ ...g, decision: decisions.get(g.id)! }));
}

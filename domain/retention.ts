import { DateTime } from 'luxon';
import { z } from 'zod';
import { GENERATION_KINDS, type GenerationKind, type OffsiteState, type VerifyState } from './generation';
import { ISO_DATE_TIME, TIME_FORMATS_HINT, operatorTimeText, parseOperatorTime } from './operator-time';

/**
 * Retention of generations (R-BK-11), with restic's `forget --keep-*` semantics: generations newest first;
 * `last` keeps the newest N; `daily` / `weekly` / `monthly` keep the newest generation of each of the N most
 * recent days / ISO weeks / months that have one (a period without a generation does not count), and, while such a
 * count is not filled, the oldest generation too (restic keeps "the oldest snapshot in the group additionally"). Periods are
 * the operator's (config.timeZone), so a backup at 00:30 Paris time belongs to that Paris day. A policy per
 * folder kind (normal, EchangePrest/, Cloture/: R-BK-5). Whatever the policy says, the newest valid
 * generation of each kind stays when no kept one of that kind is valid (valid: not found corrupt or missing by a
 * verification). Pure: no I/O; luxon for the zone's calendar.
 */

export const RETENTION_RULES = ['last', 'daily', 'weekly', 'monthly'] as const;
export type RetentionRule = (typeof RETENTION_RULES)[number];
export type RetentionPolicy = Record<RetentionRule, number>;
export type RetentionPolicies = Record<GenerationKind, RetentionPolicy>;

/**
 * The default, for new and existing deployments alike: the two newest (yesterday's and today's, whatever
 * else ran), a week of days, a month of weeks, a quarter of months: at most 16 files per dossier and kind,
 * usually 12 or fewer (the newest counts for several rules).
 */
export const DEFAULT_RETENTION: RetentionPolicy = { last: 2, daily: 7, weekly: 4, monthly: 3 };
export const DEFAULT_RETENTION_POLICIES: RetentionPolicies = { normal: DEFAULT_RETENTION, EchangePrest: DEFAULT_RETENTION, Cloture: DEFAULT_RETENTION };

export const RETENTION_MAX_COUNT = 10_000;
export const RETENTION_FORMAT_HINT = "expected rule=count pairs such as 'last=2,daily=7,weekly=4,monthly=3' (rules: last, daily, weekly, monthly; a missing rule keeps 0)";

const count = z.number().int('expected a whole number').min(0, 'expected 0 or more').max(RETENTION_MAX_COUNT, `at most ${RETENTION_MAX_COUNT}`);

/** A policy as stored (JSON): every rule a count, at least one above 0 (a policy that keeps nothing is refused). */
export const retentionPolicySchema = z
  .object({ last: count.default(0), daily: count.default(0), weekly: count.default(0), monthly: count.default(0) })
  .strict()
  .refine((p) => RETENTION_RULES.some((r) => p[r] > 0), 'a policy that keeps nothing is refused: give at least one rule above 0');

/** The common value (nightshift.backup_setting 'retention'): a policy per kind, each optional. */
export const commonRetentionSchema = z.object({ normal: retentionPolicySchema.optional(), EchangePrest: retentionPolicySchema.optional(), Cloture: retentionPolicySchema.optional() }).strict();
export type CommonRetention = z.infer<typeof commonRetentionSchema>;

/** 'last=2,daily=7' (spaces allowed, any order, each rule once); throws a message saying what is wrong. */
export function parseRetentionPolicy(text: string): RetentionPolicy {
  const v = text.trim();
  if (!v || v.length > 200) throw new Error(RETENTION_FORMAT_HINT);
  const policy: Partial<RetentionPolicy> = {};
  for (const part of v.split(',')) {
    // 'daily=7,' or ',daily=7' (drill R2, session 36: read `"": expected …`)
    if (!part.trim()) throw new Error(`an empty entry (a comma too many?): ${RETENTION_FORMAT_HINT}`);
    const m = /^\s*([a-z]+)\s*=\s*(\d+)\s*$/i.exec(part);
    if (!m) throw new Error(`"${part.trim().slice(0, 40)}": ${RETENTION_FORMAT_HINT}`);
    const rule = m[1]!.toLowerCase();
    if (!(RETENTION_RULES as readonly string[]).includes(rule)) throw new Error(`unknown rule "${m[1]!.slice(0, 20)}": ${RETENTION_FORMAT_HINT}`);
    if (policy[rule as RetentionRule] !== undefined) throw new Error(`rule ${rule} given twice`);
    // any number of digits is read, so that 1000000 is said to be too many (not a bad format)
    if (m[2]!.replace(/^0+(?=\d)/, '').length > String(RETENTION_MAX_COUNT).length) throw new Error(`${rule}: at most ${RETENTION_MAX_COUNT}`);
    policy[rule as RetentionRule] = Number(m[2]);
  }
  const r = retentionPolicySchema.safeParse(policy);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(issue?.path.length ? `${String(issue.path[0])}: ${issue.message}` : (issue?.message ?? RETENTION_FORMAT_HINT));
  }
  return r.data;
}

export function retentionText(p: RetentionPolicy): string {
  return RETENTION_RULES.map((r) => `${r}=${p[r]}`).join(',');
}

export function isGenerationKind(k: string): k is GenerationKind {
  return (GENERATION_KINDS as readonly string[]).includes(k);
}

/**
 * NIGHTSHIFT_BACKUP_RETENTION: one policy for every kind ('last=2,daily=7'), or per kind separated by ';'
 * ('normal:last=2,daily=7;Cloture:monthly=12'); a bare policy next to kinds covers the kinds not named.
 */
export function parseLocalRetention(text: string): Partial<RetentionPolicies> {
  const out: Partial<RetentionPolicies> = {};
  let all: RetentionPolicy | undefined;
  for (const segment of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)\s*:(.*)$/.exec(segment);
    if (m) {
      const kind = m[1]!;
      if (!isGenerationKind(kind)) {
        // as `--kind` says it (drill X, session 40: `cloture:last=2` here had no hint)
        const meant = GENERATION_KINDS.find((k) => k.toLowerCase() === kind.toLowerCase());
        throw new Error(`unknown folder kind "${kind.slice(0, 20)}": expected ${GENERATION_KINDS.join(', ')}${meant ? ` (kinds are case-sensitive: ${meant}?)` : ''}`);
      }
      if (out[kind]) throw new Error(`kind ${kind} given twice`);
      out[kind] = withKind(kind, () => parseRetentionPolicy(m[2]!));
    } else {
      if (all) throw new Error('two policies for every kind: name the kind of each (normal:..., EchangePrest:..., Cloture:...)');
      all = parseRetentionPolicy(segment);
    }
  }
  if (!all && Object.keys(out).length === 0) throw new Error(RETENTION_FORMAT_HINT);
  if (all) for (const k of GENERATION_KINDS) out[k] ??= all;
  return out;
}

function withKind<T>(kind: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new Error(`${kind}: ${(err as Error).message}`, { cause: err });
  }
}

export type RetentionSource = 'local' | 'common' | 'default';

export interface ResolvedRetention {
  kind: GenerationKind;
  policy: RetentionPolicy;
  source: RetentionSource;
}

/**
 * R-BK-9 precedence per kind: this machine's value (NIGHTSHIFT_BACKUP_RETENTION) > the common value (the
 * database) > the default. A common value that does not parse is ignored and reported, never half-used.
 */
export function resolveRetention(
  local: Partial<RetentionPolicies> | undefined,
  commonRaw: unknown,
  defaults: RetentionPolicies = DEFAULT_RETENTION_POLICIES,
): { policies: RetentionPolicies; details: ResolvedRetention[]; ignored?: string } {
  let common: CommonRetention = {};
  let ignored: string | undefined;
  if (commonRaw !== undefined && commonRaw !== null) {
    const r = commonRetentionSchema.safeParse(commonRaw);
    if (r.success) common = r.data;
    else ignored = r.error.issues.map((i) => `${i.path.join('.') || 'retention'}: ${i.message}`).join('; ');
  }
  const details = GENERATION_KINDS.map((kind): ResolvedRetention => {
    const l = local?.[kind];
    if (l) return { kind, policy: l, source: 'local' };
    const c = common[kind];
    if (c) return { kind, policy: c, source: 'common' };
    return { kind, policy: defaults[kind], source: 'default' };
  });
  const policies = Object.fromEntries(details.map((d) => [d.kind, d.policy])) as RetentionPolicies;
  return ignored === undefined ? { policies, details } : { policies, details, ignored };
}

/** The common value with one kind's policy set (or, undefined, removed); the others stay as stored. */
export function withKindPolicy(commonRaw: unknown, kind: GenerationKind, policy: RetentionPolicy | undefined): CommonRetention | undefined {
  const r = commonRetentionSchema.safeParse(commonRaw ?? {});
  const next: CommonRetention = { ...(r.success ? r.data : {}) };
  if (policy) next[kind] = policy;
  else delete next[kind];
  return Object.keys(next).length ? next : undefined;
}

// ---------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------

export interface RetentionCandidate {
  id: number;
  kind: GenerationKind;
  snapshotAt: Date;
  verifyState: VerifyState;
  /** its off-site copy (R-BK-14): a copy recorded `copied` keeps a generation restorable whatever its file became */
  offsiteState?: OffsiteState;
  /** an unexpired lease (a restore or a verification reading it, a patch restore point): never deleted now */
  leasedUntil?: Date | null;
  /** the patch run whose restore point it is (a `restore-point:<run>` lease, R-PI-11): said in the lease's reason */
  restorePointRun?: string | null;
  /** `backup forget` marked it: it takes no slot and goes at the next prune (still kept as the only valid one, or leased) */
  forgottenAt?: Date | null;
}

export interface RetentionDecision {
  id: number;
  keep: boolean;
  /** why it is kept ("last 2", "daily 2026-12-01", "oldest, daily 7 not filled", "only valid generation", "leased until ..."); empty: deleted */
  reasons: string[];
  /** deleted because nothing is left of it (its file missing, no off-site copy: isGone), not by the policy */
  gone?: true;
  /** deleted because the operator forgot it (`backup forget`), not by the policy */
  forgotten?: true;
  /** kept by a lease that is a patch run's restore point (R-PI-11), not by a restore or a verification reading it */
  restorePoint?: true;
  /**
   * the newest of its kind the policy deletes: the prune reads the kept ones back first (activities/prune.ts), and keeps
   * this one instead when none of them does (R-BK-11); a decision made without reading files cannot say which
   */
  standIn?: true;
}

/** Why a generation the decision deletes goes: what the dry run and `backup list` say (R-BK-11). */
export function deletionReason(d: Pick<RetentionDecision, 'gone' | 'standIn' | 'forgotten'>, kind: GenerationKind, policy: RetentionPolicy): string {
  if (d.forgotten) return "forgotten ('nightshift backup forget'): it takes no slot";
  if (d.gone) return 'nothing is left of it (its file missing, no off-site copy): it takes no slot';
  const beyond = `beyond ${kind}'s ${retentionText(policy)}`;
  return d.standIn ? `${beyond}; kept instead if no kept ${kind} generation reads back at the prune` : beyond;
}

export const isValidGeneration = (g: Pick<RetentionCandidate, 'verifyState'>): boolean => g.verifyState !== 'corrupt' && g.verifyState !== 'missing';

/** What a restore can read (R-BK-11, R-BK-14): its file (not found corrupt or missing), or its off-site copy. */
export const isRestorable = (g: Pick<RetentionCandidate, 'verifyState' | 'offsiteState'>): boolean => isValidGeneration(g) || g.offsiteState === 'copied';

/**
 * Nothing is left of it: its file found missing, and no off-site copy. It takes no retention slot (a slot would keep
 * a record of nothing and push a restorable generation out) and goes at the next prune, unless leased. A file found
 * corrupt still takes its slot: there is something left to look at.
 */
export const isGone = (g: Pick<RetentionCandidate, 'verifyState' | 'offsiteState'>): boolean => g.verifyState === 'missing' && g.offsiteState !== 'copied';

const PERIODS: { rule: Exclude<RetentionRule, 'last'>; key: (t: DateTime) => string }[] = [
  { rule: 'daily', key: (t) => t.toFormat('yyyy-MM-dd') },
  { rule: 'weekly', key: (t) => t.toFormat("kkkk-'W'WW") },
  { rule: 'monthly', key: (t) => t.toFormat('yyyy-MM') },
];

/** Newest first (snapshot time, then id): the one order every rule reads. */
function newestFirst<T extends Pick<RetentionCandidate, 'id' | 'snapshotAt'>>(gens: T[]): T[] {
  return [...gens].sort((a, b) => b.snapshotAt.getTime() - a.snapshotAt.getTime() || b.id - a.id);
}

/**
 * One kind's generations under one policy (restic's buckets), newest first in the answer. As restic's `forget`: when
 * a daily / weekly / monthly count is not filled (fewer periods with a generation than it asks for), the oldest
 * generation is kept as well, even if its period's newest already is ("oldest, daily 7 not filled"): the longest
 * history the counts allow. Only ever one more kept, never one fewer.
 */
export function applyPolicy(gens: RetentionCandidate[], policy: RetentionPolicy, timeZone: string): RetentionDecision[] {
  const left = { ...policy };
  const lastKey: Partial<Record<RetentionRule, string>> = {};
  return newestFirst(gens).map((g, i, all) => {
    const reasons: string[] = [];
    if (left.last > 0) {
      left.last--;
      reasons.push(`last ${policy.last}`);
    }
    const local = DateTime.fromJSDate(g.snapshotAt, { zone: timeZone });
    if (!local.isValid) throw new Error(`unknown time zone "${timeZone}"`);
    const notFilled: Exclude<RetentionRule, 'last'>[] = [];
    for (const p of PERIODS) {
      if (left[p.rule] <= 0) continue;
      const key = p.key(local);
      if (key === lastKey[p.rule]) {
        if (i === all.length - 1) notFilled.push(p.rule);
        continue;
      }
      lastKey[p.rule] = key;
      left[p.rule]--;
      reasons.push(`${p.rule} ${key}`);
    }
    if (notFilled.length) reasons.push(oldestReason(notFilled, policy));
    return { id: g.id, keep: reasons.length > 0, reasons };
  });
}

/**
 * Why the oldest generation stays under the counts its periods do not fill (restic's "oldest daily snapshot"), one
 * reason for all of them: `oldest, daily 7, weekly 4 not filled` (drill D read "oldest" three times).
 */
function oldestReason(rules: Exclude<RetentionRule, 'last'>[], policy: RetentionPolicy): string {
  return `oldest, ${rules.map((r) => `${r} ${policy[r]}`).join(', ')} not filled`;
}

export interface RetentionOptions {
  /** for the leases: a lease that ends before this is no reason (undefined: every lease holds) */
  now?: Date;
  /**
   * Off-site storage is configured (a bucket named): a generation without a copy (`none`) is then one whose copy is
   * not made yet, or never is (a `backup dossier` backup, an EchangePrest or Cloture archive), not a sign that copies
   * stopped (R-BK-14). Default false: `none` does not hold an older copy.
   */
  offsiteConfigured?: boolean;
}

/** The reason a lease keeps a generation, starting with LEASED_UNTIL, its end in the operator's zone, and what holds it. */
const LEASED_UNTIL = 'leased until';

/** Kept only because a lease holds it (the prune and its dry run count these apart, with what holds them). */
export const keptByLeaseOnly = (d: RetentionDecision): boolean => d.keep && d.reasons.length === 1 && d.reasons[0]!.startsWith(LEASED_UNTIL);
function leaseReason(until: Date, restorePointRun: string | null | undefined, zone: string): string {
  const holder = restorePointRun ? `restore point of patch run ${restorePointRun}, kept for its rollback: R-PI-11` : 'a restore or a verification is reading it';
  return `${LEASED_UNTIL} ${operatorDateTime(until, zone)} (${holder})`;
}

/**
 * A dossier's keep set, each folder kind on its own (R-BK-5: a kind's generations never stand in for another's): the
 * kind under its policy, over the generations something is left of (isGone: none) and the operator did not forget
 * (`backup forget`); then, if no kept generation of the
 * kind can be restored, its newest that can stays ("only valid generation", R-BK-11: its file, or its off-site copy,
 * R-BK-14); then, if no kept generation of the kind has an off-site copy, its newest that has one stays (offsiteCopyHeld);
 * then a leased generation stays whatever the rules said. Newest first.
 */
export function decideRetention(gens: RetentionCandidate[], policies: RetentionPolicies, timeZone: string, o: RetentionOptions = {}): RetentionDecision[] {
  const byId = new Map<number, RetentionDecision>();
  for (const g of gens) {
    if (g.forgottenAt) byId.set(g.id, { id: g.id, keep: false, reasons: [], forgotten: true });
    else if (isGone(g)) byId.set(g.id, { id: g.id, keep: false, reasons: [], gone: true });
  }
  const ordered = newestFirst(gens);
  for (const kind of GENERATION_KINDS) {
    const mine = ordered.filter((g) => g.kind === kind);
    // a forgotten one takes no slot either: the slots go to the others (still kept below as the only valid one)
    const alive = mine.filter((g) => !isGone(g) && !g.forgottenAt);
    if (alive.length) for (const d of applyPolicy(alive, policies[kind], timeZone)) byId.set(d.id, d);
    keepOne(mine, byId, (kept) => !kept.some(isRestorable), isRestorable, 'only valid generation');
    keepOne(mine, byId, (kept) => offsiteCopyHeld(kept, o.offsiteConfigured ?? false), (g) => g.offsiteState === 'copied', newestCopyReason);
  }
  for (const g of ordered) {
    const d = byId.get(g.id)!;
    if (!d.keep && g.leasedUntil && (o.now === undefined || g.leasedUntil > o.now)) {
      d.keep = true;
      d.reasons.push(leaseReason(g.leasedUntil, g.restorePointRun, timeZone));
      if (g.restorePointRun) d.restorePoint = true;
    }
  }
  for (const kind of GENERATION_KINDS) {
    const standIn = ordered.find((g) => g.kind === kind && !byId.get(g.id)!.keep && isRestorable(g));
    if (standIn) byId.get(standIn.id)!.standIn = true;
  }
  return ordered.map((g) => byId.get(g.id)!);
}

/** When `needed` says so of one kind's kept generations, the newest of that kind that `fits` stays, with `reason`. */
function keepOne(
  mine: RetentionCandidate[],
  byId: Map<number, RetentionDecision>,
  needed: (kept: RetentionCandidate[]) => boolean,
  fits: (g: RetentionCandidate) => boolean,
  reason: string | ((kept: RetentionCandidate[]) => string),
): void {
  const kept = mine.filter((g) => byId.get(g.id)!.keep);
  if (!needed(kept)) return;
  const newest = mine.find(fits);
  if (!newest) return;
  const d = byId.get(newest.id)!;
  d.keep = true;
  d.reasons.push(typeof reason === 'string' ? reason : reason(kept));
}

/**
 * R-BK-14: a kind's newest off-site copy stays while none of its kept generations has one, so that the dossier does not
 * lose its last copy in another place. Off-site storage configured: whatever their copies are (failed: the storage
 * away, a bucket gone; none: a `backup dossier` backup or an EchangePrest/Cloture archive, written without a copy, used
 * to take it with `last=1`). Not configured: only while their copies failed; copies never made (`none`: no off-site
 * storage any more) do not hold it.
 */
function offsiteCopyHeld(kept: RetentionCandidate[], offsiteConfigured: boolean): boolean {
  if (kept.some((g) => g.offsiteState === 'copied')) return false;
  return offsiteConfigured || kept.some((g) => g.offsiteState === 'failed');
}

/** A failed copy is no copy either: "have none" unless every kept one's copy failed. */
function newestCopyReason(kept: RetentionCandidate[]): string {
  return kept.length && kept.every((g) => g.offsiteState === 'failed') ? 'newest off-site copy (the newer copies failed)' : 'newest off-site copy (the newer ones have none)';
}

// ---------------------------------------------------------------------------------------------
// restore --at
// ---------------------------------------------------------------------------------------------

/**
 * `restore --at DATE`: an ISO date or a date-time (domain/operator-time.ts, in `zone` unless it carries an offset),
 * read as an operator means it: a date is the end of that day in `zone` (the day's last generation); a time to the
 * minute is that instant, 13:00 being 13:00:00 (as PostgreSQL reads a recovery target: a generation taken at
 * 13:00:26 is after it); to the second, the end of that second (a time copied from `backup list`, which shows
 * seconds, finds its generation); with a fraction, the end of its last digit. The generation restored is the one
 * taken at or just before `at` (snapshot times compared to the millisecond).
 */
export function parseRestoreAt(text: string, zone: string): { at: Date; problem?: undefined } | { at?: undefined; problem: string } {
  const v = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const day = DateTime.fromISO(v, { zone });
    if (!day.isValid) {
      const month = Number(v.slice(5, 7));
      return { problem: `"${v}" is not a date: ${month < 1 || month > 12 ? `month ${v.slice(5, 7)} does not exist` : `day ${v.slice(8)} does not exist in ${v.slice(0, 7)}`}` };
    }
    // a whole day a zone skipped (Pacific/Apia, 2011-12-30): luxon moves it to the next one
    if (day.toISODate() !== v) return { problem: `"${v}" does not exist in ${zone} (the zone skipped that day)` };
    return { at: day.endOf('day').toJSDate() };
  }
  const t = parseOperatorTime(v, zone);
  // the other form is worth naming only when the text is neither (not for an hour 25 in a date-time)
  if (!t.instant) return { problem: t.problem.endsWith(TIME_FORMATS_HINT) ? `${t.problem}, or an ISO date such as 2026-12-01 (that day's last generation)` : t.problem };
  const [, , , , , , seconds, fraction] = ISO_DATE_TIME.exec(v)!;
  const span = fraction !== undefined ? 10 ** Math.max(0, 3 - fraction.length) - 1 : seconds !== undefined ? 999 : 0;
  return { at: new Date(t.instant.getTime() + span) };
}

/**
 * A generation's time as the operator reads it: `2026-12-02 22:00:05` in `zone`; in the hour the clocks repeat, with
 * its offset (`2027-10-31 02:30:05+01:00`), so that `restore --at` copied from it is not refused as ambiguous.
 */
export function operatorDateTime(at: Date, zone: string): string {
  return operatorTimeText(at, zone, 'yyyy-MM-dd HH:mm:ss');
}

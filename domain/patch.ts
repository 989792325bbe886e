import { workflowIdTimestamp } from './workflow-id';
import { z } from 'zod';
import { plainTextSchema } from './text';

/**
 * Patch packages and their routing (R-PI-1 … R-PI-9). Pure: the package reader (patches/),
 * the per-dossier engine and the workflow share these rules; the tests drive them table by table.
 */

export const PATCH_TYPES = ['standard', 'specific', 'vertical', 'supervisor'] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

export const MANIFEST_FILE = 'patch.json';
export const MAX_PATCH_FILE_BYTES = 16 * 1024 * 1024;

/** A path inside a package: relative, forward slashes, no '..', no hidden segment. */
const packagePath = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/, 'a file path is relative, with letters, digits, "_", "-", "." and "/" (no "..", no hidden names)')
  .refine((p) => !p.split('/').includes('..') && p !== MANIFEST_FILE, 'a file path cannot leave the package or name the manifest');

/** Treatment names are the software's code-object names: upper-case letters, digits and '_'. */
export const treatmentNameSchema = z.string().regex(/^[A-Z0-9_]{1,40}$/, 'a treatment name has 1-40 upper-case letters, digits or "_"');
const fieldName = z.string().regex(/^[A-Za-z0-9_]{1,63}$/, 'a dictionary field name has letters, digits or "_"');

/** Stored, then printed by `patch status`: lines and tabs allowed, no other control character (issue 9). */
export const patchDescriptionSchema = plainTextSchema('the description', 2000, { multiline: true });

/** A patch number: one bound for `patch new`, the package reader and the ledger (an integer column). */
export const MAX_PATCH_NUMBER = 999_999;
export const patchNumberSchema = z
  .number()
  .int('number must be a whole number')
  .positive('number must be positive')
  .max(MAX_PATCH_NUMBER, `number must be at most ${MAX_PATCH_NUMBER}`);
/** The same from a command line: decimal digits only (no 1e10, 0x10, 5.0 or +5, which Number() would read). */
export const patchNumberArgSchema = z
  .string()
  .regex(/^\d{1,7}$/, `the number is a whole number in decimal digits, 1-${MAX_PATCH_NUMBER}`)
  .transform(Number)
  .pipe(patchNumberSchema);

export const patchManifestSchema = z
  .object({
    number: patchNumberSchema,
    type: z.enum(PATCH_TYPES, { error: `type must be one of ${PATCH_TYPES.join(', ')}` }),
    description: patchDescriptionSchema,
    treatments: z.array(z.object({ name: treatmentNameSchema, file: packagePath }).strict()).max(10_000).default([]),
    dictionary: z
      .array(z.object({ key: z.string().min(1).max(200), fields: z.record(fieldName, z.json()) }).strict())
      .max(100_000)
      .default([]),
    /** R-PI-7: dictionary fields that are parameterisation: never overwritten in an existing entry. */
    protectedDictionaryFields: z.array(fieldName).max(1000).default([]),
    structure: z.array(packagePath).max(1000).default([]),
    data: z.array(packagePath).max(1000).default([]),
    checksum: z.string().regex(/^[0-9a-f]{64}$/, 'checksum must be a sha256 in lower-case hex'),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const t of m.treatments) {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['treatments'], message: `treatment ${t.name} is listed twice` });
      seen.add(t.name);
    }
    // a script listed twice runs twice in every dossier (drill P, session 37: a data script's inserts doubled)
    const scripts = new Set<string>();
    for (const [list, files] of [['structure', m.structure], ['data', m.data]] as const) {
      for (const f of files) {
        if (scripts.has(f)) ctx.addIssue({ code: 'custom', path: [list], message: `script ${f} is listed twice (structure and data run each listing once)` });
        scripts.add(f);
      }
    }
    const keys = new Set<string>();
    for (const d of m.dictionary) {
      if (keys.has(d.key)) ctx.addIssue({ code: 'custom', path: ['dictionary'], message: `dictionary key ${d.key} is listed twice` });
      keys.add(d.key);
    }
  });
export type PatchManifest = z.infer<typeof patchManifestSchema>;

/** Every file a manifest names (treatments, structure, data), in manifest order, without duplicates. */
export function referencedFiles(m: Pick<PatchManifest, 'treatments' | 'structure' | 'data'>): string[] {
  return [...new Set([...m.treatments.map((t) => t.file), ...m.structure, ...m.data])];
}

/** JSON with sorted keys, no spaces: the manifest's canonical form for the checksum. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The text whose sha256 is the package checksum: one line per file, sorted by path,
 * `path NUL sha256(content)`; the manifest counts as `patch.json` with its canonical JSON minus `checksum`.
 * `digests` maps each other file's path to the sha256 (hex) of its bytes.
 */
export function checksumListing(manifestWithoutChecksum: unknown, manifestDigest: (canonical: string) => string, digests: Record<string, string>): string {
  const lines = Object.entries({ ...digests, [MANIFEST_FILE]: manifestDigest(canonicalJson(manifestWithoutChecksum)) })
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([p, d]) => `${p}\0${d}\n`);
  return lines.join('');
}

/** A gap or a duplicate in a directory's numbering (R-PI-8: patches apply in number order). */
export function numberingProblem(numbers: number[]): string | undefined {
  const sorted = [...numbers].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) return `patch number ${sorted[i]} appears twice`;
    if (sorted[i]! !== sorted[i - 1]! + 1) {
      // every number of the gap (drill M: "3 is followed by 9 (missing 4)" named one of five)
      const from = sorted[i - 1]! + 1;
      const to = sorted[i]! - 1;
      return `gap in the numbering: ${sorted[i - 1]} is followed by ${sorted[i]} (missing ${from === to ? from : `${from}-${to}`})`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Routing

export interface RoutingDossier {
  code: string;
  role: 'supervisor' | 'regular';
  test: boolean;
  specific: boolean;
}

/** R-PI-5: X*, Y*, Z*, SPE*, SPV* or CNS???SPE. */
export function isSpecificTreatment(name: string): boolean {
  return /^(X|Y|Z|SPE|SPV)/.test(name) || /^CNS.{3}SPE$/.test(name);
}

/** R-PI-6: a supervisor-type patch goes into the supervisor only; the others go to every targeted dossier (R-PI-3, R-PI-7). */
export function patchAppliesTo(type: PatchType, dossier: RoutingDossier): boolean {
  return type !== 'supervisor' || dossier.role === 'supervisor';
}

export type TreatmentDecision =
  | 'install'
  /** R-PI-4: a regular dossier inherits the supervisor's treatment */
  | 'inherited'
  /** R-PI-3: the supervisor is not in the run (and does not hold the patch): treatments are not patched */
  | 'supervisor-absent'
  /** R-PI-5: a specific treatment already in the dossier is never overwritten */
  | 'kept-existing'
  /** R-PI-5: a specific treatment goes to dossiers of type specific only */
  | 'not-specific-dossier'
  /** R-PI-6: the patch is not for this dossier */
  | 'not-applicable';

export interface TreatmentContext {
  patchType: PatchType;
  name: string;
  dossier: RoutingDossier;
  /** whether the dossier already holds a treatment of that name */
  exists: boolean;
  /** whether the supervisor is in this run or already holds this patch */
  supervisorCovered: boolean;
}

/** Where one treatment of one patch goes, for one dossier (R-PI-3 … R-PI-6). */
export function routeTreatment(c: TreatmentContext): TreatmentDecision {
  if (!patchAppliesTo(c.patchType, c.dossier)) return 'not-applicable';
  if (c.patchType === 'supervisor') return 'install';
  if (isSpecificTreatment(c.name)) {
    if (c.exists) return 'kept-existing';
    return c.dossier.specific ? 'install' : 'not-specific-dossier';
  }
  if (c.dossier.role === 'supervisor' || c.dossier.test) return 'install';
  return c.supervisorCovered ? 'inherited' : 'supervisor-absent';
}

/** Why a dossier did not take a treatment its patch ships, when the run must say so (R-PI-5), or undefined. */
export function treatmentDecisionNote(patch: number, name: string, decision: TreatmentDecision): string | undefined {
  if (decision === 'kept-existing') return `patch ${patch}: treatment ${name} kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)`;
  return undefined;
}

/** R-PI-7: dictionary, structure and data go to every dossier the patch applies to. */
export function contentApplies(type: PatchType, dossier: RoutingDossier): { dictionary: boolean; structure: boolean; data: boolean } {
  const yes = patchAppliesTo(type, dossier);
  return { dictionary: yes, structure: yes, data: yes };
}

/**
 * R-PI-7: an entry after a patch: the patch's fields over the existing ones, except protected fields
 * that the entry already has. (The engine does the same in SQL; this is the rule's statement.)
 */
export function mergeDictionaryEntry(
  existing: Record<string, unknown> | undefined,
  incoming: Record<string, unknown>,
  protectedFields: readonly string[],
): Record<string, unknown> {
  if (!existing) return { ...incoming };
  const merged: Record<string, unknown> = { ...existing, ...incoming };
  for (const f of protectedFields) if (f in existing) merged[f] = existing[f];
  return merged;
}

/** R-PI-3: the run's note when standard treatments cannot be patched, or undefined. */
export function supervisorAbsentNote(supervisor: string | null, patchesWithTreatments: number[]): string | undefined {
  if (!patchesWithTreatments.length) return undefined;
  const who = supervisor ? `the supervisor dossier ${supervisor} is not in the list` : 'the target has no supervisor dossier';
  return `treatments of patch(es) ${rangeText(patchesWithTreatments)} are not patched: ${who} (R-PI-3); test and specific dossiers still receive theirs`;
}

/** 3, 4, 5, 9 → "3-5, 9" */
export function rangeText(numbers: number[]): string {
  const s = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? String(s[i]) : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** R-PI-9: dossiers whose level is below the supervisor's, to revalidate. */
export function belowSupervisor<T extends { code: string; role: string; patchLevel: number }>(dossiers: T[]): { supervisorLevel: number | null; below: T[] } {
  const sup = dossiers.find((d) => d.role === 'supervisor');
  if (!sup) return { supervisorLevel: null, below: [] };
  return { supervisorLevel: sup.patchLevel, below: dossiers.filter((d) => d.role !== 'supervisor' && d.patchLevel < sup.patchLevel) };
}

/** `patch/{target}/{timestamp}` timestamps: compact UTC, sortable. */
export const runTimestamp = workflowIdTimestamp;

/** The patches a run brings dossiers to, for its header and details: "patch 5", "patches 3 → 5". */
export function patchSpanText(p: { first: number; last: number }): string {
  return p.first === p.last ? `patch ${p.first}` : `patches ${p.first} → ${p.last}`;
}

/** What a retry would bring dossiers to, against the supervisor as it is now (R-PI-4: the supervisor first). */
export interface RetryAgainstSupervisor {
  target: string;
  /** the run retried */
  runId: number;
  /** the last patch that run brings dossiers to */
  upTo: number;
  supervisor: { code: string; level: number } | null;
  /** the retry takes the supervisor itself (it failed in that run): it goes first, as in an integration */
  supervisorRetried: boolean;
  /** where the run's packages came from (to integrate them again), when known */
  dir: string | null;
}

/**
 * R-PI-4, R-PI-9: a retry patches only the failed dossiers of a run; with the supervisor below that run's last patch
 * (rolled back since, by `patch rollback`) it would leave them above the supervisor. Refused: the message names the
 * supervisor's level and what works instead (the folder integrated again: supervisor first, then the others).
 * Undefined when the retry may go.
 */
export function retryAboveSupervisorProblem(r: RetryAgainstSupervisor, outcome = 'refused'): string | undefined {
  if (!r.supervisor || r.supervisorRetried || r.supervisor.level >= r.upTo) return undefined;
  return (
    `patch run ${r.runId} brings dossiers to patch ${r.upTo} but the supervisor ${r.supervisor.code} is at level ${r.supervisor.level} (rolled back since?): ` +
    `a retry would leave dossiers above the supervisor (R-PI-4), ${outcome}; integrate the patches again, supervisor first: ${patchIntegrateCommand(r.target, r.dir)}`
  );
}

/** `nightshift patch integrate DIR --target T`, the folder quoted when a shell would split it. */
export function patchIntegrateCommand(target: string, dir: string | null): string {
  const folder = dir === null ? 'DIR' : /^[\w./,:=@%+-]+$/.test(dir) ? dir : `'${dir.replace(/'/g, `'\\''`)}'`;
  return `nightshift patch integrate ${folder} --target ${target}`;
}

/** `nightshift patch status --target T --run N`: every failed dossier of a run with its reason. */
export const patchRunStatusCommand = (target: string, runId: number): string => `nightshift patch status --target ${target} --run ${runId}`;

/**
 * Whose fault a run's failures are, beneath its retry command (`patch status`, --wait and the run's Web UI details say
 * the same): the package, when a patch failed and no dossier holds the lowest that failed (store/patch/package-held.ts);
 * else the failed dossiers, also when no patch failed (not finished, a restore point not taken, in use: tester B).
 */
export function faultAdvice(packageHeld: boolean, supervisorHolds = false): string {
  if (packageHeld) return 'no package at fault (the patch that failed is applied in other dossiers, or no patch failed): the cause is in the failed dossiers (fix them, then retry)';
  return `a package at fault (not the dossiers): a retry applies the run's stored packages again; ${packageFixText(supervisorHolds)}`;
}

/**
 * How a package at fault is mended (faultAdvice, and the run's next step in the Web UI): fixed, resealed, integrated
 * again; when the supervisor applied the faulty version, `patch repair` first gives its ledger the fixed checksum, or the
 * folder is refused as drift (drill F2, session 37).
 */
export function packageFixText(supervisorHolds: boolean): string {
  const repair = supervisorHolds
    ? "then 'nightshift patch repair DIR' (the supervisor applied the faulty version: its ledger takes the fixed checksum, nothing is applied again there, check it by hand), "
    : '';
  return `fix the package, reseal it (nightshift patch seal PKG), ${repair}then integrate the folder again`;
}

/** What a run stopped by `--max-failures` says (its notes, the details, `patch status`): why, and what is left. */
export function stoppedNote(s: { failed: number; limit: number; maxFailures: string; notStarted: number }): string {
  return (
    `stopped: ${s.failed} dossier(s) failed, more than the ${s.limit} that --max-failures ${s.maxFailures} allows; ` +
    `${s.notStarted} dossier(s) not started, left at their level (once the cause is fixed, 'nightshift patch retry' of this run takes them with the failed ones)`
  );
}

import type { Queryable } from '../store/queryable';
import {
  addToSummary,
  emptyPlanSummary,
  planDossier,
  type DossierPlan,
  type PlanDossierState,
  type PlanPackage,
  type PlanSummary,
} from '../domain/patch-plan';
import { planDossierStates, type PlanDossierRow } from '../store/patch/plan-dossier-states';
import { protectedDictionaryFields } from '../store/patch/protected-dictionary-fields';
import { supervisorRow } from '../store/patch/supervisor-row';
import { storedManifests } from '../store/patch/stored-manifests';
import { dossierHoldingPatch } from '../store/patch/dossier-holding-patch';
import { FailureType } from '../domain/failures';
import type { PatchManifest } from '../domain/patch';

/**
 * The plan over a target's dossiers, page by page (R-PI-10): the supervisor first, alone, as the run
 * patches it (the others see its level after its patches, R-PI-3), then the others in code order from
 * a page source. Reads only; never holds more than a page of dossiers. The CLI (`patch plan`) and the
 * run's first activity (the summary the workflow shows) both call it.
 */

export const PLAN_PAGE_SIZE = 500;

export interface PlanOverDossiers {
  packages: readonly PlanPackage[];
  /** whether the supervisor is among the targeted dossiers (its plan goes first) */
  supervisorIncluded: boolean;
  /** codes after `after`, in code order, the supervisor left out */
  codesPage: (after: string, limit: number) => Promise<string[]>;
  /** read the dictionary's protected fields (R-PI-7) of each dossier: the plan shows which are kept */
  dictionary: boolean;
  pageSize?: number;
  /** resume after this code (a retried activity): the summary so far comes with it */
  after?: string;
  summary?: PlanSummary;
  onDossier?: (plan: DossierPlan) => void | Promise<void>;
  /** after each page: the cursor and the summary so far (a heartbeat) */
  onPage?: (cursor: string, summary: PlanSummary) => void;
}

export interface PlanOutcome {
  summary: PlanSummary;
  supervisor: { code: string; level: number; included: boolean; plan: DossierPlan | null } | null;
  /** the supervisor's level when the other dossiers' turn comes */
  supervisorLevel: number;
  /** R-PI-3: the supervisor would fail: the run ends before any other dossier is touched */
  stopsAtSupervisor: boolean;
}

const toState = (r: PlanDossierRow, dictionary: Record<string, string[]> | undefined, readDictionary: boolean): PlanDossierState => ({
  dossier: { code: r.code, role: r.role, test: r.is_test, specific: r.is_specific, patchLevel: r.patch_level },
  ledger: r.ledger ? new Map(r.ledger) : null,
  treatments: r.treatments,
  ...(readDictionary ? { dictionary: dictionary ?? {} } : {}),
  ...(r.schema_exists ? {} : { missingSchema: r.schema_name }),
});

export async function planOverDossiers(db: Queryable, o: PlanOverDossiers): Promise<PlanOutcome> {
  const names = [...new Set(o.packages.flatMap((p) => p.manifest.treatments.map((t) => t.name)))];
  const guarded = o.packages.filter((p) => p.manifest.protectedDictionaryFields.length);
  const keys = [...new Set(guarded.flatMap((p) => p.manifest.dictionary.map((e) => e.key)))];
  const fields = [...new Set(guarded.flatMap((p) => p.manifest.protectedDictionaryFields))];
  const readDictionary = o.dictionary && keys.length > 0 && fields.length > 0;

  async function statesOf(codes: string[]): Promise<PlanDossierState[]> {
    const rows = await planDossierStates(db, codes, names);
    const dict = readDictionary ? await protectedDictionaryFields(db, rows.map((r) => r.schema_name), keys, fields) : new Map<string, Record<string, string[]>>();
    return rows.map((r) => toState(r, dict.get(r.schema_name), o.dictionary));
  }

  const summary = o.summary ?? emptyPlanSummary();
  const resumed = o.after !== undefined && o.after !== '';
  const sup = await supervisorRow(db);
  let supervisorLevel = sup?.patch_level ?? 0;
  let supervisorPlan: DossierPlan | null = null;
  if (sup && o.supervisorIncluded) {
    const [state] = await statesOf([sup.code]);
    supervisorPlan = planDossier(o.packages, state!, supervisorLevel);
    supervisorLevel = supervisorPlan.toLevel;
    if (!resumed) {
      addToSummary(summary, supervisorPlan);
      await o.onDossier?.(supervisorPlan);
    }
  }
  const size = o.pageSize ?? PLAN_PAGE_SIZE;
  let cursor = o.after ?? '';
  for (;;) {
    const codes = await o.codesPage(cursor, size);
    if (!codes.length) break;
    for (const state of await statesOf(codes)) {
      const plan = planDossier(o.packages, state, supervisorLevel);
      addToSummary(summary, plan);
      await o.onDossier?.(plan);
    }
    cursor = codes[codes.length - 1]!;
    o.onPage?.(cursor, summary);
    if (codes.length < size) break;
  }
  return {
    summary,
    supervisor: sup ? { code: sup.code, level: sup.patch_level, included: o.supervisorIncluded, plan: supervisorPlan } : null,
    supervisorLevel,
    stopsAtSupervisor: Boolean(supervisorPlan?.refusal),
  };
}

/** A refusal of the whole run, with the rule that makes it. */
export interface RunRefusal {
  rule: string;
  type: string;
  message: string;
}

export interface PlannedPackage extends PlanPackage {
  /** from the directory, or already stored on the target (a lower number the run still brings dossiers to) */
  source: 'directory' | 'stored';
  /** the directory's package replaces a stored one of that number that applied nowhere */
  replacesStored?: boolean;
  /** the directory's package differs from the stored one of that number, which this dossier holds: refused (R-PI-8) */
  driftHeldBy?: string;
  description: string;
}

/**
 * The packages an integration of `dir` brings dossiers to, as the run will see them once it has stored
 * them: the stored ones up to the directory's last number, the directory's own in their place. R-PI-8:
 * a number stored under another checksum that some dossier holds is refused, as the run's loading is.
 */
export async function planPackages(
  db: Queryable,
  fromDir: readonly { manifest: PatchManifest }[],
): Promise<{ packages: PlannedPackage[]; refusals: RunRefusal[]; /** the directory's numbers the run would store: new, or replacing a stored one */ toStore: number[] }> {
  const last = Math.max(...fromDir.map((p) => p.manifest.number));
  const stored = new Map((await storedManifests(db, last)).map((r) => [r.number, r]));
  const refusals: RunRefusal[] = [];
  const toStore: number[] = [];
  const byNumber = new Map<number, PlannedPackage>();
  for (const r of stored.values()) byNumber.set(r.number, { number: r.number, type: r.type, checksum: r.checksum, manifest: r.manifest, source: 'stored', description: r.manifest.description });
  for (const { manifest: m } of fromDir) {
    const s = stored.get(m.number);
    if (s?.checksum !== m.checksum) toStore.push(m.number);
    let changed: Pick<PlannedPackage, 'replacesStored' | 'driftHeldBy' | 'storedChecksum'> = {};
    if (s && s.checksum !== m.checksum) {
      const holder = await dossierHoldingPatch(db, m.number);
      if (holder) {
        // the rule id is the refusal's own field: the callers print it beside the message
        refusals.push({
          rule: 'R-PI-8',
          type: FailureType.ChecksumDrift,
          message: `patch ${m.number} was already integrated on this target with checksum ${s.checksum.slice(0, 12)}… (from ${s.source_dir ?? '?'}; dossier ${holder} holds it); this package has ${m.checksum.slice(0, 12)}…: refused`,
        });
      }
      // drill M: a drifted package held by dossiers was said to replace one "applied nowhere"
      changed = { ...(holder ? { driftHeldBy: holder } : { replacesStored: true }), storedChecksum: s.checksum };
    }
    byNumber.set(m.number, { number: m.number, type: m.type, checksum: m.checksum, manifest: m, source: 'directory', description: m.description, ...changed });
  }
  return { packages: [...byNumber.values()].sort((a, b) => a.number - b.number), refusals, toStore };
}

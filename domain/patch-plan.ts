import { FailureType } from './failures';
import { formatDuration } from './run-details';
import { contentApplies, isSpecificTreatment, rangeText, routeTreatment, treatmentDecisionNote, type PatchManifest, type PatchType, type RoutingDossier, type TreatmentDecision } from './patch';
import { ledgerDriftHint } from './patch-repair';

/**
 * What a patch integration does to one dossier, and why (R-PI-10). ONE pure function, planDossier: the
 * `patch plan` command and the per-dossier engine (activities/patch/apply.ts) both route through it, so
 * the plan an operator reads and what the run does cannot disagree. Given the packages (number order)
 * and the dossier's state, it walks the patches as the engine does: already applied ones skipped, a
 * changed checksum or a missing number refused (R-PI-8), treatments routed (R-PI-3 … R-PI-6), structure,
 * data and dictionary entries (R-PI-7) with the protected fields an entry keeps.
 */

/** What the plan needs of a package: its manifest's names, never the files' contents. */
export interface PlanPackage {
  number: number;
  type: PatchType;
  checksum: string;
  /** the folder's package replaces a stored one of another checksum: that one's (the ledgers that applied it hold it) */
  storedChecksum?: string;
  manifest: Pick<PatchManifest, 'treatments' | 'dictionary' | 'protectedDictionaryFields' | 'structure' | 'data'>;
}

export interface PlanDossier extends RoutingDossier {
  patchLevel: number;
}

export interface PlanDossierState {
  dossier: PlanDossier;
  /** number -> checksum of the dossier's own ledger (apatch); null before its first patch */
  ledger: ReadonlyMap<number, string> | null;
  /** the treatments the dossier holds, among the names the packages ship (its own ones too, R-PI-5) */
  treatments: readonly string[];
  /**
   * key -> the protected fields the dossier's entry already has, for the keys the packages ship with
   * protected fields (R-PI-7); undefined when not read (the engine leaves that merge to the database)
   */
  dictionary?: Readonly<Record<string, readonly string[]>>;
  /** the dossier's schema, when it does not exist in the target: its first patch would fail there */
  missingSchema?: string;
}

export type PlanRule = 'R-PI-3' | 'R-PI-4' | 'R-PI-5' | 'R-PI-6' | 'R-PI-7' | 'R-PI-8' | 'R-PI-10';

export interface PlanTreatment {
  name: string;
  decision: TreatmentDecision;
  rule: PlanRule;
  why: string;
}

/**
 * apply: the patch goes in; not-applicable: a supervisor-type patch elsewhere, only its ledger row and
 * level (R-PI-6); applied: in the dossier's ledger with the same checksum, skipped (R-PI-8); at-level:
 * the dossier's level is past it without a ledger row (restored or older dossier), skipped.
 */
export type PlanAction = 'apply' | 'not-applicable' | 'applied' | 'at-level';

export interface PlanStep {
  patch: number;
  type: PatchType;
  action: PlanAction;
  rule: PlanRule;
  /** apply / not-applicable only: how each shipped treatment is routed */
  treatments: PlanTreatment[];
  /** apply only (R-PI-7): the scripts run, the dictionary keys upserted, the protected fields kept */
  structure: string[];
  data: string[];
  dictionary: string[];
  protectedKept: { key: string; fields: string[] }[];
  /** what the run's ledger notes once the step is applied (a treatment kept under R-PI-5) */
  notes: string[];
}

export interface PlanRefusal {
  patch: number;
  /** the failure type the run records (ChecksumDrift, PatchGap; PatchSqlFailed for a missing schema) */
  type: string;
  rule: PlanRule;
  message: string;
}

export interface DossierPlan {
  code: string;
  role: RoutingDossier['role'];
  test: boolean;
  specific: boolean;
  fromLevel: number;
  /** the level the dossier ends at (its last good patch when refused) */
  toLevel: number;
  /** the patches the run records as applied to it (apply and not-applicable steps), in order */
  applies: number[];
  steps: PlanStep[];
  /** the dossier stops here: the run fails it at this patch */
  refusal?: PlanRefusal;
  /** what the run's ledger notes for it (patch_run_item.notes), word for word */
  notes: string[];
}

/** The rule that decided a treatment's routing, and why in words. */
function treatmentWhy(decision: TreatmentDecision, patchType: PatchType, name: string, d: RoutingDossier): { rule: PlanRule; why: string } {
  switch (decision) {
    case 'install':
      if (patchType === 'supervisor') return { rule: 'R-PI-6', why: 'a supervisor-type patch goes into the supervisor' };
      if (isSpecificTreatment(name)) return { rule: 'R-PI-5', why: 'a specific treatment the dossier does not hold goes into a dossier of type specific' };
      return { rule: 'R-PI-4', why: d.role === 'supervisor' ? 'treatments go into the supervisor' : 'a test dossier receives treatments into itself' };
    case 'inherited':
      return { rule: 'R-PI-4', why: 'inherited from the supervisor, which holds the patch' };
    case 'supervisor-absent':
      return { rule: 'R-PI-3', why: 'not patched: the supervisor is not in the run and does not hold the patch' };
    case 'kept-existing':
      return { rule: 'R-PI-5', why: 'kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced)' };
    case 'not-specific-dossier':
      return { rule: 'R-PI-5', why: 'a specific treatment goes to dossiers of type specific only' };
    case 'not-applicable':
      return { rule: 'R-PI-6', why: 'a supervisor-type patch goes into the supervisor only' };
  }
}

/**
 * The plan of one dossier: `packages` in number order (those the run brings dossiers to), the state read
 * just before, and the supervisor's level when the dossier's turn comes (R-PI-3: a standard treatment
 * only counts as inherited when the supervisor holds the patch). Deterministic, no I/O.
 */
export function planDossier(packages: readonly PlanPackage[], state: PlanDossierState, supervisorLevel: number): DossierPlan {
  const d = state.dossier;
  const held = new Set(state.treatments);
  const ledger = state.ledger;
  const dictionary = state.dictionary ? new Map(Object.entries(state.dictionary).map(([k, v]) => [k, new Set(v)])) : undefined;
  let level = d.patchLevel;
  const steps: PlanStep[] = [];
  const applies: number[] = [];
  const notes: string[] = [];
  let refusal: PlanRefusal | undefined;
  const none = { treatments: [], structure: [], data: [], dictionary: [], protectedKept: [], notes: [] };

  for (const p of packages) {
    const known = ledger?.get(p.number);
    if (known !== undefined) {
      if (known !== p.checksum) {
        refusal = {
          patch: p.number,
          type: FailureType.ChecksumDrift,
          rule: 'R-PI-8',
          message:
            `patch ${p.number} was applied to dossier ${d.code} with checksum ${known.slice(0, 12)}…, the package now has ${p.checksum.slice(0, 12)}…: refused (R-PI-8); ` +
            // the ledger holds the stored package's checksum: the package changed, not the ledger (drill, session 38: the
            // --accept-ledger hint was given for it)
            (known === p.storedChecksum
              ? "the package changed since it was integrated: if what changed need not reach the dossiers that applied it, 'nightshift patch repair' with this folder realigns their ledgers"
              : ledgerDriftHint(d.code)),
        };
        break;
      }
      steps.push({ patch: p.number, type: p.type, action: 'applied', rule: 'R-PI-8', ...none });
      continue;
    }
    if (p.number <= level) {
      steps.push({ patch: p.number, type: p.type, action: 'at-level', rule: 'R-PI-8', ...none });
      continue;
    }
    if (p.number !== level + 1) {
      refusal = { patch: p.number, type: FailureType.PatchGap, rule: 'R-PI-8', message: `dossier ${d.code} is at patch level ${level}: patch ${level + 1} is missing before patch ${p.number}` };
      break;
    }
    const goes = contentApplies(p.type, d);
    const treatments: PlanTreatment[] = p.manifest.treatments.map((t) => {
      const decision = routeTreatment({ patchType: p.type, name: t.name, dossier: d, exists: held.has(t.name), supervisorCovered: supervisorLevel >= p.number });
      return { name: t.name, decision, ...treatmentWhy(decision, p.type, t.name, d) };
    });
    const stepNotes: string[] = [];
    for (const t of treatments) {
      const note = treatmentDecisionNote(p.number, t.name, t.decision);
      if (note) stepNotes.push(note);
      if (t.decision === 'install') held.add(t.name);
    }
    notes.push(...stepNotes);
    const protectedKept: { key: string; fields: string[] }[] = [];
    if (goes.dictionary && dictionary) {
      const guarded = new Set(p.manifest.protectedDictionaryFields);
      for (const e of p.manifest.dictionary) {
        const has = dictionary.get(e.key);
        const kept = Object.keys(e.fields).filter((f) => guarded.has(f) && has?.has(f));
        if (kept.length) protectedKept.push({ key: e.key, fields: kept });
        const after = has ?? new Set<string>();
        for (const f of Object.keys(e.fields)) if (guarded.has(f)) after.add(f);
        dictionary.set(e.key, after);
      }
    }
    steps.push({
      patch: p.number,
      type: p.type,
      action: goes.structure ? 'apply' : 'not-applicable',
      rule: goes.structure ? 'R-PI-7' : 'R-PI-6',
      treatments,
      structure: goes.structure ? [...p.manifest.structure] : [],
      data: goes.data ? [...p.manifest.data] : [],
      dictionary: goes.dictionary ? p.manifest.dictionary.map((e) => e.key) : [],
      protectedKept,
      notes: stepNotes,
    });
    applies.push(p.number);
    level = p.number;
  }
  if (state.missingSchema !== undefined && applies.length) {
    // the run's first write into the schema fails (`schema … does not exist`): nothing applied, the dossier failed there
    const first = applies[0]!;
    return {
      code: d.code,
      role: d.role,
      test: d.test,
      specific: d.specific,
      fromLevel: d.patchLevel,
      toLevel: d.patchLevel,
      applies: [],
      steps: steps.filter((s) => s.patch < first),
      refusal: {
        patch: first,
        type: FailureType.PatchSqlFailed,
        rule: 'R-PI-10',
        message: `schema "${state.missingSchema}" of dossier ${d.code} does not exist: the run would fail it at patch ${first}`,
      },
      notes: [],
    };
  }
  return { code: d.code, role: d.role, test: d.test, specific: d.specific, fromLevel: d.patchLevel, toLevel: level, applies, steps, ...(refusal ? { refusal } : {}), notes };
}

/** The treatments a step installs (the engine sends their bodies). */
export const installedTreatments = (step: PlanStep): string[] => step.treatments.filter((t) => t.decision === 'install').map((t) => t.name);

// ---------------------------------------------------------------------------------------------
// The summary by category: a fold over dossier plans (small, whatever the number of dossiers)

export const PLAN_EXAMPLES = 5;

export interface PlanSummary {
  dossiers: number;
  /** dossiers with at least one patch to apply (or record as not applicable) */
  toPatch: number;
  upToDate: number;
  /** dossiers the run would fail (R-PI-8: checksum drift, a missing patch), first PLAN_EXAMPLES with their reason */
  refused: number;
  refusedExamples: { code: string; type: string; message: string }[];
  /** patch number -> dossiers applying it / recording it not applicable (R-PI-6) / skipping it (R-PI-8) */
  patches: Record<string, { apply: number; notApplicable: number; skipped: number }>;
  /** `decision rule` -> how many treatment routings */
  treatments: Record<string, number>;
  structureScripts: number;
  dataScripts: number;
  dictionaryEntries: number;
  protectedFieldsKept: number;
  /** patch applications in all (dossier × patch): what the time estimate multiplies */
  applications: number;
}

export function emptyPlanSummary(): PlanSummary {
  return {
    dossiers: 0,
    toPatch: 0,
    upToDate: 0,
    refused: 0,
    refusedExamples: [],
    patches: {},
    treatments: {},
    structureScripts: 0,
    dataScripts: 0,
    dictionaryEntries: 0,
    protectedFieldsKept: 0,
    applications: 0,
  };
}

/** Adds one dossier's plan to the summary (in place) and returns it. */
export function addToSummary(s: PlanSummary, plan: DossierPlan): PlanSummary {
  s.dossiers++;
  if (plan.refusal) {
    s.refused++;
    if (s.refusedExamples.length < PLAN_EXAMPLES) s.refusedExamples.push({ code: plan.code, type: plan.refusal.type, message: plan.refusal.message });
  }
  if (plan.applies.length) s.toPatch++;
  else if (!plan.refusal) s.upToDate++;
  for (const step of plan.steps) {
    const n = (s.patches[step.patch] ??= { apply: 0, notApplicable: 0, skipped: 0 });
    if (step.action === 'apply') n.apply++;
    else if (step.action === 'not-applicable') n.notApplicable++;
    else n.skipped++;
    if (step.action === 'apply' || step.action === 'not-applicable') s.applications++;
    for (const t of step.treatments) {
      const key = `${t.decision} ${t.rule}`;
      s.treatments[key] = (s.treatments[key] ?? 0) + 1;
    }
    s.structureScripts += step.structure.length;
    s.dataScripts += step.data.length;
    s.dictionaryEntries += step.dictionary.length;
    s.protectedFieldsKept += step.protectedKept.reduce((a, k) => a + k.fields.length, 0);
  }
  return s;
}

/** Past runs of the target, from the ledger: how long patching took (the estimate's base). */
export interface PlanHistory {
  runs: number;
  seconds: number;
  /** dossier × patch applications those runs made */
  applications: number;
}

/** The time the run would take from the target's past runs, or null ("no history"). */
export function estimateSeconds(applications: number, history: PlanHistory | null): number | null {
  if (!history || history.runs === 0 || history.applications === 0) return null;
  return Math.round((applications * history.seconds) / history.applications);
}

export function estimateText(applications: number, history: PlanHistory | null): string {
  const s = estimateSeconds(applications, history);
  if (s === null) return 'estimate: no history (no earlier patch run on this target applied a patch)';
  const per = history!.seconds / history!.applications;
  return `estimate: about ${formatDuration(s)} (${applications} patch application(s) × ${per < 1 ? `${Number((per * 1000).toPrecision(2))} ms` : `${per.toFixed(2)} s`} each, from ${history!.runs} past run(s)); ${ESTIMATE_SCOPE}`;
}

/** What the estimate leaves out (drill S: 1 min 51 s said, a `backup+patch` window's payload took 5 min at 10,000 dossiers). */
const ESTIMATE_SCOPE = "patch applications only: a 'backup+patch' window first takes a restore point of each dossier, about a backup batch's time more";

const TREATMENT_WORDS: Record<TreatmentDecision, string> = {
  install: 'installed',
  inherited: 'inherited from the supervisor',
  'supervisor-absent': 'not patched (supervisor not in the run)',
  // as the run's notes say it (treatmentDecisionNote): held already, its own or installed by an earlier patch (XKEEP in DEMO0006, tester B)
  'kept-existing': 'kept (already held: its own, or one an earlier patch installed)',
  'not-specific-dossier': 'not for this dossier (not of type specific)',
  'not-applicable': 'not applicable',
};

/** The plan's summary by category, one line each (the CLI's text and the run's details). */
export function summaryLines(s: PlanSummary, history?: PlanHistory | null): string[] {
  const lines = [`dossiers: ${s.dossiers} targeted, ${s.toPatch} to patch, ${s.upToDate} up to date, ${s.refused} refused (R-PI-8)`];
  const numbers = Object.keys(s.patches).map(Number).sort((a, b) => a - b);
  if (numbers.length) {
    lines.push(
      `patches ${rangeText(numbers)}: ` +
        numbers
          .map((n) => {
            const c = s.patches[n]!;
            const parts = [`${c.apply} apply`];
            if (c.notApplicable) parts.push(`${c.notApplicable} not applicable (R-PI-6)`);
            if (c.skipped) parts.push(`${c.skipped} already applied`);
            return `${n}: ${parts.join(', ')}`;
          })
          .join('; '),
    );
  }
  const treatments = Object.entries(s.treatments).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (treatments.length) {
    lines.push(
      `treatments: ${treatments
        .map(([key, n]) => {
          const [decision, rule] = key.split(' ') as [TreatmentDecision, string];
          return `${n} ${TREATMENT_WORDS[decision] ?? decision} (${rule})`;
        })
        .join(', ')}`,
    );
  }
  lines.push(`content (R-PI-7): ${s.structureScripts} structure script(s), ${s.dataScripts} data script(s), ${s.dictionaryEntries} dictionary entr(ies), ${s.protectedFieldsKept} protected field(s) kept`);
  for (const r of s.refusedExamples) lines.push(`refused: ${r.code}: ${r.type}: ${r.message}`);
  if (s.refused > s.refusedExamples.length) lines.push(`refused: and ${s.refused - s.refusedExamples.length} more`);
  if (history !== undefined) lines.push(estimateText(s.applications, history));
  return lines;
}

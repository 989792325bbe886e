import { repairHint } from '../domain/patch-repair';
import type pg from 'pg';
import { patchClaimSchema } from '../domain/patch-input';
import { parseInput } from '../domain/validation';
import { retryAboveSupervisorProblem, type PatchManifest } from '../domain/patch';
import { DETAILS_FAILURES_SHOWN, FAILURES_CAP, oneLine, type FanOutLedgerView } from '../domain/run-details';
import {
  PatchFailure,
  patchRetryCommand,
  type DossierPatchOutcome,
  type PatchChunkResult,
  type PatchDossierFailure,
  type PatchIntegrationInput,
  type PatchPlanView,
  type PatchRunMode,
  type PatchRunState,
  type PatchSelection,
  type PatchSummary,
  type Prerequisite,
} from '../workflows/patch-integration.api';
import type { FanOutPage } from '../workflows/fan-out';
import type { ActivityDeps } from './deps';
import { ledgerView, runChunk } from './fan-out';
import { withTransaction } from '../store/transaction';
import { patchDossier, type EngineDossier, type StoredPatch } from './patch/apply';
import { patchFailure, readPatchDirectory, type PatchPackage } from '../patches/package';
import { patchDirectoryProblem } from '../shared-store/marker';
import { closeAbandonedPatchWork } from './abandoned-runs';
import { listStoredPatches } from '../store/patch/stored-patches';
import { insertPackage } from '../store/patch/insert-package';
import { lockStoredPackage } from '../store/patch/lock-stored-package';
import { dossierHoldingPatch } from '../store/patch/dossier-holding-patch';
import { replacePackage } from '../store/patch/replace-package';
import { readRunState } from '../store/patch/run-state';
import { appliedBetween } from '../store/patch/applied-between';
import { touchRun } from '../store/patch/touch-run';
import { dropUnstartedItems } from '../store/patch/drop-unstarted-items';
import { takeClaimLock } from '../store/patch/claim-lock';
import { takeClaimLock as takeBackupClaimLock } from '../store/backup/claim-lock';
import { runByWorkflow } from '../store/patch/run-by-workflow';
import { insertRun } from '../store/patch/insert-run';
import { setRunPatches } from '../store/patch/set-run-patches';
import type { PatchDossierRow } from '../store/patch/dossier-rows';
import { patchDossiersByCode } from '../store/patch/dossiers-by-code';
import { retrySourceRun } from '../store/patch/retry-source';
import { setRetryOf } from '../store/patch/set-retry-of';
import { setRunRequested, stoppedAtSupervisor } from '../store/patch/stopped-at-supervisor';
import { setRunPlan } from '../store/patch/set-run-plan';
import { openItems } from '../store/patch/open-items';
import { runIsRunning } from '../store/patch/run-is-running';
import { itemFromLevels } from '../store/patch/item-from-levels';
import { finishedCodes } from '../store/patch/finished-codes';
import { recordItem } from '../store/patch/record-item';
import { unfinishedItems } from '../store/patch/unfinished-items';
import { failUnfinishedItem } from '../store/patch/fail-unfinished-item';
import { runFailures } from '../store/patch/run-failures';
import { runPackageHeld, runSupervisorHolds } from '../store/patch/package-held';
import { closeRun } from '../store/patch/close-run';
import { patchPrerequisites } from '../store/patch/prerequisites';
import { revalidationList } from '../store/patch/revalidation-list';
import { supervisorRow } from '../store/patch/supervisor-row';
import { unknownCodes } from '../store/patch/unknown-codes';
import { selectionCount } from '../store/patch/selection-count';
import { selectionPage } from '../store/patch/selection-page';
import { itemCounts } from '../store/patch/item-counts';
import { latestFailures } from '../store/patch/latest-failures';
import { ensureRestorePoint, restorePointPreconditions, sweepRestorePointTemps } from './patch/restore-point';
import { markRunRestorePoints, runTakesRestorePoints } from '../store/patch/restore-point-run';
import { restorePointCounts, type RestorePointCounts } from '../store/patch/restore-point-counts';
import { Context } from '@temporalio/activity';
import { estimateSeconds, summaryLines, type PlanSummary } from '../domain/patch-plan';
import { planOverDossiers, planPackages } from '../patches/plan';
import { storedManifests } from '../store/patch/stored-manifests';
import { planHistory } from '../store/patch/plan-history';

/**
 * Activities of patch integration: prerequisites and the run's claim, reading the packages into the
 * ledger, the plan, the selection's pages and chunks of dossiers (the fan-out engine: activities/fan-out.ts,
 * a heartbeat per dossier, resumable), the ledger's view for the details and the closing of the run.
 * The ledger (db/migrations/0006_patch.sql) is the truth; the workflow only sequences.
 */

/** The run's own input without what only the workflow uses (its tuning, its carried state), and its workflow id. */
export type ClaimArgs = Omit<PatchIntegrationInput, 'tuning' | 'state'> & { workflowId: string };

export interface PatchPlan {
  supervisor: { code: string; level: number; included: boolean } | null;
  /** which dossiers the run takes besides the supervisor (paged by selectPatchPage) and how many */
  selection: PatchSelection;
  others: number;
  /** the last patch number the run brings dossiers to */
  upTo: number;
  /** R-PI-11: a retry of a run that took restore points takes them too */
  restorePoints?: boolean;
}

interface ChunkArgs {
  target: string;
  runId: number;
  codes: string[];
  upTo: number;
  supervisorLevel: number;
  /** R-PI-11: a restore point of each dossier before it is patched (activities/patch/restore-point.ts) */
  restorePoints?: boolean;
  /** `--max-failures` as a number of failed dossiers: once the run has more, no dossier of the chunk is started */
  failureLimit?: number;
}

const toEngine = (r: PatchDossierRow): EngineDossier => ({
  code: r.code,
  role: r.role,
  test: r.is_test,
  specific: r.is_specific,
  schemaName: r.schema_name,
  patchLevel: r.patch_level,
});

const summary = (m: PatchManifest): PatchSummary => ({
  number: m.number,
  type: m.type,
  checksum: m.checksum,
  description: m.description,
  treatments: m.treatments.length,
});

/** The stored packages up to `upTo`, in number order. */
export async function loadStoredPatches(pool: pg.Pool | pg.PoolClient, upTo = 2 ** 31 - 1): Promise<StoredPatch[]> {
  return listStoredPatches(pool, upTo);
}

/**
 * Stores verified packages. R-PI-8: a number stored under another checksum is refused once it applied
 * somewhere (some dossier at or above its level: the engine counts such a dossier as holding it). A
 * stored package that applied nowhere (its run failed in the supervisor) is replaced by the corrected
 * one. Shared by the activity and the bench.
 */
export async function storePatchPackages(pool: pg.Pool, packages: PatchPackage[], dir: string): Promise<void> {
  await withTransaction(pool, async (c) => {
    for (const p of packages) {
      const m = p.manifest;
      if (await insertPackage(c, m, p.files, dir)) continue;
      const stored = await lockStoredPackage(c, m.number);
      if (stored.checksum === m.checksum) continue;
      const holder = await dossierHoldingPatch(c, m.number);
      if (holder) {
        throw patchFailure(
          PatchFailure.ChecksumDrift,
          `patch ${m.number} (${p.folder}) was already integrated on this target with checksum ${stored.checksum.slice(0, 12)}… (from ${stored.source_dir ?? '?'}; dossier ${holder} holds it); this package has ${m.checksum.slice(0, 12)}…: refused (R-PI-8); ${repairHint(dir)}`,
        );
      }
      await replacePackage(c, m, p.files, dir);
    }
  });
}

/** A run closed (abandoned) while its workflow still worked: its late results are refused. */
/**
 * A patch directory read and checked to lie in the shared store: any worker host may run the step, so a directory outside
 * it may not be there (issue 10). Read first, so that a folder that is not there is said so, not "outside the shared
 * store" (drill M).
 */
async function readSharedPatchDirectory(pool: pg.Pool, target: string, dir: string): Promise<PatchPackage[]> {
  const packages = await readPatchDirectory(dir);
  const notShared = await patchDirectoryProblem(pool, target, dir);
  if (notShared) throw patchFailure(PatchFailure.InvalidInput, notShared);
  return packages;
}

async function patchRunClosed(pool: pg.Pool, runId: number): Promise<Error> {
  const r = await readRunState(pool, runId);
  return patchFailure(
    PatchFailure.RunClosed,
    `patch run ${runId}${r ? ` (${r.workflow_id}) was closed as ${r.state}${r.error ? ` (${r.error})` : ''}` : ' is unknown'} while its workflow still worked on it: its late results are refused`,
  );
}

/**
 * The run's truth for one dossier after a retry: its level when the run first touched it (kept in its
 * ledger row) and every patch the run applied since, read back from the dossier's own ledger (apatch)
 * for those an earlier, killed attempt applied: before this attempt read the dossier, or while it waited for the
 * dossier's row lock (drill M: the killed attempt's statement went on in PostgreSQL and committed then; this attempt
 * found the patch there, `already`, and the row said `11 -> 12, applied {}`). Levels move one patch at a time, so
 * fewer patches applied than levels climbed since the run's start is what says that something was read back.
 */
async function sinceRunStart(pool: pg.Pool, schemaName: string, runFrom: number | undefined, outcome: DossierPatchOutcome): Promise<DossierPatchOutcome> {
  if (runFrom === undefined || outcome.applied.length >= outcome.toLevel - runFrom) return outcome;
  const earlier = await appliedBetween(pool, schemaName, runFrom, outcome.toLevel);
  const applied = [...new Set([...earlier, ...outcome.applied])].sort((a, b) => a - b);
  return { ...outcome, fromLevel: runFrom, applied };
}

export function createPatchActivities({ config, pools, temporal }: ActivityDeps) {
  return {
    /**
     * R-PI-2, each prerequisite reported: exactly one supervisor, no backup batch, no other patch run,
     * an in-progress maintenance window of the target (this run's parent when it is a payload). The run
     * row is inserted under an advisory lock and the one-running index, so two starts cannot both pass.
     */
    async claimPatchRun(raw: ClaimArgs): Promise<{ runId: number; ok: boolean; prerequisites: Prerequisite[] }> {
      const a = parseInput(patchClaimSchema, raw, (m) => patchFailure(PatchFailure.InvalidInput, m));
      if (a.mode === 'integrate' && !a.dir) throw patchFailure(PatchFailure.InvalidInput, 'integrate needs the patch directory');
      const pool = pools.get(a.target);
      return withTransaction(pool, async (c) => {
        // the backup batch's claim lock first (every claim takes it first): a batch and a patch run claimed at the same moment cannot both pass R-PI-2
        await takeBackupClaimLock(c);
        await takeClaimLock(c);
        const mine = await runByWorkflow(c, a.workflowId);
        // a retried claim (lost acknowledgement) finds its own row
        if (mine) return { runId: mine.id, ok: mine.state !== 'failed', prerequisites: mine.prerequisites };
        // a run whose workflow Temporal knows closed (terminated, timed out) is closed as abandoned; one that may still run stays
        if (temporal) await closeAbandonedPatchWork(c, temporal);

        const prerequisites = await patchPrerequisites(c, a.target, a.windowWorkflowId);
        const ok = prerequisites.every((p) => p.ok);
        const failed = prerequisites.filter((p) => !p.ok);
        const runId = await insertRun(c, {
          workflowId: a.workflowId,
          mode: a.mode,
          retryOf: a.retryOf,
          ok,
          windowWorkflowId: a.windowWorkflowId,
          dir: a.dir,
          dossiers: a.dossiers,
          prerequisites,
          error: ok ? null : `prerequisites not met: ${failed.map((p) => p.detail).join('; ')}`,
        });
        if (ok && a.restorePoints) await markRunRestorePoints(c, runId);
        return { runId, ok, prerequisites };
      });
    },

    /**
     * A window's patch payload read on a worker before the window closes anything (drill M: a mistyped --patch-dir cut
     * service, then failed the window, the target closed until reopen). What loadPatchPackages checks, nothing stored.
     */
    async checkPatchPayload(args: { target: string; dir: string }): Promise<{ packages: number; first: number; last: number }> {
      const pool = pools.get(args.target);
      const packages = await readSharedPatchDirectory(pool, args.target, args.dir);
      // R-PI-8: a package changed since it was integrated is refused here, before the window closes anything (drill A,
      // session 35: the window drained its users, then its run refused the package and the window stayed closed)
      const drift = (await planPackages(pool, packages)).refusals[0];
      if (drift) throw patchFailure(PatchFailure.ChecksumDrift, `${drift.message} (${drift.rule}); ${repairHint(args.dir)}`);
      return { packages: packages.length, first: packages[0]!.manifest.number, last: packages[packages.length - 1]!.manifest.number };
    },

    /** integrate: verifies the directory (R-PI-1, manifests, numbering, checksums) and stores the packages. */
    async loadPatchPackages(args: { target: string; runId: number; dir: string }): Promise<PatchSummary[]> {
      const pool = pools.get(args.target);
      const packages = await readSharedPatchDirectory(pool, args.target, args.dir);
      await storePatchPackages(pool, packages, args.dir);
      const first = packages[0]!.manifest.number;
      const last = packages[packages.length - 1]!.manifest.number;
      await setRunPatches(pool, args.runId, first, last);
      return packages.map((p) => summary(p.manifest));
    },

    /** revalidate / retry: the stored packages the run brings dossiers to. */
    async storedPatchSummaries(args: { target: string; runId: number; upTo: number }): Promise<PatchSummary[]> {
      const pool = pools.get(args.target);
      const patches = await loadStoredPatches(pool, args.upTo);
      if (patches.length) {
        await setRunPatches(pool, args.runId, patches[0]!.number, patches[patches.length - 1]!.number);
      }
      return patches.map((p) => summary(p.manifest));
    },

    /**
     * Which dossiers the run takes, the supervisor apart, and up to which patch: a selection that
     * selectPatchPage reads page by page and its size, never the codes themselves (100,000 dossiers).
     */
    async planPatchRun(args: { target: string; runId: number; mode: PatchRunMode; dossiers?: string[]; retryOf?: number; lastPatch?: number }): Promise<PatchPlan & { retryOf?: number }> {
      const pool = pools.get(args.target);
      const sup = await supervisorRow(pool);
      let upTo: number;
      let retryOf: number | undefined;
      let selection: PatchSelection;
      let restorePoints = false;
      let retryDir: string | null = null;
      if (args.dossiers) {
        const unknown = await unknownCodes(pool, args.dossiers);
        if (unknown.length) throw patchFailure(PatchFailure.UnknownDossier, `unknown dossier(s) in ${args.target}: ${unknown.join(', ')}`);
      }
      if (args.mode === 'integrate') {
        upTo = args.lastPatch ?? 0;
        selection = args.dossiers ? 'list' : 'all';
      } else if (args.mode === 'revalidate') {
        upTo = sup?.patch_level ?? 0;
        selection = args.dossiers ? 'list' : 'below';
      } else {
        const run = await retrySourceRun(pool, args.runId, args.retryOf);
        if (!run) throw patchFailure(PatchFailure.NothingToDo, args.retryOf ? `no patch run ${args.retryOf} on ${args.target}` : `no patch run with failed dossiers on ${args.target}`);
        retryOf = run.id;
        upTo = run.last_patch ?? 0;
        retryDir = run.dir;
        // a run stopped at its supervisor never reached the others: its retry goes on to them (as that run would have)
        // once the supervisor is through, instead of patching the supervisor alone
        const stopped = await stoppedAtSupervisor(pool, retryOf);
        // a run --max-failures stopped: its failed dossiers and those it did not start (AWS SSM: run it again on the rest)
        selection = stopped ? (stopped.requested ? 'list' : 'all') : run.notStarted ? 'stopped' : 'failed';
        // the list goes on with the retry: a retry of it stopped in turn takes from that list only
        const requested = stopped ? stopped.requested : run.notStarted ? run.requested : null;
        if (requested) await setRunRequested(pool, args.runId, requested);
        await setRetryOf(pool, args.runId, retryOf);
        if (await runTakesRestorePoints(pool, retryOf)) {
          await markRunRestorePoints(pool, args.runId);
          restorePoints = true;
        }
      }
      // the operator's list is in the run row since the claim (requested): the pages read it there
      await setRunPlan(pool, args.runId, sup?.code ?? null, null);
      const size = await selectionCount(pool, args.runId, selection);
      if (args.mode === 'retry') {
        // R-PI-4: also a retry started otherwise than by the CLI (which refuses it first) never leaves dossiers above the supervisor
        const problem = retryAboveSupervisorProblem(
          { target: args.target, runId: retryOf!, upTo, supervisor: sup ? { code: sup.code, level: sup.patch_level } : null, supervisorRetried: size.supervisor, dir: retryDir },
          'no dossier was touched',
        );
        if (problem) throw patchFailure(PatchFailure.SupervisorBehind, problem);
      }
      return {
        supervisor: sup ? { code: sup.code, level: sup.patch_level, included: size.supervisor } : null,
        selection,
        others: size.others,
        upTo,
        retryOf,
        ...(restorePoints ? { restorePoints } : {}),
      };
    },

    /**
     * R-PI-10: the run's plan, by the function its engine routes with (domain/patch-plan.ts), over its
     * own selection page by page, summarised by category for the details; the summary so far rides in
     * the heartbeat, so a retried attempt goes on from its cursor. Reads only.
     */
    async summarizePatchPlan(args: { target: string; runId: number; selection: PatchSelection; upTo: number; supervisorIncluded: boolean }): Promise<PatchPlanView> {
      const pool = pools.get(args.target);
      const ctx = Context.current();
      const resume = ctx.info.heartbeatDetails as { cursor: string; summary: PlanSummary } | undefined;
      const packages = await storedManifests(pool, args.upTo);
      const outcome = await planOverDossiers(pool, {
        packages,
        supervisorIncluded: args.supervisorIncluded,
        codesPage: (after, limit) => selectionPage(pool, args.runId, args.selection, after, limit),
        dictionary: true,
        ...(resume ? { after: resume.cursor, summary: resume.summary } : {}),
        onPage: (cursor, summary) => ctx.heartbeat({ cursor, summary }),
      });
      const h = await planHistory(pool);
      const history = h.runs ? h : null;
      return {
        lines: summaryLines(outcome.summary, history),
        dossiers: outcome.summary.dossiers,
        refused: outcome.summary.refused,
        estimateSeconds: estimateSeconds(outcome.summary.applications, history),
        stopsAtSupervisor: outcome.stopsAtSupervisor,
      };
    },

    /** One page of the run's selection after the cursor (a local activity of the fan-out engine). */
    async selectPatchPage(args: { target: string; runId: number; selection: PatchSelection; cursor: string; limit: number }): Promise<FanOutPage<string>> {
      const codes = await selectionPage(pools.get(args.target), args.runId, args.selection, args.cursor, args.limit);
      return { codes, cursor: codes.length ? codes[codes.length - 1]! : args.cursor, exhausted: codes.length < args.limit };
    },

    /**
     * Patches a chunk of dossiers through the fan-out engine (activities/fan-out.ts): each outcome
     * recorded in the ledger before the next dossier, a heartbeat per dossier and every 2 s (a dossier
     * locked for minutes keeps the chunk alive), a retry resuming from the heartbeat and the ledger; a
     * dossier half-way through a patch rolled back, and the engine skips what is applied.
     */
    async applyPatchChunk(args: ChunkArgs): Promise<PatchChunkResult> {
      const pool = pools.get(args.target);
      const r = await patchChunk(pool, args, config);
      return { ...r.result, ...(r.result.failuresTotal ? { retryCommand: patchRetryCommand(args.target, args.runId) } : {}) };
    },

    /** The supervisor alone, first (its failure ends the run before any other dossier): its whole outcome. */
    async applySupervisorPatches(args: Omit<ChunkArgs, 'codes'> & { code: string }): Promise<DossierPatchOutcome> {
      const pool = pools.get(args.target);
      const r = await patchChunk(pool, { ...args, codes: [args.code] }, config);
      const out = r.outcomes.get(args.code);
      if (out) return out;
      // ended by an earlier attempt: the ledger holds it
      const failures = await runFailures(pool, args.runId, FAILURES_CAP);
      const failed = failures.failures.find((f) => f.code === args.code);
      const [row] = await patchDossiersByCode(pool, [args.code]);
      const level = row?.patch_level ?? 0;
      return failed
        ? { code: args.code, status: 'failed', fromLevel: level, toLevel: level, applied: [], ...(failed.patch !== undefined ? { failedPatch: failed.patch } : {}), error: failed.error }
        : { code: args.code, status: 'ok', fromLevel: level, toLevel: level, applied: [] };
    },

    /** What the ledger says of the run now, and the dossiers this worker runs for it (the details' refresh; a local activity). */
    async patchLedgerView(args: { target: string; runId: number; workflowId: string; restorePoints?: boolean }): Promise<FanOutLedgerView> {
      const pool = pools.get(args.target);
      const view = ledgerView(await itemCounts(pool, args.runId), await latestFailures(pool, args.runId, DETAILS_FAILURES_SHOWN), args.workflowId);
      return args.restorePoints ? { ...view, restorePoints: await restorePointCounts(pool, args.runId) } : view;
    },

    /** Closes the run: its state from the items (or the given failure), R-PI-9's list from the registry. */
    async finishPatchRun(args: { target: string; runId: number; error?: string; notes: string[]; restorePoints?: boolean; notStarted?: number }): Promise<{
      state: PatchRunState;
      supervisorLevel: number | null;
      toRevalidate: { code: string; level: number }[];
      toRevalidateCount: number;
      failures: PatchDossierFailure[];
      failuresTotal: number;
      retryCommand?: string;
      /** dossiers ended, from the ledger (the truth: chunks retried after a crash skip what they find there) */
      done: number;
      /** R-PI-11: runs with restore points */
      restorePoints?: RestorePointCounts;
      /** with failures: whether some dossier holds the lowest patch that failed (else the package is at fault) */
      packageHeld?: boolean;
      /** with failures: whether the supervisor holds it (the package's fix then goes through `patch repair`) */
      supervisorHolds?: boolean;
    }> {
      const pool = pools.get(args.target);
      // dossiers the run touched but never finished (it ended early): failed, at the level they reached
      for (const u of await unfinishedItems(pool, args.runId)) {
        const level = u.level ?? u.from_level;
        const reached =
          u.schema_name && level > u.from_level
            ? await sinceRunStart(pool, u.schema_name, u.from_level, { code: u.code, status: 'failed', fromLevel: level, toLevel: level, applied: [] })
            : { applied: [] as number[] };
        await failUnfinishedItem(pool, args.runId, u.code, level, reached.applied, `not finished: the run ended (${(args.error ?? 'early').slice(0, 500)}) before this dossier was done`);
      }
      const failed = await runFailures(pool, args.runId, FAILURES_CAP);
      const state: PatchRunState = args.error ? 'failed' : failed.total ? 'partial' : 'completed';
      await closeRun(pool, args.runId, state, args.error ?? null, args.notes, args.notStarted ?? null);
      // R-PI-11: restore points a killed worker left half-written, this run's and those of runs closed as abandoned
      await sweepRestorePointTemps({ config, pool, target: args.target });
      const levels = await revalidationList(pool);
      const { done } = await itemCounts(pool, args.runId);
      return {
        state,
        done,
        ...(args.restorePoints ? { restorePoints: await restorePointCounts(pool, args.runId) } : {}),
        ...levels,
        failures: failed.failures.map((f) => ({ ...f, status: 'failed', error: oneLine(f.error) })),
        failuresTotal: failed.total,
        ...(failed.total
          ? { retryCommand: patchRetryCommand(args.target, args.runId), packageHeld: await runPackageHeld(pool, args.runId), supervisorHolds: await runSupervisorHolds(pool, args.runId) }
          : {}),
      };
    },
  };
}

/**
 * One chunk on the fan-out engine; the outcomes of the dossiers this attempt patched (the supervisor's
 * call reads its own). A run closed meanwhile (abandoned) refuses every late result: PatchRunClosed.
 */
async function patchChunk(pool: pg.Pool, args: ChunkArgs, config: ActivityDeps['config']): Promise<{ result: Awaited<ReturnType<typeof runChunk>>; outcomes: Map<string, DossierPatchOutcome> }> {
  const patches = await loadStoredPatches(pool, args.upTo);
  // the level at the run's start: captured when the run first touches a dossier, kept by every retry
  const opened = await openItems(pool, args.runId, args.codes);
  if (!opened && !(await runIsRunning(pool, args.runId))) throw await patchRunClosed(pool, args.runId);
  if (args.restorePoints) await restorePointPreconditions(pool, args.target, config);
  const runFrom = await itemFromLevels(pool, args.runId, args.codes);
  const byCode = new Map((await patchDossiersByCode(pool, args.codes)).map((r) => [r.code, r]));
  const outcomes = new Map<string, DossierPatchOutcome>();
  // AWS SSM's MaxErrors: the run's failures so far (every chunk's), then this chunk's own, against the limit
  const limit = args.failureLimit;
  const failedBefore = limit === undefined ? 0 : (await itemCounts(pool, args.runId)).failed;
  let failedHere = 0;
  const overLimit = () => limit !== undefined && failedBefore + failedHere > limit;
  const result = await runChunk({
    codes: args.codes,
    concurrency: 1,
    shouldStop: overLimit,
    alreadyDone: (codes) => finishedCodes(pool, args.runId, codes),
    perDossier: async (code, signal) => {
      const row = byCode.get(code);
      // R-PI-11: recorded in the ledger before the first patch; a dossier without one is not patched
      const restore = row && args.restorePoints ? await ensureRestorePoint({ config, pool, target: args.target, runId: args.runId }, toEngine(row), patches, signal) : null;
      const outcome: DossierPatchOutcome = restore?.kind === 'failed'
        ? restore.outcome
        : row
        ? await sinceRunStart(pool, row.schema_name, runFrom.get(code), await patchDossier(pool, toEngine(row), patches, args.supervisorLevel))
        : { code, status: 'failed', fromLevel: 0, toLevel: 0, applied: [], failureType: PatchFailure.UnknownDossier, error: `dossier ${code} is no longer registered` };
      // only while the run is running: a run closed as abandoned takes no late result
      if (!(await recordItem(pool, args.runId, outcome))) throw await patchRunClosed(pool, args.runId);
      outcomes.set(code, outcome);
      if (outcome.status === 'failed') failedHere++;
      return { status: outcome.status, error: outcome.error ?? null };
    },
  });
  if (result.stopped && overLimit()) {
    // not started: no ledger row left pending (closing the run would count them failed), and the engine starts none again
    await dropUnstartedItems(pool, args.runId, result.remaining);
    result.overFailures = true;
  }
  await touchRun(pool, args.runId);
  return { result, outcomes };
}

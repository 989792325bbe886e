import * as wf from '@temporalio/workflow';
import { ApplicationFailure, type ActivityOptions } from '@temporalio/common';
import type { NightshiftActivities } from '../workers/activities';
import { supervisorAbsentNote } from '../domain/patch';
import { NightshiftKind, NightshiftPhase, NightshiftTarget } from './search-attributes';
import { BATCH_PAGE_RETRY, DB_CALL } from './activity-presets';
import { activityCaller, innermostMessage } from './activity-calls';
import {
  DEFAULT_PATCH_TUNING,
  PatchFailure,
  patchProgressQuery,
  type DossierPatchOutcome,
  type PatchIntegrationInput,
  type PatchPhase,
  type PatchProgress,
  type PatchRunResult,
  type PatchSummary,
} from './patch-integration.api';

/**
 * Ordered patch integration (R-PI-1 … R-PI-9): prerequisites, packages verified into the ledger, the
 * supervisor first (its failure ends the run before any other dossier), then the other dossiers in
 * chunks with bounded concurrency; a failed dossier stops at its last good patch and the others go on.
 */

/** Reading a directory of packages and storing them: bounded by the packages' size. */
const READ = { startToCloseTimeout: '10 minutes', retry: { initialInterval: '2 seconds', maximumAttempts: 5 } } as const satisfies ActivityOptions;

const call = activityCaller(DB_CALL);

const failure = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export async function patchIntegrationWorkflow(input: PatchIntegrationInput): Promise<PatchRunResult> {
  const info = wf.workflowInfo();
  const tuning = { ...DEFAULT_PATCH_TUNING, ...input.tuning };
  const chunkOptions: ActivityOptions = {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: `${tuning.heartbeatTimeoutSeconds} seconds`,
    retry: BATCH_PAGE_RETRY,
  };
  const p: PatchProgress = {
    runId: null,
    workflowId: info.workflowId,
    target: input.target,
    mode: input.mode,
    phase: 'starting',
    prerequisites: [],
    patches: null,
    supervisor: null,
    notes: [],
    total: 0,
    done: 0,
    failed: 0,
  };
  const searchAttributes = info.typedSearchAttributes.get(NightshiftKind) !== undefined;
  wf.setHandler(patchProgressQuery, () => ({ ...p, prerequisites: [...p.prerequisites], notes: [...p.notes] }));

  function details(): void {
    const lines = [`**patch ${p.mode}** on **${p.target}**: phase **${p.phase}**${p.runId !== null ? ` (run ${p.runId})` : ''}`];
    if (p.prerequisites.length) lines.push(p.prerequisites.map((q) => `${q.ok ? '✓' : '✗'} ${q.name}: ${q.detail}`).join('\n'));
    if (p.patches) lines.push(`patches **${p.patches.first} → ${p.patches.last}**`);
    if (p.supervisor) lines.push(`supervisor ${p.supervisor.code}: **${p.supervisor.status}**${p.supervisor.level !== null ? ` (level ${p.supervisor.level})` : ''}${p.supervisor.error ? ` — ${p.supervisor.error}` : ''}`);
    if (p.total) lines.push(`dossiers: **${p.done} / ${p.total}** done, ${p.failed} failed`);
    for (const n of p.notes) lines.push(`note: ${n}`);
    wf.setCurrentDetails(lines.join('\n'));
  }
  function enter(phase: PatchPhase): void {
    p.phase = phase;
    if (searchAttributes) {
      wf.upsertSearchAttributes([
        { key: NightshiftTarget, value: p.target },
        { key: NightshiftKind, value: 'patch' },
        { key: NightshiftPhase, value: phase },
      ]);
    }
    details();
  }

  enter('prerequisites');
  const claim = await call('claimPatchRun', `${input.target}: prerequisites (R-PI-2)`, DB_CALL, {
    target: input.target,
    workflowId: info.workflowId,
    mode: input.mode,
    dir: input.dir,
    dossiers: input.dossiers,
    retryOf: input.retryOf,
    windowWorkflowId: input.windowWorkflowId,
  });
  p.runId = claim.runId;
  p.prerequisites = claim.prerequisites;
  if (!claim.ok) {
    enter('failed');
    const failed = claim.prerequisites.filter((q) => !q.ok);
    throw failure(PatchFailure.PrerequisiteFailed, `patch run refused on ${input.target}: ${failed.map((q) => `${q.name}: ${q.detail}`).join('; ')}`);
  }
  const runId = claim.runId;

  let finished = false;
  const finish = async (error?: string) => {
    finished = true;
    return wf.CancellationScope.nonCancellable(() =>
      call('finishPatchRun', `${input.target}: close run ${runId}`, DB_CALL, { target: input.target, runId, error, notes: p.notes }),
    );
  };

  try {
    enter('reading');
    let patches: PatchSummary[];
    let plan: Awaited<ReturnType<NightshiftActivities['planPatchRun']>>;
    if (input.mode === 'integrate') {
      patches = await call('loadPatchPackages', `${input.target}: verify ${input.dir}`, READ, { target: input.target, runId, dir: input.dir! });
      plan = await call('planPatchRun', `${input.target}: plan`, DB_CALL, {
        target: input.target,
        runId,
        mode: input.mode,
        dossiers: input.dossiers,
        lastPatch: patches[patches.length - 1]!.number,
      });
    } else {
      plan = await call('planPatchRun', `${input.target}: plan`, DB_CALL, { target: input.target, runId, mode: input.mode, dossiers: input.dossiers, retryOf: input.retryOf });
      patches = await call('storedPatchSummaries', `${input.target}: stored patches`, DB_CALL, { target: input.target, runId, upTo: plan.upTo });
    }
    if (patches.length) p.patches = { first: patches[0]!.number, last: patches[patches.length - 1]!.number };

    const sup = plan.supervisor;
    let supervisorLevel = sup?.level ?? 0;
    p.total = plan.others.length + (sup?.included ? 1 : 0);
    if (sup) p.supervisor = { code: sup.code, status: sup.included ? 'pending' : 'not-in-list', level: sup.level };
    if (input.mode === 'integrate' && !sup?.included) {
      const uncovered = patches.filter((x) => x.treatments > 0 && x.number > supervisorLevel).map((x) => x.number);
      const n = supervisorAbsentNote(sup?.code ?? null, uncovered);
      if (n) p.notes.push(n);
    }
    details();

    // --- The supervisor first: its failure stops the run before any other dossier is touched.
    if (sup?.included) {
      enter('supervisor');
      const [out] = await call('applyPatchChunk', `${sup.code} (supervisor): patches up to ${plan.upTo}`, chunkOptions, {
        target: input.target,
        runId,
        codes: [sup.code],
        upTo: plan.upTo,
        supervisorLevel,
      });
      p.done++;
      p.supervisor = { code: sup.code, status: out!.status, level: out!.toLevel, ...(out!.error ? { error: out!.error } : {}) };
      supervisorLevel = out!.toLevel;
      if (out!.status === 'failed') {
        p.failed++;
        throw failure(PatchFailure.SupervisorFailed, `the supervisor ${sup.code} failed, no other dossier was touched: ${out!.error}`);
      }
    }

    // --- The other dossiers: chunks, a bounded number in flight.
    enter('dossiers');
    const chunks: string[][] = [];
    for (let i = 0; i < plan.others.length; i += tuning.chunkSize) chunks.push(plan.others.slice(i, i + tuning.chunkSize));
    let next = 0;
    const lane = async () => {
      while (next < chunks.length) {
        const n = next++;
        const codes = chunks[n]!;
        const outcomes: DossierPatchOutcome[] = await call(
          'applyPatchChunk',
          `dossiers ${codes[0]} … ${codes[codes.length - 1]} (${codes.length}): patches up to ${plan.upTo}`,
          chunkOptions,
          { target: input.target, runId, codes, upTo: plan.upTo, supervisorLevel },
        );
        p.done += outcomes.length;
        p.failed += outcomes.filter((o) => o.status === 'failed').length;
        details();
      }
    };
    await Promise.all(Array.from({ length: Math.min(tuning.concurrency, chunks.length) }, lane));

    enter('finishing');
    const closed = await finish();
    enter(closed.state === 'completed' ? 'completed' : closed.state === 'partial' ? 'partial' : 'failed');
    if (closed.toRevalidateCount) {
      p.notes.push(`${closed.toRevalidateCount} dossier(s) below the supervisor's level ${closed.supervisorLevel} to revalidate (R-PI-9)`);
      details();
    }
    await wf.condition(wf.allHandlersFinished);
    return { ...p, ...closed };
  } catch (err) {
    if (!finished) {
      const message = innermostMessage(err);
      const closed = await finish(message);
      if (closed.failures.length) p.notes.push(`failed: ${closed.failures.map((f) => f.code).join(', ')}`);
      enter('failed');
    }
    throw err;
  }
}

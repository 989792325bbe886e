import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { z } from 'zod';
import { ApplicationFailure } from '@temporalio/common';
import { UsageError } from '../../config/config';
import { dossierCodeSchema } from '../../domain/dossier';
import { patchIntegrateCommand, patchSpanText } from '../../domain/patch';
import { rollbackInputSchema } from '../../domain/rollback-input';
import { patchPrerequisites } from '../../store/patch/prerequisites';
import { runningRollbackRuns } from '../../store/rollback/running-runs';
import { closeAbandonedRollbackRun } from '../../store/rollback/close-abandoned-run';
import { rollbackScopeProblem, scopeOf } from '../../store/rollback/scope-problem';
import { type LaterPatchesUndone, laterPatchesUndone } from '../../store/rollback/later-patches-undone';
import { type LaterRun, laterRunsOf } from '../../store/rollback/later-runs';
import { rollbackPreview } from '../../store/rollback/rollback-preview';
import { withReadOnlySnapshot } from '../../store/patch/read-only-snapshot';
import { operatorDateTime } from '../../domain/retention';
import { type ChangedSincePatch, type DossiersSaid, changedSincePatch } from '../../store/rollback/changed-since-patch';
import { startPatchRollback } from '../../starts';
import { RollbackFailure, partialRollbackResult, rollbackRetryCommand, rollbackScopeText, type PatchRollbackInput, type RollbackRunResult } from '../../workflows/patch-rollback.api';
import { rollbackRunView } from '../../store/rollback/run-view';
import { rollbackItemCounts } from '../../store/rollback/item-counts';
import { rollbackRunFailures } from '../../store/rollback/run-failures';
import { restoredCodes } from '../../store/rollback/restored-codes';
import { action, config, EXIT_FAILED, jsonOption, lastingResult, output, parseFlag, runIdSchemaFor, sayOnInterrupt, target, targetOption, withPools, withTemporal } from '../context';
import { webUiLink } from './backup';
import { mayStillRun, workflowStatus } from './backup-batch';
import { refuseUnknownCodes } from '../code-hints';

/** nightshift patch rollback CODE… | --run ID [--failed-only] | --retry ID (R-PI-11): each dossier back to its restore point. */

const codesSchema = z.array(dossierCodeSchema).min(1, 'give at least one dossier code');
/** A run id as typed: digits only (`abc` is said so, not coerced to NaN). */
export const runIdSchema = runIdSchemaFor('patch status');
const idSchema = runIdSchema;

interface RollbackFlags {
  target?: string;
  dryRun?: boolean;
  run?: string;
  failedOnly?: boolean;
  retry?: string;
  wait?: boolean;
  yes?: boolean;
  json?: boolean;
}

export function rollbackResultText(r: RollbackRunResult): string {
  const lines = [`patch rollback on ${r.target} (rollback run ${r.runId}): ${r.state}`, `scope: ${r.scope}`];
  lines.push(`${r.restored} / ${r.total} dossier(s) restored to their restore point, ${r.failuresTotal} failed`);
  if (r.restoredCodes.length) lines.push(`restored: ${r.restoredCodes.join(' ')}${r.restored > r.restoredCodes.length ? ` and ${r.restored - r.restoredCodes.length} more ('nightshift patch status' shows every level)` : ''}`);
  for (const f of r.failures) lines.push(`  ${f.code}: ${f.error}`);
  if (r.failuresTotal > r.failures.length) lines.push(`  and ${r.failuresTotal - r.failures.length} more`);
  if (r.retryCommand) lines.push(`fix them, then: ${r.retryCommand}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

/**
 * One rollback run read back from its ledger (`patch status --rollback N`): what `patch rollback --wait` printed, any time
 * later: its scope, restored and failed dossiers with their reasons, the retry; undefined: no such run.
 */
export async function rollbackRunStatus(pool: pg.Pool, targetName: string, id: number): Promise<(RollbackRunResult & { error: string | null; startedAt: Date; finishedAt: Date | null }) | undefined> {
  const run = await rollbackRunView(pool, id);
  if (!run) return undefined;
  const counts = await rollbackItemCounts(pool, id);
  const failed = await rollbackRunFailures(pool, id, ROLLBACK_FAILURES_SHOWN);
  const scope = rollbackScopeText({ dossiers: run.requested ?? undefined, patchRun: run.patchRun ?? undefined, failedOnly: run.failedOnly, retryOf: run.retryOf ?? undefined });
  const ended = run.state !== 'running';
  return {
    target: targetName,
    runId: run.id,
    workflowId: run.workflowId,
    phase: run.state === 'running' ? 'dossiers' : (run.state as RollbackRunResult['state']),
    state: run.state as RollbackRunResult['state'],
    scope,
    prerequisites: [],
    notes: run.notes,
    total: counts.total,
    done: counts.done,
    failed: counts.failed,
    restored: counts.done - counts.failed,
    restoredCodes: await restoredCodes(pool, id, RESTORED_CODES_SHOWN),
    failures: failed.failures.map((f) => ({ ...f, status: 'failed' })),
    failuresTotal: failed.total,
    ...(ended && failed.total ? { retryCommand: rollbackRetryCommand(targetName, id) } : {}),
    error: run.error,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}
const ROLLBACK_FAILURES_SHOWN = 1000;
const RESTORED_CODES_SHOWN = 20;

/** What a rollback would undo besides its run (store/rollback/later-patches-undone.ts), as the refusal says it. */
/** What a refusal says it did, and how to go on; a dry run says what the rollback would ask instead. */
const ASK_YES = 'nothing started (add --yes to roll back anyway)';
const DRY_RUN_ASK = 'the rollback asks for --yes';

/** The later runs of the dossiers a refusal names (store/rollback/later-runs.ts), and the target for the commands it gives. */
export interface LaterRunsSaid {
  target: string;
  runs: Map<string, LaterRun[]>;
}

export function laterPatchesText(undone: LaterPatchesUndone[], ask = ASK_YES, later?: LaterRunsSaid): string {
  const lines = [`this rollback would undo more than its patch run; ${ask}:`];
  // the supervisor first (the query's order), then the first dossiers by code: at 10,000 dossiers, 10,000 lines were printed
  for (const u of undone.slice(0, CHANGED_CODES_SHOWN)) {
    if (u.level > u.runLevel) {
      lines.push(
        `  ${u.code}: at patch ${u.level} now; patch run ${u.patchRun} left it at ${u.runLevel}; its restore point is at patch ${u.restoreLevel}: ` +
          `${patchSpanText({ first: u.runLevel + 1, last: u.level })} of later runs would be undone too${laterRunsAdvice(u, later)}`,
      );
    }
    if (u.above > 0) {
      lines.push(`  ${u.code} (supervisor) would go back to patch ${u.restoreLevel}, below ${u.above} other dossier(s) at a higher level (R-PI-4: the supervisor first, the others after it)`);
    }
  }
  if (undone.length > CHANGED_CODES_SHOWN) lines.push(`  and ${undone.length - CHANGED_CODES_SHOWN} more dossier(s) (patch status lists each one's level)`);
  return lines.join('\n');
}

const LATER_RUNS_NAMED = 5;
const runsText = (runs: LaterRun[]) =>
  `patch run${runs.length > 1 ? 's' : ''} ${runs
    .slice(0, LATER_RUNS_NAMED)
    .map((r) => r.run)
    .join(', ')}${runs.length > LATER_RUNS_NAMED ? ` and ${runs.length - LATER_RUNS_NAMED} more` : ''}`;

/**
 * What can be done about a dossier's later runs (tester B: "roll back those runs first" was said of `patch integrate`
 * runs without restore points, which a rollback refuses, NoRestorePoint): each later run with a restore point of it
 * can be rolled back first, newest first; one without cannot, and --yes undoes its patches with this rollback (the
 * restore point holds the dossier's ledger and level from before them): R-PI-9's revalidate brings it back up to the
 * supervisor's level, or for the supervisor itself an integration of the folder again (supervisor first).
 */
function laterRunsAdvice(u: LaterPatchesUndone, later: LaterRunsSaid | undefined): string {
  const runs = later?.runs.get(u.code) ?? [];
  if (!later || !runs.length) return '';
  const without = runs.filter((r) => !r.restorePoint);
  if (!without.length) return ` (${runsText(runs)} took a restore point of it: roll ${runs.length > 1 ? 'them' : 'it'} back first, newest first)`;
  const up = u.supervisor
    ? `then integrate the folder again, supervisor first: ${patchIntegrateCommand(later.target, null)}`
    : `then bring it back up to the supervisor's level (R-PI-9): nightshift patch revalidate ${u.code} --target ${later.target}`;
  return ` (${runsText(without)} took no restore point of it and cannot be rolled back: --yes undoes ${without.length > 1 ? 'their' : 'its'} patches with this rollback; ${up})`;
}

/** Dossiers named in a refusal: the rest counted. */
export const CHANGED_CODES_SHOWN = 20;
/** The dossiers whose lines a refusal of later runs' patches prints (laterPatchesText): their later runs are read. */
const shownCodes = (undone: LaterPatchesUndone[]) => undone.slice(0, CHANGED_CODES_SHOWN).filter((u) => u.level > u.runLevel).map((u) => u.code);

const codesText = (d: DossiersSaid) => `${d.codes.join(' ')}${d.total > d.codes.length ? ` and ${d.total - d.codes.length} more` : ''}`;

/**
 * Rollback runs whose rows say running while Temporal knows their workflow closed (terminated, timed out) are closed
 * as abandoned (as `closeAbandonedRuns` does for patch runs): shown as they are, and no longer holding a new rollback
 * back. One that may still run (RUNNING, or Temporal not answering) stays.
 */
export async function closeAbandonedRollbacks(pool: pg.Pool, client: Client): Promise<void> {
  for (const r of await runningRollbackRuns(pool)) {
    const status = await workflowStatus(client, r.workflowId);
    if (!mayStillRun(status)) await closeAbandonedRollbackRun(pool, r.id, status);
  }
}

/** The data a rollback would replace besides the patch's own (store/rollback/changed-since-patch.ts), as the refusal says it; '' when none. */
export function changedSinceText(c: ChangedSincePatch, ask = ASK_YES): string {
  if (!c.changed.total && !c.unknown.total) return '';
  const lines = [`this rollback would lose data written since the patch; ${ask}:`];
  if (c.changed.total) {
    lines.push(`  ${c.changed.total} dossier(s) written to since a patch run last finished with them: ${codesText(c.changed)}`);
  }
  if (c.unknown.total) {
    lines.push(
      `  ${c.unknown.total} dossier(s) patched before Nightshift recorded their change counter, written to since their restore point (by the patch, by users: unknown): ${codesText(c.unknown)}`,
    );
  }
  lines.push('  a restore point is the dossier as it was before its patch: what users wrote there since is lost');
  return lines.join('\n');
}

const refused = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export function registerPatchRollbackCommand(patch: Command): void {
  patch
    .command('rollback')
    .description('restore dossiers to the restore point a patch run took before patching them (R-PI-11): data, treatments, dictionary, ledger, level; inside a maintenance window')
    .argument('[codes...]', 'dossier codes (each to its newest restore point not used yet)')
    .option('--run <id>', 'every dossier of this patch run that has a restore point')
    .option('--failed-only', 'with --run: only the dossiers that failed in it')
    .option('--retry <id>', 'the dossiers a rollback run could not restore, again')
    .option('--wait', 'wait for the rollback and print its result')
    .option('--dry-run', 'say what the rollback would restore (each dossier: its level now, its restore point) and what it would ask --yes for; start nothing')
    .option('--yes', 'roll back even when it undoes patches of later runs, takes the supervisor below other dossiers, or replaces data written since the patch')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (codes: string[], flags: RollbackFlags) => {
        const t = target(flags.target);
        const input: PatchRollbackInput = {
          target: t.name,
          ...(codes.length ? { dossiers: parseFlag('CODE', codesSchema, codes) } : {}),
          ...(flags.run !== undefined ? { patchRun: parseFlag('--run', idSchema, flags.run) } : {}),
          ...(flags.failedOnly ? { failedOnly: true } : {}),
          ...(flags.retry !== undefined ? { retryOf: parseFlag('--retry', idSchema, flags.retry) } : {}),
        };
        // bad usage (no scope, two scopes, --failed-only without --run) is exit 2 before anything is read
        const checked = rollbackInputSchema.safeParse(input);
        // the schema's own words, written for operators (its field names are not flags)
        if (!checked.success) throw new UsageError(checked.error.issues.map((i) => i.message).join('; '));
        if (flags.dryRun) return dryRun(t.name, input, flags.json);
        return withTemporal(async (client) => {
          // checked before anything starts (the claim checks again under its lock): R-PI-2, then the restore points
          const nothing = await withPools(t.name, async (pool) => {
            // codes that name no dossier are a slip, not a missing restore point (exit 2, the one meant named)
            if (input.dossiers) await refuseUnknownCodes(pool, t.name, input.dossiers);
            await closeAbandonedRollbacks(pool, client);
            // a run id that names nothing is a slip (exit 2), said before R-PI-2 (a typo found only inside a window)
            const scope = scopeOf(input);
            const problem = await rollbackScopeProblem(pool, t.name, scope);
            if (problem?.unknown) throw new UsageError(problem.message);
            // a retry with nothing failed: said, exit 0, nothing started (as `patch retry` and `backup retry` say it)
            if (problem?.nothingToDo) return problem.message;
            const prerequisites = await patchPrerequisites(pool, t.name);
            const others = await runningRollbackRuns(pool);
            if (others.length) prerequisites.push({ name: 'no other rollback', ok: false, detail: `rollback ${others.map((o) => o.workflowId).join(', ')} is running on ${t.name}` });
            const failed = prerequisites.filter((q) => !q.ok);
            if (failed.length) {
              throw refused(RollbackFailure.PrerequisiteFailed, [`rollback refused on ${t.name} (R-PI-2), nothing started:`, ...failed.map((q) => `  ${q.name}: ${q.detail}`)].join('\n'));
            }
            if (problem) throw refused(RollbackFailure.NoRestorePoint, problem.message);
            // a restore point older than the dossier's last patches, a supervisor taken below the others, data
            // written since the patch (lost with it): said first, all at once
            if (!flags.yes) {
              const undone = await laterPatchesUndone(pool, scope);
              const later = { target: t.name, runs: await laterRunsOf(pool, scope, shownCodes(undone)) };
              const lost = changedSinceText(await changedSincePatch(pool, scope, CHANGED_CODES_SHOWN));
              const said = [...(undone.length ? [laterPatchesText(undone, ASK_YES, later)] : []), ...(lost ? [lost] : [])];
              if (said.length) throw new UsageError(said.join('\n'));
            }
            return undefined;
          });
          if (nothing) return output(flags.json, { retryOf: input.retryOf, retried: 0 }, () => nothing);
          const handle = await startPatchRollback(client, input, { taskQueue: config().temporal.taskQueue, summary: `Roll back ${rollbackScopeText(input)} on ${t.name}` });
          const started = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, url: webUiLink(handle.workflowId, handle.firstExecutionRunId) };
          const startedText = `started ${started.workflowId}\nfollow it in the Temporal Web UI: ${started.url}`;
          if (!flags.wait) return output(flags.json, started, () => startedText);
          const unsay = sayOnInterrupt('rollback', `follow it with 'nightshift patch status --target ${t.name}' or in the Temporal Web UI: ${started.url}`);
          if (!flags.json) process.stdout.write(`${startedText}\n`);
          // a rollback with failed dossiers FAILS (RollbackRunPartial): its result rides in the failure
          const result = await lastingResult(() => handle.result(), 'the rollback')
            .catch((err: unknown) => partialRollbackResult(err) ?? Promise.reject(err))
            .finally(unsay);
          output(flags.json, { ...started, result }, (v) => rollbackResultText(v.result));
          return result.state === 'completed' ? undefined : EXIT_FAILED;
        });
      }),
    );
}

/** Dossiers a dry run names: the rest counted (`--json` too: the counts say how many). */
const PREVIEW_SHOWN = 20;

/**
 * `patch rollback … --dry-run` (drill M: a rollback by codes started at once; only its refusals said anything first):
 * what it would restore, read as the rollback's own selection reads it, what it would ask --yes for, and whether
 * R-PI-2 lets it start now. Needs no worker and no window; starts nothing.
 */
async function dryRun(targetName: string, input: PatchRollbackInput, json: boolean | undefined): Promise<void> {
  const value = await withPools(targetName, async (pool) => {
    if (input.dossiers) await refuseUnknownCodes(pool, targetName, input.dossiers);
    const scope = scopeOf(input);
    const problem = await rollbackScopeProblem(pool, targetName, scope);
    if (problem?.unknown) throw new UsageError(problem.message);
    if (problem && !problem.nothingToDo) throw refused(RollbackFailure.NoRestorePoint, problem.message);
    const prerequisites = await patchPrerequisites(pool, targetName);
    const others = await runningRollbackRuns(pool);
    if (others.length) prerequisites.push({ name: 'no other rollback', ok: false, detail: `rollback ${others.map((o) => o.workflowId).join(', ')} is running on ${targetName}` });
    // the three reads on one snapshot: what is restored, undone and lost agree with each other
    const { preview, undone, lost } = await withReadOnlySnapshot(pool, async (db) => {
      const undone = await laterPatchesUndone(db, scope);
      const runs = await laterRunsOf(db, scope, shownCodes(undone));
      return {
        preview: await rollbackPreview(db, scope, PREVIEW_SHOWN),
        // --json: each dossier's later runs too (those named in the text), newest first
        undone: undone.map((u) => ({ ...u, laterRuns: runs.get(u.code) ?? [] })),
        lost: await changedSincePatch(db, scope, CHANGED_CODES_SHOWN),
      };
    });
    return {
      target: targetName,
      scope: rollbackScopeText(input),
      total: preview.total,
      dossiers: preview.rows,
      laterPatchesUndone: undone,
      changedSincePatch: lost,
      refusedNow: prerequisites.filter((q) => !q.ok),
    };
  });
  output(json, value, (v) => {
    const zone = config().operatorTimeZone;
    const lines = [`patch rollback of ${v.scope} on ${v.target} would restore ${v.total} dossier(s) to their restore points (--dry-run: nothing started):`];
    for (const d of v.dossiers) {
      lines.push(`  ${d.code}: at patch ${d.level} now, back to patch ${d.restoreLevel}: restore point generation ${d.generation} taken ${operatorDateTime(d.snapshotAt, zone)} (${zone}) by patch run ${d.patchRun}`);
    }
    if (v.total > v.dossiers.length) lines.push(`  and ${v.total - v.dossiers.length} more dossier(s) (--json: the first ${PREVIEW_SHOWN} too, and the counts)`);
    if (v.laterPatchesUndone.length) {
      const runs = new Map(v.laterPatchesUndone.map((u) => [u.code, u.laterRuns]));
      lines.push(laterPatchesText(v.laterPatchesUndone, DRY_RUN_ASK, { target: v.target, runs }));
    }
    const lost = changedSinceText(v.changedSincePatch, DRY_RUN_ASK);
    if (lost) lines.push(lost);
    lines.push(
      v.refusedNow.length
        ? [`if started now, it would be refused (R-PI-2):`, ...v.refusedNow.map((q) => `  ${q.name}: ${q.detail}`)].join('\n')
        : 'if started now, its prerequisites would be met (R-PI-2)',
    );
    return lines.join('\n');
  });
}


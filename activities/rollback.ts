import type pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { restoreDossierArchive } from '../archive/engine';
import { loadBackupKeyring } from '../archive/keys';
import { FailureType, failureTypeOf } from '../domain/failures';
import { DETAILS_FAILURES_SHOWN, FAILURES_CAP, oneLine, type FanOutLedgerView } from '../domain/run-details';
import { rollbackInputSchema } from '../domain/rollback-input';
import { parseInput } from '../domain/validation';
import type { FanOutPage } from '../workflows/fan-out';
import type { Prerequisite } from '../workflows/patch-integration.api';
import { RollbackFailure, rollbackRetryCommand, rollbackScopeText, type RollbackRunState } from '../workflows/patch-rollback.api';
import type { FanOutChunkResult, DossierFailure } from '../domain/run-details';
import type { ActivityDeps } from './deps';
import { ledgerView, runChunk, type DossierOutcome } from './fan-out';
import { withTransaction } from '../store/transaction';
import { patchPrerequisites } from '../store/patch/prerequisites';
import { releaseGenerationLease, takeGenerationLease } from '../store/generations/lease';
import { takeRollbackClaimLock } from '../store/rollback/claim-lock';
import { takeClaimLock as takeBackupClaimLock } from '../store/backup/claim-lock';
import { rollbackRunByWorkflow } from '../store/rollback/run-by-workflow';
import { closeAbandonedPatchWork } from './abandoned-runs';
import { insertRollbackRun } from '../store/rollback/insert-run';
import { insertRollbackItems } from '../store/rollback/insert-items';
import { pendingRollbackPage } from '../store/rollback/pending-page';
import { endedRollbackCodes } from '../store/rollback/ended-codes';
import { rollbackItemToRestore } from '../store/rollback/item-to-restore';
import { lockRollbackItem } from '../store/rollback/lock-item';
import { rewindRegistryRow } from '../store/rollback/rewind-registry';
import { markRollbackRestored } from '../store/rollback/mark-restored';
import { failRollbackItem } from '../store/rollback/fail-item';
import { failPendingRollbackItems } from '../store/rollback/fail-pending-items';
import { rollbackItemCounts } from '../store/rollback/item-counts';
import { latestItemFailures } from '../store/restore/latest-item-failures';
import { rollbackRunFailures } from '../store/rollback/run-failures';
import { closeRollbackRun } from '../store/rollback/close-run';
import { releaseUsedRestorePointLeases } from '../store/rollback/release-used-leases';
import { restoredCodes } from '../store/rollback/restored-codes';
import { rollbackScopeProblem, scopeOf } from '../store/rollback/scope-problem';
import { rollbackRunState } from '../store/rollback/rollback-run-state';
import { patchRunRestorePoints } from '../store/rollback/patch-run-restore-points';

/**
 * Activities of the patch rollback (R-PI-11): the claim (R-PI-2, the patch run's own check), the selection
 * written once as pending items, chunks of dossiers on the fan-out engine (activities/fan-out.ts) and the
 * closing of the run. Each dossier is restored from its restore point with replace (archive/engine.ts: one
 * transaction drops and recreates it, data, treatments, dictionary, APATCH and level from the archive); its
 * rollback item turns ok and the patch run's item is marked rolled back IN that transaction, after the
 * registry row's own history (created, last backup) is put back: a dossier is restored exactly once.
 */

export interface RollbackClaimArgs {
  target: string;
  workflowId: string;
  dossiers?: string[];
  patchRun?: number;
  failedOnly?: boolean;
  retryOf?: number;
  windowWorkflowId?: string;
}

const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** A lease a rollback holds on the generation it restores: long enough for one dossier's restore. */
const LEASE_SECONDS = 6 * 3600;

/** The restore's transaction found the dossier already ended by another attempt: its transaction is rolled back, nothing changed. */
class AlreadyEnded extends Error {
  constructor(readonly status: string) {
    super(`already ${status}`);
  }
}

/** Problems of the archive or the dossier (not of the connection): the dossier fails, the others go on. */
function isDossierProblem(err: unknown): boolean {
  if (err instanceof ApplicationFailure && err.nonRetryable) return true;
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR';
}


export function createRollbackActivities({ pools, config, temporal }: ActivityDeps) {
  return {
    /**
     * R-PI-2 as a patch run checks it (store/patch/prerequisites.ts) and no other rollback run: the run row
     * is inserted under an advisory lock and the one-running index, so two starts cannot both pass.
     */
    async claimRollbackRun(raw: RollbackClaimArgs): Promise<{ runId: number; ok: boolean; prerequisites: Prerequisite[] }> {
      const { workflowId, ...rest } = raw;
      const a = { ...parseInput(rollbackInputSchema, rest, (m) => refuse(RollbackFailure.InvalidInput, m)), workflowId };
      const pool = pools.get(a.target);
      return withTransaction(pool, async (c) => {
        // the backup batch's claim lock first (every claim takes it first): a batch and a rollback claimed at the same moment cannot both pass R-PI-2
        await takeBackupClaimLock(c);
        await takeRollbackClaimLock(c);
        const mine = await rollbackRunByWorkflow(c, a.workflowId);
        if (mine) return { runId: mine.id, ok: mine.prerequisites.every((q) => q.ok), prerequisites: mine.prerequisites };
        if (temporal) await closeAbandonedPatchWork(c, temporal);
        // a run id that names nothing is refused here, not by the ledger's foreign keys (an error retried until the workflow times out)
        if (a.retryOf !== undefined && !(await rollbackRunState(c, a.retryOf))) throw refuse(RollbackFailure.InvalidInput, `no rollback run ${a.retryOf} on ${a.target}; nothing was changed`);
        if (a.patchRun !== undefined && !(await patchRunRestorePoints(c, a.patchRun)).exists) throw refuse(RollbackFailure.InvalidInput, `no patch run ${a.patchRun} on ${a.target}; nothing was changed`);
        // R-PI-2 with no other rollback among them
        const prerequisites = await patchPrerequisites(c, a.target, a.windowWorkflowId);
        const failed = prerequisites.filter((q) => !q.ok);
        const runId = await insertRollbackRun(c, {
          workflowId: a.workflowId,
          patchRun: a.patchRun,
          failedOnly: a.failedOnly ?? false,
          dossiers: a.dossiers,
          retryOf: a.retryOf,
          windowWorkflowId: a.windowWorkflowId,
          prerequisites,
          error: failed.length ? `prerequisites not met: ${failed.map((p) => p.detail).join('; ')}` : null,
        });
        return { runId, ok: failed.length === 0, prerequisites };
      });
    },

    /** The run's dossiers and their restore points, written once as pending items; a scope with nothing to roll back is refused (nothing changed). */
    async selectRollbackDossiers(args: { target: string; runId: number; dossiers?: string[]; patchRun?: number; failedOnly?: boolean; retryOf?: number }): Promise<{ total: number; scope: string }> {
      const pool = pools.get(args.target);
      const scope = scopeOf(args);
      const total = await withTransaction(pool, async (c) => {
        // a retried call finds the items it wrote
        const written = (await rollbackItemCounts(c, args.runId)).total;
        if (written) return written;
        const problem = await rollbackScopeProblem(c, args.target, scope);
        if (problem) throw refuse(problem.unknown ? RollbackFailure.InvalidInput : RollbackFailure.NoRestorePoint, problem.message);
        return insertRollbackItems(c, args.runId, scope);
      });
      if (!total) throw refuse(RollbackFailure.NoRestorePoint, `nothing to roll back for ${rollbackScopeText(args)} on ${args.target}; nothing was changed`);
      return { total, scope: rollbackScopeText(args) };
    },

    /** One page of the run's pending dossiers after the cursor (a local activity of the fan-out engine). */
    async selectRollbackPage(args: { target: string; runId: number; cursor: string; limit: number }): Promise<FanOutPage<string>> {
      const codes = await pendingRollbackPage(pools.get(args.target), args.runId, args.cursor, args.limit);
      return { codes, cursor: codes.length ? codes[codes.length - 1]! : args.cursor, exhausted: codes.length < args.limit };
    },

    /** A chunk of dossiers restored one after another (fan-out engine: a heartbeat per dossier, a retry resumes from the ledger). */
    async rollbackChunk(args: { target: string; runId: number; codes: string[] }): Promise<FanOutChunkResult & { retryCommand?: string }> {
      const pool = pools.get(args.target);
      const r = await runChunk({
        codes: args.codes,
        concurrency: 1,
        alreadyDone: (codes) => endedRollbackCodes(pool, args.runId, codes),
        perDossier: (code, signal) => rollbackDossier(pool, { target: args.target, runId: args.runId, code, signal }),
      });
      const { stopped: _stopped, ...result } = r;
      return { ...result, ...(result.failuresTotal ? { retryCommand: rollbackRetryCommand(args.target, args.runId) } : {}) };
    },

    /** What the ledger says of the run now, and the dossiers this worker restores for it (the details' refresh; a local activity). */
    async rollbackLedgerView(args: { target: string; runId: number; workflowId: string }): Promise<FanOutLedgerView> {
      const pool = pools.get(args.target);
      return ledgerView(await rollbackItemCounts(pool, args.runId), await latestItemFailures(pool, 'rollback', args.runId, DETAILS_FAILURES_SHOWN), args.workflowId);
    },

    /** Closes the run: its state from the items (or the given failure; dossiers never started fail with it). */
    async finishRollbackRun(args: { target: string; runId: number; error?: string; notes: string[] }): Promise<{
      state: RollbackRunState;
      total: number;
      done: number;
      restored: number;
      restoredCodes: string[];
      failures: DossierFailure[];
      failuresTotal: number;
      retryCommand?: string;
    }> {
      const pool = pools.get(args.target);
      if (args.error) await failPendingRollbackItems(pool, args.runId, `not rolled back: the run ended (${oneLine(args.error, 500)}) before this dossier`);
      const failed = await rollbackRunFailures(pool, args.runId, FAILURES_CAP);
      const counts = await rollbackItemCounts(pool, args.runId);
      const state: RollbackRunState = args.error ? 'failed' : failed.total ? 'partial' : 'completed';
      await releaseUsedRestorePointLeases(pool, args.runId);
      await closeRollbackRun(pool, args.runId, state, args.error ?? null, args.notes);
      return {
        state,
        total: counts.total,
        done: counts.done,
        restored: counts.done - counts.failed,
        restoredCodes: await restoredCodes(pool, args.runId, 200),
        failures: failed.failures.map((f) => ({ code: f.code, status: 'failed', error: oneLine(f.error) })),
        failuresTotal: failed.total,
        ...(failed.total ? { retryCommand: rollbackRetryCommand(args.target, args.runId) } : {}),
      };
    },
  };

  /**
   * One dossier back to its restore point. The outcome is recorded before it resolves: 'ok' in the
   * restore's own transaction, 'failed' (nothing changed in the dossier) for a problem of the dossier or
   * its archive; a transient problem is thrown (the chunk is retried and resumes from the ledger).
   */
  async function rollbackDossier(pool: pg.Pool, a: { target: string; runId: number; code: string; signal?: AbortSignal }): Promise<DossierOutcome | undefined> {
    const item = await rollbackItemToRestore(pool, a.runId, a.code);
    if (!item) throw new Error(`rollback run ${a.runId} has no item for ${a.code}`);
    if (item.run_state !== 'running') throw refuse(RollbackFailure.RunClosed, `rollback run ${a.runId} was closed as ${item.run_state} while its workflow still worked on it`);
    if (item.status !== 'pending') return { status: item.status };
    const level = item.patch_level;
    const fail = async (type: string, message: string): Promise<DossierOutcome> => {
      await failRollbackItem(pool, a.runId, a.code, type, message, level);
      return { status: 'failed', error: message };
    };
    const generation = Number(item.generation_id);
    if (!item.schema_name || item.created_at === null) return fail(FailureType.UnknownDossier, `dossier ${a.code} is no longer registered: restore it by hand (nightshift backup restore ${item.file} --as ${a.code})`);
    if (item.generation_code.toLowerCase() !== a.code.toLowerCase()) return fail(RollbackFailure.NoRestorePoint, `restore point ${generation} is an archive of ${item.generation_code}, not of ${a.code}`);
    if (item.generation_deleted) return fail(RollbackFailure.NoRestorePoint, `restore point ${generation} of ${a.code} was pruned: nothing to roll back to`);
    if (item.verify_state === 'corrupt' || item.verify_state === 'missing') return fail(RollbackFailure.NoRestorePoint, `restore point ${generation} of ${a.code} is ${item.verify_state} (R-BK-13): not restored`);
    const holder = `rollback:${a.runId}`;
    if (!(await takeGenerationLease(pool, generation, holder, LEASE_SECONDS))) return fail(RollbackFailure.NoRestorePoint, `restore point ${generation} of ${a.code} was pruned: nothing to roll back to`);
    try {
      await restoreDossierArchive({
        pool,
        target: a.target,
        file: item.file,
        as: a.code,
        // the restore point's own archive (a file swapped by hand is refused before anything changes)
        expectCode: item.generation_code,
        replace: true,
        documentsDir: config.documentsDir,
        keys: loadBackupKeyring(config.backupKeys),
        signal: a.signal,
        beforeCommit: async (tx, header) => {
          const lock = await lockRollbackItem(tx, a.runId, a.code);
          if (!lock || lock.runState !== 'running') throw refuse(RollbackFailure.RunClosed, `rollback run ${a.runId} was closed while ${a.code} was being restored`);
          if (lock.status !== 'pending') throw new AlreadyEnded(lock.status);
          await rewindRegistryRow(tx, a.code, item.created_at!, item.last_backup_at, item.backup_seq);
          await markRollbackRestored(tx, a.runId, a.code, level, header.patchLevel);
        },
      });
      // the restore point is used: the patch run's lease on it may go (retention decides from here)
      await releaseGenerationLease(pool, generation, `restore-point:${item.patch_run}`).catch(() => {});
      return { status: 'ok' };
    } catch (err) {
      if (err instanceof AlreadyEnded) return { status: err.status };
      if (failureTypeOf(err) === RollbackFailure.RunClosed) throw err;
      if (isDossierProblem(err)) return fail(failureTypeOf(err) ?? 'RestoreFailed', `restore point ${generation} not restored: ${oneLine(err instanceof Error ? err.message : String(err), 500)}`);
      throw err;
    } finally {
      await releaseGenerationLease(pool, generation, holder).catch(() => {});
    }
  }
}

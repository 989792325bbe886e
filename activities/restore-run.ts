import { STORAGE_DOWN_PAUSE_MS } from './offsite';
import type pg from 'pg';
import { ApplicationFailure } from '@temporalio/common';
import { caseTwinMessage, schemaNameFor } from '../domain/dossier';
import { FailureType, failureTypeOf } from '../domain/failures';
import { foundBy, type Generation, offsiteCopyOf } from '../domain/generation';
import { operatorDateTime } from '../domain/retention';
import { restoreRunInputSchema } from '../domain/restore-run-input';
import { DETAILS_FAILURES_SHOWN, FAILURES_CAP, oneLine, type DossierFailure, type FanOutChunkResult, type FanOutLedgerView } from '../domain/run-details';
import { parseInput } from '../domain/validation';
import type { FanOutPage } from '../workflows/fan-out';
import type { Prerequisite } from '../workflows/fan-out.api';
import { RestoreRunFailure, restoreRetryCommand, type RestoreRunInput, type RestoreRunState } from '../workflows/backup-restore-run.api';
import type { ActivityDeps } from './deps';
import { fileIsThere, generationRestorer, localFileDamageOf } from './backup';
import { closeAbandonedPatchWork } from './abandoned-runs';
import { restoreAfterRun } from '../store/restore/after-run';
import { restoreAfterRunNotes } from '../domain/restore-run';
import { ledgerView, runChunk, type DossierOutcome } from './fan-out';
import { withTransaction } from '../store/transaction';
import { takeClaimLock as takeBackupClaimLock } from '../store/backup/claim-lock';
import { runningRuns as runningBackupRuns } from '../store/backup/running-runs';
import { closeAbandonedRun as closeAbandonedBackupRun } from '../store/backup/close-abandoned-run';
import { codeInAnyCase } from '../store/dossiers/code-in-any-case';
import { schemaExists } from '../store/catalog/schema-exists';
import { chooseRestoreGeneration, olderRestoreCandidates, type OlderRestoreCandidate, type RestoreChoiceSource } from '../store/generations/restore-choice';
import { takeRestoreClaimLock } from '../store/restore/claim-lock';
import { restoreRunByWorkflow } from '../store/restore/run-by-workflow';
import { restorePrerequisites } from '../store/restore/prerequisites';
import { insertRestoreRun } from '../store/restore/insert-run';
import { insertRestoreItems, type RestoreScope } from '../store/restore/insert-items';
import { pendingRestorePage } from '../store/restore/pending-page';
import { endedRestoreCodes } from '../store/restore/ended-codes';
import { restoreItem } from '../store/restore/item-to-restore';
import { lockRestoreItem } from '../store/restore/lock-item';
import { endRestoreItem } from '../store/restore/end-item';
import { failPendingRestoreItems } from '../store/restore/fail-pending-items';
import { restoreItemCounts } from '../store/restore/item-counts';
import { latestItemFailures } from '../store/restore/latest-item-failures';
import { restoreRunFailures } from '../store/restore/run-failures';
import { restoreCodesByStatus } from '../store/restore/codes-by-status';
import { closeRestoreRun } from '../store/restore/close-run';
import { restoreRunView } from '../store/restore/run-view';
import { type ReadFromCopy, restoreItemsReadFromCopy } from '../store/restore/read-from-copy';
import { mayStillRun, workflowStatus } from '../workers/resources';

/**
 * Activities of the bulk restore run (`backup restore --all|--codes --at DATE`): the claim (nothing else working on the
 * target), the selection written once as pending items, chunks of dossiers on the fan-out engine (activities/fan-out.ts)
 * and the closing of the run. Each dossier's generation is the one `backup restore CODE --at` takes
 * (store/generations/restore-choice.ts), read under its lease as the single restore reads it (activities/backup.ts
 * generationRestorer); its ledger row turns ok IN the restore's transaction: a dossier is restored exactly once.
 */

const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/** The restore's transaction found the dossier already ended by another attempt: rolled back, nothing changed. */
class AlreadyEnded extends Error {
  constructor(readonly status: string) {
    super(`already ${status}`);
  }
}

/** The off-site storage away while a run reads a copy: one dossier tries this many times in place (a pause growing by OFFSITE_RETRY_MS). */
const OFFSITE_TRIES = 3;
const OFFSITE_RETRY_MS = 2_000;


/**
 * Within one chunk of a restore run: since when the off-site storage has not answered, and until when it is not tried.
 * Once a dossier gave up on it, the next ones of the chunk that need a copy fail at once for STORAGE_DOWN_PAUSE_MS (the
 * batch's copies' pause, activities/offsite.ts), then one try each tells whether it is back. Without it, a storage that
 * accepts connections and never answers cost every dossier its 30 s of silence (drill G, session 39).
 */
interface StorageHealth {
  down?: { since: number; until: number; error: string };
}

/** Problems of the archive or the dossier (not of the connection): the dossier fails, the others go on. */
function isDossierProblem(err: unknown): boolean {
  if (err instanceof ApplicationFailure && err.nonRetryable) return true;
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR';
}

/**
 * Failures of a generation whose archive cannot be read where it should be (its file not on this worker, and no copy,
 * or its copy gone or damaged in the storage): with its file absent, the run falls back to an older generation.
 */
function isArchiveAway(err: unknown): boolean {
  const type = failureTypeOf(err);
  return type === FailureType.InvalidInput || type === FailureType.OffsiteSourceMissing || type === FailureType.ArchiveInvalid || (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The next older generation to read, those passed over (found corrupt or missing, no copy to read) named in `said`. */
function takeReadable(older: OlderRestoreCandidate[], said: string[], of: (g: Generation) => string): { g: Generation; from: RestoreChoiceSource } | undefined {
  for (let next = older.shift(); next; next = older.shift()) {
    if (next.from !== undefined) return { g: next.g, from: next.from };
    said.push(`${of(next.g)}: passed over, ${next.passedOver}`);
  }
  return undefined;
}

/** Why a restored dossier's generation was read from its off-site copy (said at the run's end). */
const NOT_ON_WORKER = 'its file not on the worker';
const DAMAGED_HERE = 'its file found damaged by this restore, recorded corrupt';

/** Why the run reads `a` from its copy when it knows it before reading (else the restorer finds the file not on the worker). */
function copyReasonOf(a: { g: Generation; from: RestoreChoiceSource }, place: 'local' | 'offsite' | undefined): string | undefined {
  if (a.from !== 'offsite') return undefined;
  if (place === 'offsite') return 'asked with --from offsite';
  return `its file found ${a.g.verifyState} ${foundBy(a.g)}`;
}

/**
 * R-BK-14: the run's note of the dossiers restored from their generation's off-site copy rather than its local file,
 * grouped by why (the first ones by code, the rest counted), with the buckets read: where the data came from.
 */
export function readFromCopyNotes(r: { total: number; shown: ReadFromCopy[] }): string[] {
  if (!r.total) return [];
  const byWhy = new Map<string, string[]>();
  for (const x of r.shown) byWhy.set(x.why, [...(byWhy.get(x.why) ?? []), x.code]);
  const each = [...byWhy].map(([why, codes]) => `${codes.join(' ')}${why ? ` (${why})` : ''}`);
  const buckets = [...new Set(r.shown.map((x) => x.copy.slice(0, Math.max(0, x.copy.indexOf('/')))))].filter(Boolean);
  const more = r.total > r.shown.length ? `; and ${r.total - r.shown.length} more` : '';
  return [
    `${r.total} dossier(s) restored from the off-site copy of their generation, not from its local file: ${each.join('; ')}${more}` +
      `${buckets.length ? ` (bucket ${buckets.join(', ')})` : ''}; 'nightshift backup list CODE' shows each generation's state`,
  ];
}

/** What the workflow's close gets back: the ledger's last word. */
export interface RestoreRunClosed {
  state: RestoreRunState;
  total: number;
  done: number;
  restored: number;
  kept: number;
  restoredCodes: string[];
  keptCodes: string[];
  failures: DossierFailure[];
  failuresTotal: number;
  retryCommand?: string;
  /** what the operator must know beyond the counts (domain/restore-run.ts restoreAfterRunNotes) */
  notes: string[];
}

export type RestoreClaimArgs = Omit<RestoreRunInput, 'state' | 'tuning'> & { workflowId: string };

/** Codes a result names (the rest counted). */
const CODES_SHOWN = 200;
/** Codes a note of the run's end names (the rest counted). */
const NOTES_CODES_SHOWN = 20;

export function createRestoreRunActivities({ pools, config, temporal }: ActivityDeps) {
  const restoreGeneration = generationRestorer({ config, pools });
  const zone = config.operatorTimeZone;

  return {
    /**
     * No backup batch, patch run, rollback or other restore run on the target: the run row is inserted under the backup
     * batch's claim lock (every claim takes it first) and its own, and the one-running index, so two starts cannot both pass.
     */
    async claimRestoreRun(raw: RestoreClaimArgs): Promise<{ runId: number; ok: boolean; prerequisites: Prerequisite[] }> {
      const { workflowId, ...rest } = raw;
      const a = parseInput(restoreRunInputSchema, rest, (m) => refuse(RestoreRunFailure.InvalidInput, m));
      const pool = pools.get(a.target);
      return withTransaction(pool, async (c) => {
        await takeBackupClaimLock(c);
        await takeRestoreClaimLock(c);
        const mine = await restoreRunByWorkflow(c, workflowId);
        if (mine) return { runId: mine.id, ok: mine.prerequisites.every((q) => q.ok), prerequisites: mine.prerequisites };
        if (temporal) {
          // runs whose workflow Temporal knows closed (terminated) would refuse every restore forever (restore runs among them)
          await closeAbandonedPatchWork(c, temporal);
          for (const r of await runningBackupRuns(c)) {
            const status = await workflowStatus(temporal, r.workflow_id);
            if (!mayStillRun(status)) await closeAbandonedBackupRun(c, String(r.id), status);
          }
        }
        // a run id that names nothing is refused here, not by the ledger's foreign keys
        if (a.retryOf !== undefined && !(await restoreRunView(c, a.retryOf))) throw refuse(RestoreRunFailure.InvalidInput, `no restore run ${a.retryOf} on ${a.target}; nothing was changed`);
        const prerequisites = await restorePrerequisites(c, a.target);
        const failed = prerequisites.filter((q) => !q.ok);
        const runId = await insertRestoreRun(c, {
          workflowId,
          at: new Date(a.at),
          kind: a.kind ?? null,
          replace: a.replace,
          source: a.from,
          codes: a.codes,
          retryOf: a.retryOf,
          prerequisites,
          error: failed.length ? `refused: ${failed.map((p) => p.detail).join('; ')}` : null,
        });
        return { runId, ok: failed.length === 0, prerequisites };
      });
    },

    /** The run's dossiers, written once as pending items; a scope with nothing in it is refused (nothing changed). */
    async selectRestoreDossiers(args: { target: string; runId: number; at: string; kind?: string; codes?: string[]; all?: true; retryOf?: number }): Promise<{ total: number; atText: string }> {
      const pool = pools.get(args.target);
      const at = new Date(args.at);
      const scope: RestoreScope =
        args.retryOf !== undefined ? { kind: 'retry', retryOf: args.retryOf } : args.all ? { kind: 'all', at, generationKind: args.kind ?? null } : { kind: 'codes', codes: args.codes ?? [] };
      // a retried call finds the items it wrote
      const total = await withTransaction(pool, async (c) => (await restoreItemCounts(c, args.runId)).total || insertRestoreItems(c, args.runId, scope));
      if (!total) {
        const why =
          scope.kind === 'retry'
            ? `restore run ${args.retryOf} has no failed dossier left (later runs restored or kept them): nothing to restore again`
            : `no dossier has a kept ${args.kind ? `${args.kind} ` : ''}generation at or before ${operatorDateTime(at, zone)} (${zone})`;
        throw refuse(RestoreRunFailure.InvalidInput, `${why} on ${args.target}; nothing was changed`);
      }
      return { total, atText: `${operatorDateTime(at, zone)} (${zone})` };
    },

    /** One page of the run's pending dossiers after the cursor (a local activity of the fan-out engine). */
    async selectRestorePage(args: { target: string; runId: number; cursor: string; limit: number }): Promise<FanOutPage<string>> {
      const codes = await pendingRestorePage(pools.get(args.target), args.runId, args.cursor, args.limit);
      return { codes, cursor: codes.length ? codes[codes.length - 1]! : args.cursor, exhausted: codes.length < args.limit };
    },

    /** A chunk of dossiers restored one after another (fan-out engine: a heartbeat per dossier, a retry resumes from the ledger). */
    async restoreRunChunk(args: { target: string; runId: number; codes: string[] }): Promise<FanOutChunkResult> {
      const pool = pools.get(args.target);
      // the off-site storage found away by a dossier of this chunk: the next ones that need a copy are not tried again in place
      const storage: StorageHealth = {};
      const r = await runChunk({
        codes: args.codes,
        concurrency: 1,
        okStatuses: ['kept'],
        alreadyDone: (codes) => endedRestoreCodes(pool, args.runId, codes),
        perDossier: (code, signal) => restoreOne(pool, { target: args.target, runId: args.runId, code, signal, storage }),
      });
      const { stopped: _stopped, ...result } = r;
      return result;
    },

    /** What the ledger says of the run now, and the dossiers this worker restores for it (the details' refresh; a local activity). */
    async restoreRunLedgerView(args: { target: string; runId: number; workflowId: string }): Promise<FanOutLedgerView & { restored: number; kept: number }> {
      const pool = pools.get(args.target);
      const counts = await restoreItemCounts(pool, args.runId);
      return { ...ledgerView(counts, await latestItemFailures(pool, 'restore', args.runId, DETAILS_FAILURES_SHOWN), args.workflowId), restored: counts.restored, kept: counts.kept };
    },

    /** Closes the run: its state from the items (or the given failure; dossiers never started fail with it). */
    async finishRestoreRun(args: { target: string; runId: number; error?: string; notes: string[] }): Promise<RestoreRunClosed> {
      const pool = pools.get(args.target);
      if (args.error) await failPendingRestoreItems(pool, args.runId, `not restored: the run ended (${oneLine(args.error, 500)}) before this dossier`);
      const failed = await restoreRunFailures(pool, args.runId, FAILURES_CAP);
      const counts = await restoreItemCounts(pool, args.runId);
      const state: RestoreRunState = args.error ? 'failed' : failed.total ? 'partial' : 'completed';
      // what the operator must know beyond the counts (drill D2): older generations used, levels, dossiers still missing
      const run = await restoreRunView(pool, args.runId);
      const after = await restoreAfterRun(pool, args.runId, { shown: NOTES_CODES_SHOWN, wholeCatalog: run?.requested === null && run?.retryOf === null });
      const fromCopy = await restoreItemsReadFromCopy(pool, args.runId, NOTES_CODES_SHOWN);
      const notes = [...restoreAfterRunNotes(after, { target: args.target, zone }), ...readFromCopyNotes(fromCopy)];
      await closeRestoreRun(pool, args.runId, state, args.error ?? null, [...args.notes, ...notes]);
      return {
        state,
        notes,
        total: counts.total,
        done: counts.done,
        restored: counts.restored,
        kept: counts.kept,
        restoredCodes: await restoreCodesByStatus(pool, args.runId, 'ok', CODES_SHOWN),
        keptCodes: await restoreCodesByStatus(pool, args.runId, 'kept', CODES_SHOWN),
        failures: failed.failures.map((f) => ({ code: f.code, status: 'failed', error: oneLine(f.error, 500) })),
        failuresTotal: failed.total,
        ...(failed.total ? { retryCommand: restoreRetryCommand(args.target, args.runId) } : {}),
      };
    },
  };

  /**
   * One dossier: kept when it is there and the run does not replace, else its generation at or before the run's instant
   * restored. The outcome is recorded before it resolves: 'ok' in the restore's own transaction, 'kept' or 'failed'
   * (nothing changed in the dossier) in a statement of their own; a transient problem is thrown (the chunk is retried and
   * resumes from the ledger).
   */
  async function restoreOne(pool: pg.Pool, a: { target: string; runId: number; code: string; signal?: AbortSignal; storage?: StorageHealth }): Promise<DossierOutcome | undefined> {
    const item = await restoreItem(pool, a.runId, a.code);
    if (!item) throw new Error(`restore run ${a.runId} has no item for ${a.code}`);
    if (item.runState !== 'running') throw refuse(RestoreRunFailure.RunClosed, `restore run ${a.runId} was closed as ${item.runState} while its workflow still worked on it`);
    if (item.status !== 'pending') return { status: item.status, superseded: true };
    const end = async (status: 'kept' | 'failed', failureType?: string, error?: string): Promise<DossierOutcome> => {
      const ended = await endRestoreItem(pool, a.runId, a.code, { status, failureType, error });
      return ended ? { status, error } : { status, superseded: true };
    };
    const registered = await codeInAnyCase(pool, a.code);
    if (registered !== undefined && registered !== a.code) return end('failed', 'DossierExists', caseTwinMessage(registered, a.code, 'restored'));
    const there = await schemaExists(pool, schemaNameFor(a.code));
    if (there && !item.replace) return end('kept');
    const place = item.source === 'auto' ? undefined : item.source;
    const choice = await chooseRestoreGeneration(pool, a.code, item.at, { kind: item.kind, place, zone });
    if (choice.none) {
      return end('failed', 'NoGeneration', `no kept ${item.kind ? `${item.kind} ` : ''}generation of dossier ${a.code} at or before ${operatorDateTime(item.at, zone)} (${zone}); see 'nightshift backup list ${a.code}'`);
    }
    if (choice.problem !== undefined) return end('failed', 'NoGeneration', choice.problem);
    // the chosen generation first; when its archive is not on this worker and it has no copy to read (deleted by hand,
    // not yet found by a verification), the next older one at or before the date, as one found corrupt is passed over
    let attempt: { g: Generation; from: RestoreChoiceSource } = choice;
    let older: OlderRestoreCandidate[] | undefined;
    // the generations not read, newest first (the first one's failure said first)
    const unread: string[] = [];
    let first = '';
    // the generation whose file this restore found damaged (recorded corrupt), then read from its copy: what its file said
    let damaged: { id: number; why: string } | undefined;
    let storageTries = 0;
    // when this dossier's first try that the storage failed began: the outage is dated from it, not from the giving up
    let failingSince: number | undefined;
    for (;;) {
      const g = attempt.g;
      // whether this try read (or began to read) the off-site copy: its outcome is news of the storage
      let copyRead = false;
      const tryStartedAt = Date.now();
      try {
        await restoreGeneration({
          target: a.target,
          generationId: g.id,
          file: g.file,
          // a registered dossier whose schema is gone is put back over its row (what is lost is the schema, not a choice)
          replace: item.replace || registered !== undefined,
          from: attempt.from,
          signal: a.signal,
          beforeCopy: () => {
            const down = a.storage?.down;
            copyRead = !(down && Date.now() < down.until);
            if (down && !copyRead) {
              throw ApplicationFailure.create({
                type: FailureType.OffsiteUnavailable,
                nonRetryable: false,
                message: `its copy not tried: the off-site storage has been failing since ${operatorDateTime(new Date(down.since), zone)} (${zone}), last: ${oneLine(down.error, 300)}`,
              });
            }
          },
          beforeCommit: async (tx, _header, copy) => {
            const lock = await lockRestoreItem(tx, a.runId, a.code);
            if (!lock || lock.runState !== 'running') throw refuse(RestoreRunFailure.RunClosed, `restore run ${a.runId} was closed while ${a.code} was being restored`);
            if (lock.status !== 'pending') throw new AlreadyEnded(lock.status);
            // read from its off-site copy: recorded with the 'ok' (said at the run's end, finishRestoreRun), so both or neither
            const readFromCopy = copy && { copy: `${copy.bucket}/${copy.key}`, why: damaged?.id === g.id ? DAMAGED_HERE : (copyReasonOf(attempt, place) ?? NOT_ON_WORKER) };
            await endRestoreItem(tx, a.runId, a.code, { status: 'ok', generationId: g.id, ...(readFromCopy && { readFromCopy }) });
          },
        });
        // the storage answered: the dossiers after this one read their copies again at once
        if (copyRead && a.storage) a.storage.down = undefined;
        return { status: 'ok' };
      } catch (err) {
        if (err instanceof AlreadyEnded) return { status: err.status, superseded: true };
        if (failureTypeOf(err) === RestoreRunFailure.RunClosed) throw err;
        // the off-site storage away while this dossier's copy is read: tried again here a few times (a blip), then this
        // dossier fails with it and the run goes on with the others (drill S, session 39: the chunk was retried by
        // Temporal for 14 minutes on one dossier, the dossiers behind it never tried, then failed "before this dossier")
        if (failureTypeOf(err) === FailureType.OffsiteUnavailable) {
          a.storage ??= {};
          if (copyRead) failingSince ??= tryStartedAt;
          const message = oneLine(err instanceof Error ? err.message : String(err), 500);
          if (a.storage.down === undefined && ++storageTries < OFFSITE_TRIES) {
            await new Promise((r) => setTimeout(r, OFFSITE_RETRY_MS * storageTries));
            continue;
          }
          // a try that was made failed (not one the pause spared): the pause starts again from now
          if (copyRead) a.storage.down = { since: a.storage.down?.since ?? failingSince ?? tryStartedAt, until: Date.now() + STORAGE_DOWN_PAUSE_MS, error: message };
          return end('failed', FailureType.OffsiteUnavailable, `generation ${g.id} not restored: ${message}; once the storage answers: ${restoreRetryCommand(a.target, a.runId)}`);
        }
        if (!isDossierProblem(err)) throw err;
        let why = oneLine(err instanceof Error ? err.message : String(err), 500);
        const of = (x: Generation) => `${x.id} of ${operatorDateTime(x.snapshotAt, zone)}`;
        // its own file found damaged by this read and recorded corrupt (activities/backup.ts), as a verification records
        // it: then, as for one a verification found so, its copy is read (not with --from local), else an older generation
        const fileDamage = attempt.from !== 'offsite' ? localFileDamageOf(err) : undefined;
        const damagedNow = fileDamage?.generationId === g.id && fileDamage.recordedCorrupt;
        if (damagedNow && place === undefined && offsiteCopyOf(g)) {
          // (what its file said; the message's hint to read the copy is what follows)
          damaged = { id: g.id, why: oneLine(fileDamage.why, 500) };
          attempt = { g, from: 'offsite' };
          continue;
        }
        const copyOfDamaged = damaged?.id === g.id;
        if (copyOfDamaged) why = `${damaged!.why}; its off-site copy: ${why}`;
        if (place !== 'offsite' && isArchiveAway(err) && (damagedNow || copyOfDamaged || !(await fileIsThere(g.file)))) {
          if (!unread.length) first = why;
          unread.push(`${of(g)}: ${oneLine(why, 300)}`);
          older ??= await olderRestoreCandidates(pool, a.code, item.at, g.id, { kind: item.kind, place });
          const next = takeReadable(older, unread, of);
          if (next) {
            attempt = next;
            continue;
          }
          const until = `at or before ${operatorDateTime(item.at, zone)} (${zone})`;
          const tried = unread.length > 1 ? `nor could the older ones ${until} be read: generation ${unread.slice(1).join('; generation ')}` : `and no older generation is kept ${until}`;
          return end('failed', failureTypeOf(err) ?? 'RestoreFailed', `generation ${choice.g.id} not restored: ${first}; ${tried}; see 'nightshift backup list ${a.code}'`);
        }
        const newer = unread.length ? ` (the newer generation ${unread.join('; generation ')}) (${zone})` : '';
        return end('failed', failureTypeOf(err) ?? 'RestoreFailed', `generation ${g.id} not restored: ${why}${newer}`);
      }
    }
  }
}


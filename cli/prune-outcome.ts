import type pg from 'pg';
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo } from '@temporalio/client';
import { innermostMessage } from '../domain/failures';
import { operatorDateTime } from '../domain/retention';
import { oneLine } from '../domain/run-details';
import { sizeText } from '../domain/text';
import type { BackupRunRow } from '../store/backup/run-row';
import { runByRef } from '../store/backup/run-by-ref';
import { pruneTotals } from '../store/generations/prune-totals';
import {
  BACKUP_PRUNE_KIND,
  type BackupPruneProgress,
  type BackupPruneResult,
  backupPruneProgressQuery,
  batchPruneWorkflowId,
  filesLeftText,
  heldBackText,
  heldText,
  offsiteFinishedText,
  offsiteLeftText,
  pruneCommand,
  pruneResult,
  unrecordedText,
} from '../workflows/backup-prune.api';
// the client library is loaded only when a command connects (test/structure/cli-start.test.ts)
import { temporalClientLibrary } from '../workers/resources';
import { withTemporal } from './context';

/**
 * The outcome of a prune by retention (R-BK-11) as the CLI says it (drill R2, session 36: a failed nightly prune was seen in
 * the Web UI's list only; `backup run --wait` said "completed", `backup status` and `backup info` said nothing of it).
 * A prune keeps no ledger in the database: its outcome is its workflow's, read from Temporal. A batch's own prune is
 * found by its id, the one the batch gives it (`batchPruneWorkflowId`, never changed since prunes exist); the last prune
 * of a target, whoever started it, by the search attributes every prune carries, on this deployment's task queue.
 */

/** Temporal's status of the prune's workflow, or what stands for it: `none` (the run starts no prune), `not_started` (the batch has not reached its end), `not_found`, `unknown` (Temporal not reached). */
export type PruneStatus = 'running' | 'completed' | 'failed' | 'canceled' | 'terminated' | 'timed_out' | 'not_found' | 'not_started' | 'none' | 'unknown';

/** T: its times, Dates (`backup status`, `--json` ISO) or the operator's zone's text (`backup info`). */
export interface PruneOutcome<T = Date> {
  /** null: Temporal was not reached, so which prune is the last one is not known */
  workflowId: string | null;
  status: PruneStatus;
  /** the backup run whose batch started it */
  afterRun?: number;
  /** status none: why the run started no prune */
  reason?: string;
  startedAt?: T;
  closedAt?: T;
  /** its result: completed, or failed with BackupPrunePartial (state completed_with_errors, the dossiers' failures) */
  result?: BackupPruneResult;
  /** while it runs, when its worker answers */
  progress?: Pick<BackupPruneProgress, 'phase' | 'done' | 'total' | 'failed' | 'deleted' | 'dryRun'>;
  /** a failure that carries no result; Temporal's own error when it was not reached */
  error?: string;
  /** what the database records it deleted, when Temporal gives no result (terminated, or its history gone) */
  recorded?: { deleted: number; bytesFreed: number };
  /** the command that prunes again (the next prune finishes what one that did not finish marked) */
  next?: string;
}

/** One Temporal call: an answer within this, or "not reached". */
const CALL_MS = 5_000;
/** A running prune's progress, if its worker answers (it may have none now). */
const QUERY_MS = 3_000;
/** `backup run --wait` waits this long for the prune its batch started, then points to `backup status` (never for ever). */
export const PRUNE_GRACE_MS = 10_000;

const STATUS: Partial<Record<string, PruneStatus>> = {
  RUNNING: 'running',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'canceled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

/** A prune's workflow as Temporal gives it now: status, times, result or failure, progress. */
async function observe(client: Client, workflowId: string): Promise<PruneOutcome> {
  const { WorkflowNotFoundError } = temporalClientLibrary();
  const handle = client.workflow.getHandle(workflowId);
  let d: WorkflowExecutionDescription;
  try {
    d = await client.withDeadline(Date.now() + CALL_MS, () => handle.describe());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { workflowId, status: 'not_found' };
    return unreached(workflowId, err);
  }
  const status = STATUS[d.status.name] ?? 'running';
  const seen: PruneOutcome = { workflowId, status, startedAt: d.startTime, ...(d.closeTime && { closedAt: d.closeTime }) };
  if (status === 'running') {
    const p = await client.withDeadline(Date.now() + QUERY_MS, () => handle.query(backupPruneProgressQuery)).catch(() => undefined);
    return p ? { ...seen, progress: { phase: p.phase, done: p.done, total: p.total, failed: p.failed, deleted: p.deleted, dryRun: p.dryRun } } : seen;
  }
  if (status === 'completed' || status === 'failed') {
    // a prune that failed dossiers fails its workflow (BackupPrunePartial) with its result in the failure's details
    try {
      return { ...seen, result: await client.withDeadline(Date.now() + CALL_MS, () => pruneResult(handle.result())) };
    } catch (err) {
      return { ...seen, error: oneLine(innermostMessage(err), 1000) };
    }
  }
  return seen;
}

/** The prune the batch of `run` started at its end (or why there is none yet), as Temporal says it; the database for what Temporal does not say. */
export async function batchPruneOutcome(pool: pg.Pool, run: BackupRunRow, target: string, client?: Client): Promise<PruneOutcome> {
  const workflowId = batchPruneWorkflowId(run.workflow_id);
  // a run claimed before generations were kept starts no prune
  if (!run.settings.generationsRoot) return { workflowId, status: 'none', reason: 'it was claimed before generations were kept' };
  if (run.state === 'running') return { workflowId, status: 'not_started' };
  const look = async (c: Client): Promise<PruneOutcome> => {
    const o = await observe(c, workflowId);
    if (o.status !== 'not_found') return o;
    const batch = await batchStatus(c, run.workflow_id);
    // its row is closed a moment before its workflow starts the prune
    if (batch === 'RUNNING') return { workflowId, status: 'not_started' };
    // terminated by hand (its run closed as abandoned), or timed out: it never reached its end
    if (batch === 'TERMINATED' || batch === 'TIMED_OUT') return { workflowId, status: 'none', reason: `its workflow was ${batch.toLowerCase().replace('_', ' ')} before its end` };
    return o;
  };
  const seen = client ? await look(client) : await withTemporal(look).catch((err: unknown) => unreached(workflowId, err));
  return withDatabaseSide(pool, seen, target);
}

async function batchStatus(client: Client, batchWorkflowId: string): Promise<string | undefined> {
  const d = await client.withDeadline(Date.now() + CALL_MS, () => client.workflow.getHandle(batchWorkflowId).describe()).catch(() => undefined);
  return d?.status.name;
}

/**
 * `backup run --wait`: the prune of the batch that just ended, once it has ended or after `graceMs`, whichever is first
 * (a prune of 100,000 dossiers takes minutes: --wait does not wait for it, it points to `backup status`).
 */
export async function settledBatchPrune(pool: pg.Pool, client: Client, run: BackupRunRow, target: string, graceMs = PRUNE_GRACE_MS): Promise<PruneOutcome> {
  const end = Date.now() + graceMs;
  for (;;) {
    const o = await batchPruneOutcome(pool, run, target, client);
    if ((o.status !== 'running' && o.status !== 'not_started') || Date.now() >= end) return o;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * The last prune of the target, whoever started it (after a batch, or by hand): the newest of the prune workflows of this
 * target on this deployment's task queue (a dry run started as a workflow is passed over). null: none in Temporal.
 */
export async function lastPruneOutcome(pool: pg.Pool, target: string, taskQueue: string): Promise<PruneOutcome | null> {
  let seen: PruneOutcome | null;
  try {
    seen = await withTemporal(async (client) => {
      const query = `NightshiftKind = ${quoted(BACKUP_PRUNE_KIND)} AND NightshiftTarget = ${quoted(target)} AND TaskQueue = ${quoted(taskQueue)} AND ExecutionStatus != 'ContinuedAsNew'`;
      const listed: WorkflowExecutionInfo[] = [];
      await client.withDeadline(Date.now() + CALL_MS, async () => {
        for await (const w of client.workflow.list({ query, pageSize: LISTED })) {
          listed.push(w);
          if (listed.length >= LISTED) break;
        }
      });
      // the visibility store's own order is not the same on every store: the newest start here
      listed.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());
      for (const w of listed.slice(0, 5)) {
        const o = await observe(client, w.workflowId);
        if (o.status === 'unknown') return o;
        // a dry run started as a workflow deletes nothing: not the last prune
        if (!o.result?.dryRun && !o.progress?.dryRun) return o;
      }
      return null;
    });
  } catch (err) {
    seen = unreached(null, err);
  }
  if (!seen?.workflowId) return seen;
  // a batch's prune is named after its batch (backup/T/ts → backup-prune/T/ts)
  const batchId = seen.workflowId.startsWith('backup-prune/') ? `backup/${seen.workflowId.slice('backup-prune/'.length)}` : undefined;
  const run = batchId === undefined ? undefined : await runByRef(pool, batchId, 'workflow_id');
  return withDatabaseSide(pool, { ...seen, ...(run && { afterRun: Number(run.id) }) }, target);
}

/** How many prunes the listing reads: the newest is among them whatever the store's order. */
const LISTED = 20;

const quoted = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function unreached(workflowId: string | null, err: unknown): PruneOutcome {
  return { workflowId, status: 'unknown', error: oneLine(innermostMessage(err), 300) };
}

/** What the database adds: the generations a prune without a result marked (terminated, history gone), and the command to prune again. */
async function withDatabaseSide(pool: pg.Pool, o: PruneOutcome, target: string): Promise<PruneOutcome> {
  const unfinished = o.status === 'failed' || o.status === 'canceled' || o.status === 'terminated' || o.status === 'timed_out';
  const next = unfinished ? { next: pruneCommand(target) } : {};
  if (!o.workflowId || o.result || !(unfinished || o.status === 'not_found')) return { ...o, ...next };
  const t = await pruneTotals(pool, o.workflowId);
  return { ...o, ...(t.deleted > 0 && { recorded: { deleted: t.deleted, bytesFreed: t.bytesFreed } }), ...next };
}

/** What `backup prune --wait` prints of a prune's result (the first line: what it deleted and kept). */
export function pruneResultLines(r: BackupPruneResult): string[] {
  const kept = `kept ${r.kept}${heldText(r.leased, r.restorePoints)}`;
  const offsite = r.offsiteDeleted ? `, ${r.offsiteDeleted} off-site copies deleted` : '';
  // deleted: the generations this prune marked (R-BK-11); the copies it deleted for earlier prunes are theirs, said apart
  const what = r.dryRun ? `would delete ${r.deleted} generation(s), ${sizeText(r.bytesFreed)}` : `deleted ${r.deleted} generation(s), ${sizeText(r.bytesFreed)} freed${offsite}`;
  return [
    `${what}; ${kept}`,
    ...(r.offsiteLeft ? [offsiteLeftText(r.offsiteLeft)] : []),
    ...(r.offsiteFinished ? [offsiteFinishedText(r.offsiteFinished, r.finishedFor)] : []),
    ...(r.filesLeft ? [filesLeftText(r.filesLeft, sizeText(r.filesLeftBytes ?? 0))] : []),
    ...(r.unrecorded ? [unrecordedText(r.unrecorded, sizeText(r.unrecordedBytes ?? 0), r.dryRun)] : []),
    ...(r.heldBack ? heldBackText(r.heldBack, r.heldBackShown, r.replacingBad) : []),
    `${r.done} / ${r.total} dossier(s), ${r.failed} failed: ${r.state}`,
    ...r.failures.map((f) => `  ${f.code}: ${f.error}`),
    ...(r.failuresTotal > r.failures.length ? [`  and ${r.failuresTotal - r.failures.length} more`] : []),
    ...(r.state === 'completed' ? [] : [`the prune did not finish: once fixed, the next prune finishes what failed: ${pruneCommand(r.target, r.dryRun)}`]),
  ];
}

const STATUS_WORDS: Record<PruneStatus, string> = {
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  canceled: 'cancelled',
  terminated: 'terminated',
  timed_out: 'timed out',
  not_found: 'not found',
  not_started: 'not started yet',
  none: 'none',
  unknown: 'not known',
};

const recordedText = (r: PruneOutcome['recorded'] | undefined) => (r ? `; the database records ${r.deleted} generation(s) deleted by it (${sizeText(r.bytesFreed)})` : '');
const progressText = (p: NonNullable<PruneOutcome['progress']>) => `${p.done} / ${p.total} dossier(s), ${p.failed} failed, ${p.deleted} generation(s) deleted (${p.phase})`;
/**
 * A prune keeps no ledger in the database: without Temporal its outcome is not known (its deletions are: `pruned`). Not
 * reached: no connection (withTemporal's words); any other error is Temporal's own answer (a deadline, a visibility query
 * it refused: search attributes not registered).
 */
const notReached = (error: string | undefined) =>
  `(Temporal ${!error || error.startsWith('cannot connect to Temporal') ? 'not reached' : 'did not answer'}${error ? `: ${error}` : ''}); a prune's outcome is kept in Temporal only`;
const NOT_FOUND = "is not in Temporal: its start failed (the worker's log says 'prune after the backup run not started') or its history is past the namespace's retention";

/**
 * `backup status` and `backup run --wait`: the batch's prune, a first line after `prune: `, then the lines of its
 * result as `backup prune --wait` prints them (indented), the failures and the command that prunes again among them.
 */
export function pruneOutcomeLines(o: PruneOutcome, zone: string): string[] {
  const id = o.workflowId ?? 'the last prune';
  const at = (d: Date | undefined) => (d ? operatorDateTime(d, zone) : '?');
  const indented = (lines: string[]) => lines.map((l) => `  ${l}`);
  switch (o.status) {
    case 'none':
      return [`none: this run started no prune (${o.reason ?? 'none was started'})`];
    case 'not_started':
      return [`not started yet: the batch starts ${id} at its end`];
    case 'unknown':
      return [`${id}: ${notReached(o.error)}`];
    case 'not_found':
      return [`${id} ${NOT_FOUND}${recordedText(o.recorded)}`];
    case 'running':
      return [`${id} running since ${at(o.startedAt)}${o.progress ? `: ${progressText(o.progress)}` : ''}`];
    default: {
      const head = `${id} ${STATUS_WORDS[o.status]} at ${at(o.closedAt)}`;
      if (o.result) {
        const [first, ...rest] = pruneResultLines(o.result);
        return [`${head}: ${first}`, ...indented(rest)];
      }
      return [`${head}${o.error ? `: ${o.error}` : ''}${recordedText(o.recorded)}`, ...(o.next ? indented([`the prune did not finish: the next prune finishes what it marked: ${o.next}`]) : [])];
    }
  }
}

/** Failures named on the one line `backup info` gives a prune. */
const INFO_FAILURES_SHOWN = 3;

/** `backup info`: the last prune on one line (its failures named, the next command), or why it is not known. */
export function pruneOutcomeSummary<T>(o: PruneOutcome<T> | null, at: (t: T | undefined) => string): string {
  if (!o) return "none in Temporal (a prune runs after each batch: 'nightshift backup prune --dry-run' lists what it would delete now)";
  if (o.status === 'unknown') return notReached(o.error);
  const who = `${o.workflowId}${o.afterRun !== undefined ? ` after backup run ${o.afterRun}` : ''}, started ${at(o.startedAt)}`;
  if (o.status === 'running') return `${who}, running${o.progress ? `: ${progressText(o.progress)}` : ''}`;
  const head = `${who}, ${STATUS_WORDS[o.status]} at ${at(o.closedAt)}`;
  const r = o.result;
  // what it kept that the policy deletes, and why (drill R, session 39): its headline(s), without the generations
  const held = r?.heldBack ? `; ${heldBackText(r.heldBack, [], r.replacingBad).join('; ')}` : '';
  if (r && r.state === 'completed') return `${head}: deleted ${r.deleted} generation(s), ${sizeText(r.bytesFreed)} freed${held}`;
  if (r) {
    const named = r.failures.slice(0, INFO_FAILURES_SHOWN).map((f) => `${f.code}: ${oneLine(f.error, 200)}`);
    const more = r.failuresTotal > named.length ? `; and ${r.failuresTotal - named.length} more` : '';
    return `${head}: ${r.done} / ${r.total} dossier(s), ${r.failed} failed (${named.join('; ')}${more}); deleted ${r.deleted} generation(s), ${sizeText(r.bytesFreed)} freed${held}; next: ${pruneCommand(r.target)}`;
  }
  return `${head}${o.error ? `: ${oneLine(o.error, 300)}` : ''}${recordedText(o.recorded)}${o.next ? `; next: ${o.next}` : ''}`;
}

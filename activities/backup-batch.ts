import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { z } from 'zod';
import { destinationSegments } from '../domain/backup';
import {
  BACKUP_ALREADY_RUNNING,
  DESTINATION_ERRNOS,
  type DestinationErrno,
  FAILED_LIST_FILE_NAME,
  IN_USE_ERROR_TEXT,
  type ItemStatus,
  MAIL_BODY,
  REPORT_ENCODING,
  REPORT_EOL,
  REPORT_FOLDER,
  type SelectionCursor,
  copyStatusesFor,
  destinationStopText,
  firstCursor,
  itemErrorText,
  localDateTime,
  mailSubject,
  nextPhase,
  notDoneErrorText,
  reportFileName,
  reportLine,
  reportSummaryLines,
  runState,
} from '../domain/backup-batch';
import { dossierCodeSchema } from '../domain/dossier';
import { backupBatchInputSchema } from '../domain/backup-batch-input';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { FailureType, failureTypeOf, permanentFailure } from '../domain/failures';
import type { BackupBatchInput, BackupRunState, BatchDossierSettings } from '../workflows/backup-batch.api';
import { backupDossierArchive } from '../archive/engine';
import { commitFile, createPrivateFile } from '../archive/writer';
import { workflowStatus } from '../workers/resources';
import type { ActivityDeps } from './deps';
import { documentsFolder } from './registry';
import { closeAbandonedRun } from '../store/backup/close-abandoned-run';

/**
 * The backup batch of modified dossiers (R-BK-1 .. R-BK-9) over the single-dossier engine: the run
 * ledger (claim, selection pages, one row per dossier), chunks of dossiers backed up with a small
 * concurrency, the report streamed from the ledger, and the report mail.
 */

/** Stored with the run: what the selection and the report need, fixed at the claim. */
interface RunSettings extends BatchDossierSettings {
  copyStatuses: ('original' | 'copy')[];
  modifiedOnly: boolean;
  reportFolder: string;
  reportRecipients: string[];
}

interface RunRow {
  id: string;
  workflow_id: string;
  kind: 'run' | 'retry';
  retry_of: string | null;
  previous_run: string | null;
  state: BackupRunState;
  settings: RunSettings;
  only_codes: string[] | null;
  started_at: Date;
  finished_at: Date | null;
  report_path: string | null;
  note: string | null;
  stop_reason: string | null;
  total: number;
  ok: number;
  failed: number;
  mail_state: string;
}

export interface ClaimResult {
  runId: number;
  settings: BatchDossierSettings;
  cursor: SelectionCursor;
  selected: number;
  previousRun: number | null;
}

export interface ChunkInput {
  target: string;
  runId: number;
  codes: string[];
  settings: BatchDossierSettings;
  concurrency: number;
  timeBudgetMs: number;
}

export interface ChunkResult {
  ok: number;
  inUse: number;
  failed: number;
  /** already in the ledger (a resumed chunk) */
  skipped: number;
  /** not started within the time budget: the workflow hands them to a new chunk */
  remaining: string[];
}

export interface FinishResult {
  state: Exclude<BackupRunState, 'running'>;
  total: number;
  ok: number;
  failed: number;
  reportPath: string | null;
  mail: boolean;
}

/** Transient per-dossier errors (a dropped connection) get this many tries inside the chunk. */
const DOSSIER_ATTEMPTS = 3;
/** From a timer, so that a dossier that takes minutes (locked, large) keeps the chunk alive. */
const HEARTBEAT_EVERY_MS = 2_000;
/** Workflow statuses under which a run may still write: its row is never taken over then (R-BK-1). */
const MAY_STILL_RUN = new Set(['RUNNING', 'UNKNOWN']);

/**
 * The errno of an error of the destination itself (full, quota, read-only, permission on the folder),
 * or undefined. EACCES/EPERM count only on the destination (a document that cannot be read is that
 * dossier's own problem); the engine reports a folder it cannot create a file in as DestinationUnwritable.
 */
export function destinationErrno(err: unknown, destinationDir: string): DestinationErrno | undefined {
  let e: unknown = err;
  for (let i = 0; i < 6 && e && typeof e === 'object'; i++) {
    const o = e as { code?: unknown; path?: unknown; type?: unknown; message?: unknown };
    const code = typeof o.code === 'string' ? o.code : undefined;
    if (code && (DESTINATION_ERRNOS as readonly string[]).includes(code)) {
      const rel = typeof o.path === 'string' ? path.relative(path.resolve(destinationDir), path.resolve(o.path)) : '';
      const onDestination = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
      if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EROFS' || onDestination) return code as DestinationErrno;
    }
    if (o.type === FailureType.DestinationUnwritable && typeof o.message === 'string') {
      const m = /: (E[A-Z]+)$/.exec(o.message);
      if (m && (DESTINATION_ERRNOS as readonly string[]).includes(m[1]!)) return m[1] as DestinationErrno;
    }
    e = (o as { cause?: unknown }).cause;
  }
  return undefined;
}

const selectionFilter = `
      NOT d.is_template AND NOT d.is_test AND d.is_transferable
  AND d.copy_status = ANY (ARRAY(SELECT jsonb_array_elements_text(r.settings -> 'copyStatuses')))
  AND (NOT (r.settings ->> 'modifiedOnly')::boolean OR d.backup_seq IS NULL OR d.change_seq > d.backup_seq)
  AND (r.only_codes IS NULL OR d.code = ANY (r.only_codes))`;

/** One page of the selection per phase (R-BK-2, R-BK-4), in code order after the cursor. */
const PAGE_SQL: Record<SelectionCursor['phase'], string> = {
  priority: `
    SELECT d.code FROM nightshift.backup_run r
      JOIN nightshift.backup_run_item i ON i.run_id = r.previous_run AND i.status <> 'ok'
      JOIN nightshift.dossier d ON d.code = i.code
     WHERE r.id = $1 AND i.code > $2 AND ${selectionFilter}
     ORDER BY i.code LIMIT $3`,
  rest: `
    SELECT d.code FROM nightshift.backup_run r, nightshift.dossier d
     WHERE r.id = $1 AND d.code > $2 AND ${selectionFilter}
       AND NOT EXISTS (SELECT 1 FROM nightshift.backup_run_item p
                        WHERE p.run_id = r.previous_run AND p.code = d.code AND p.status <> 'ok')
     ORDER BY d.code LIMIT $3`,
  retry: `
    SELECT d.code FROM nightshift.backup_run r
      JOIN nightshift.backup_run_item i ON i.run_id = r.retry_of AND i.status <> 'ok'
      JOIN nightshift.dossier d ON d.code = i.code
     WHERE r.id = $1 AND i.code > $2 AND ${selectionFilter}
     ORDER BY i.code LIMIT $3`,
};

const COUNT_SQL = {
  run: `SELECT count(*)::int AS n FROM nightshift.backup_run r, nightshift.dossier d WHERE r.id = $1 AND ${selectionFilter}`,
  retry: `SELECT count(*)::int AS n FROM nightshift.backup_run r
            JOIN nightshift.backup_run_item i ON i.run_id = r.retry_of AND i.status <> 'ok'
            JOIN nightshift.dossier d ON d.code = i.code
           WHERE r.id = $1 AND ${selectionFilter}`,
};

/** The selected dossiers the run has no row for: recorded 'not_done' ($2: why) once the destination stopped the batch. */
const NOT_DONE_SQL = {
  run: `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms)
        SELECT r.id, d.code, 'not_done', 0, $2, 0 FROM nightshift.backup_run r, nightshift.dossier d
         WHERE r.id = $1 AND r.state = 'running' AND ${selectionFilter}
           AND NOT EXISTS (SELECT 1 FROM nightshift.backup_run_item x WHERE x.run_id = r.id AND x.code = d.code)
         ORDER BY d.code
        ON CONFLICT (run_id, code) DO NOTHING`,
  retry: `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms)
          SELECT r.id, d.code, 'not_done', 0, $2, 0 FROM nightshift.backup_run r
            JOIN nightshift.backup_run_item i ON i.run_id = r.retry_of AND i.status <> 'ok'
            JOIN nightshift.dossier d ON d.code = i.code
           WHERE r.id = $1 AND r.state = 'running' AND ${selectionFilter}
             AND NOT EXISTS (SELECT 1 FROM nightshift.backup_run_item x WHERE x.run_id = r.id AND x.code = d.code)
           ORDER BY d.code
          ON CONFLICT (run_id, code) DO NOTHING`,
};

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

export interface BackupBatchHooks {
  /** tests: called before each dossier's backup (to slow a batch down before a SIGKILL) */
  beforeDossier?: (code: string) => Promise<void>;
}

export function createBackupBatchActivities({ config, pools, mail, temporal }: ActivityDeps, hooks: BackupBatchHooks = {}) {
  /** runs whose destination stopped them, seen by this process: the other chunks in flight here stop before their next dossier */
  const stoppedRuns = new Map<number, DestinationErrno>();

  async function getRun(pool: pg.Pool, runId: number): Promise<RunRow> {
    const { rows } = await pool.query<RunRow>('SELECT * FROM nightshift.backup_run WHERE id = $1', [runId]);
    if (!rows[0]) throw permanentFailure(FailureType.InvalidInput, `unknown backup run ${runId}`);
    return rows[0];
  }

  function alreadyRunning(run: { id: string; workflow_id: string; started_at: Date }, status?: string): ApplicationFailure {
    const why = status === 'UNKNOWN' ? ' (Temporal did not say whether its workflow still runs)' : '';
    return ApplicationFailure.create({
      type: BACKUP_ALREADY_RUNNING,
      nonRetryable: true,
      message: `backup run ${run.id} (${run.workflow_id}) is already running since ${run.started_at.toISOString()}${why}: one batch per target at a time (R-BK-1)`,
    });
  }

  /** The run was closed (taken over as abandoned, failed) while this workflow still worked on it: its late work is refused. */
  async function runClosed(pool: pg.Pool, runId: number): Promise<ApplicationFailure> {
    const run = await getRun(pool, runId);
    const at = new Date().toISOString();
    await pool.query(
      `UPDATE nightshift.backup_run SET note = left(coalesce(note || '; ', '') || $2, 2000) WHERE id = $1 AND coalesce(note, '') NOT LIKE '%late work of its workflow refused%'`,
      [runId, `late work of its workflow refused at ${at}`],
    );
    return permanentFailure(
      FailureType.BackupRunClosed,
      `backup run ${run.id} (${run.workflow_id}) was closed as ${run.state}${run.note ? ` (${run.note})` : ''} while its workflow still worked on it: ` +
        'its late results are refused, the run stays as it was closed (R-BK-1)',
    );
  }

  /**
   * Appends one dossier's outcome to the ledger (once per run: the primary key) and shows the run is
   * alive, only while the run is running (the run row's lock orders this against a close). False: closed.
   */
  async function recordItem(
    pool: pg.Pool,
    runId: number,
    item: { code: string; status: ItemStatus; attempts: number; error: string | null; file: string | null; size: number | null; durationMs: number },
  ): Promise<boolean> {
    const { rows } = await pool.query<{ alive: boolean }>(
      `WITH run AS (UPDATE nightshift.backup_run SET updated_at = now() WHERE id = $1 AND state = 'running' RETURNING id),
       ins AS (
         INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, file, size, duration_ms)
         SELECT run.id, $2, $3, $4, $5, $6, $7, $8 FROM run ON CONFLICT (run_id, code) DO NOTHING RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM run) AS alive`,
      [runId, item.code, item.status, item.attempts, item.error, item.file, item.size, item.durationMs],
    );
    return rows[0]!.alive;
  }

  /** Codes the stopped batch did not attempt: 'not_done' rows (taken first by `backup retry` and the next run, R-BK-4). */
  async function recordNotDone(pool: pg.Pool, runId: number, codes: string[], error: string): Promise<void> {
    if (!codes.length) return;
    await pool.query(
      `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, error, duration_ms)
       SELECT r.id, c.code, 'not_done', 0, $3, 0 FROM nightshift.backup_run r, unnest($2::text[]) WITH ORDINALITY AS c(code, n)
        WHERE r.id = $1 AND r.state = 'running' ORDER BY c.n
       ON CONFLICT (run_id, code) DO NOTHING`,
      [runId, codes, error],
    );
  }

  /** Removes what a killed attempt left: temporary archive files of these codes (the engine names them .B{code}.SVG.*.tmp). */
  async function removeStaleTemps(dir: string, codes: Set<string>): Promise<void> {
    let names: string[];
    try {
      names = await fs.promises.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^\.B(.+)\.SVG\.[0-9a-f]+\.tmp$/.exec(name);
      if (m && codes.has(m[1]!)) await fs.promises.rm(path.join(dir, name), { force: true });
    }
  }

  async function writeReport(pool: pg.Pool, run: RunRow): Promise<{ file: string; ok: number; failed: number }> {
    const name = reportFileName(localDateTime(run.started_at, config.timeZone));
    const write = async (dir: string) => {
      await fs.promises.mkdir(dir, { recursive: true });
      const file = path.join(dir, name);
      const tmp = path.join(dir, `.${name}.${crypto.randomBytes(6).toString('hex')}.tmp`);
      await createPrivateFile(tmp, config.backupFileMode);
      const out = fs.createWriteStream(tmp, { flags: 'r+', encoding: REPORT_ENCODING });
      const failedOut = new Promise<never>((_, reject) => out.once('error', reject));
      failedOut.catch(() => {});
      let ok = 0;
      let failed = 0;
      try {
        // streamed from the ledger page by page: memory does not grow with the number of dossiers
        let after = '0';
        for (;;) {
          const { rows } = await pool.query<{ after: string; code: string; status: ItemStatus; error: string | null }>(
            'SELECT seq::text AS after, code, status, error FROM nightshift.backup_run_item WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT 2000',
            [run.id, after],
          );
          if (!rows.length) break;
          let text = '';
          for (const r of rows) {
            text += reportLine(r.code, r.status, r.error) + REPORT_EOL;
            if (r.status === 'ok') ok++;
            else failed++;
          }
          if (!out.write(text)) await Promise.race([new Promise<void>((res) => out.once('drain', () => res())), failedOut]);
          after = rows[rows.length - 1]!.after;
        }
        out.end(reportSummaryLines(ok, failed).join(REPORT_EOL) + REPORT_EOL);
        await Promise.race([finished(out), failedOut]);
        await commitFile(tmp, file, dir);
      } catch (err) {
        out.destroy();
        await fs.promises.rm(tmp, { force: true });
        throw err;
      }
      return { file, ok, failed };
    };
    try {
      return await write(path.join(run.settings.reportFolder));
    } catch (err) {
      // the report must not be lost when the backup folder is unwritable: keep it under the data folder
      const fallback = path.join(config.dataDir, REPORT_FOLDER);
      const r = await write(fallback);
      await pool.query('UPDATE nightshift.backup_run SET note = $2 WHERE id = $1', [
        run.id,
        `report written to ${fallback}: ${run.settings.reportFolder} is unwritable (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      ]);
      return r;
    }
  }

  return {
    /**
     * R-BK-1: claims the run in the ledger (one running batch per target, enforced by a unique index),
     * resolves the R-BK-9 settings once for the whole run, and counts the selection.
     */
    async claimBackupRun(raw: BackupBatchInput & { workflowId: string }): Promise<ClaimResult> {
      const input = parseInput(backupBatchInputSchema, raw);
      const workflowId = parseInput(z.string().min(1).max(400), raw.workflowId);
      const pool = pools.get(input.target);
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // two claims at once queue here instead of racing between the checks and the insert
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.backup-batch'))`);
        const mine = await client.query<RunRow>('SELECT * FROM nightshift.backup_run WHERE workflow_id = $1', [workflowId]);
        if (mine.rows[0]) {
          // this activity's earlier attempt committed before its worker died: same run
          const run = mine.rows[0];
          await client.query('COMMIT');
          if (run.state !== 'running') throw permanentFailure(FailureType.InvalidInput, `workflow id ${workflowId} already ran as backup run ${run.id}`);
          const { rows } = await pool.query<{ n: number }>(COUNT_SQL[run.kind], [run.id]);
          return {
            runId: Number(run.id),
            settings: { destinationDir: run.settings.destinationDir, documents: run.settings.documents },
            cursor: firstCursor(run.kind, run.previous_run === null ? null : Number(run.previous_run)),
            selected: rows[0]!.n,
            previousRun: run.previous_run === null ? null : Number(run.previous_run),
          };
        }
        // R-BK-1: a running run is taken over only once Temporal says its workflow is closed, never on
        // staleness alone (every worker down for a while leaves a live run without progress)
        const running = await client.query<RunRow>(`SELECT * FROM nightshift.backup_run WHERE state = 'running'`);
        for (const run of running.rows) {
          const status = temporal ? await workflowStatus(temporal, run.workflow_id) : 'UNKNOWN';
          if (MAY_STILL_RUN.has(status)) throw alreadyRunning(run, temporal ? status : undefined);
          await closeAbandonedRun(client, run.id, status);
        }

        let retryOf: number | null = null;
        if (input.retryOf !== undefined) {
          const r = await client.query<RunRow>('SELECT * FROM nightshift.backup_run WHERE id = $1', [input.retryOf]);
          if (!r.rows[0]) throw permanentFailure(FailureType.InvalidInput, `unknown backup run ${input.retryOf}`);
          retryOf = input.retryOf;
        }
        const previous = await client.query<{ id: string }>(`SELECT max(id)::text AS id FROM nightshift.backup_run WHERE state <> 'running'`);
        const previousRun = previous.rows[0]?.id ? Number(previous.rows[0].id) : null;

        const { settings } = await loadBackupSettings(client, config);
        const start = localDateTime(new Date(), config.timeZone);
        const destinationDir = path.join(settings.folder, ...destinationSegments('manual', settings['date-subfolder'], start));
        const runSettings: RunSettings = {
          destinationDir,
          documents: settings.documents,
          copyStatuses: copyStatusesFor(settings.dossiers),
          // --all and retries ignore "modified only"
          modifiedOnly: settings['modified-only'] && !input.all && retryOf === null,
          reportFolder: path.join(settings.folder, REPORT_FOLDER),
          reportRecipients: settings['report-recipients'],
        };
        const kind = retryOf === null ? 'run' : 'retry';
        const inserted = await client.query<{ id: string }>(
          `INSERT INTO nightshift.backup_run (workflow_id, kind, retry_of, previous_run, settings, only_codes)
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
          [workflowId, kind, retryOf, previousRun, JSON.stringify(runSettings), input.only ?? null],
        );
        const runId = Number(inserted.rows[0]!.id);
        const { rows } = await client.query<{ n: number }>(COUNT_SQL[kind], [runId]);
        await client.query('UPDATE nightshift.backup_run SET selected = $2 WHERE id = $1', [runId, rows[0]!.n]);
        await client.query('COMMIT');
        return {
          runId,
          settings: { destinationDir, documents: runSettings.documents },
          cursor: firstCursor(kind, previousRun),
          selected: rows[0]!.n,
          previousRun,
        };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        const e = err as { code?: string; constraint?: string };
        if (e.code === '23505' && e.constraint === 'backup_run_one_running') {
          const running = await pool.query<RunRow>(`SELECT * FROM nightshift.backup_run WHERE state = 'running'`);
          if (running.rows[0]) throw alreadyRunning(running.rows[0]);
        }
        throw err;
      } finally {
        client.release();
      }
    },

    /** The next page of the selection after the cursor; moves to the next phase when one runs dry (R-BK-4). */
    async selectBackupPage(raw: { target: string; runId: number; cursor: SelectionCursor; limit: number }): Promise<{ codes: string[]; cursor: SelectionCursor; exhausted: boolean }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      let cursor = raw.cursor;
      for (;;) {
        const { rows } = await pool.query<{ code: string }>(PAGE_SQL[cursor.phase], [raw.runId, cursor.after, raw.limit]);
        if (rows.length) return { codes: rows.map((r) => r.code), cursor: { phase: cursor.phase, after: rows[rows.length - 1]!.code }, exhausted: false };
        const next = nextPhase(cursor.phase);
        if (!next) return { codes: [], cursor, exhausted: true };
        cursor = next;
      }
    },

    /**
     * Backs up a chunk of dossiers with a small concurrency, one ledger row per dossier as it ends.
     * Heartbeats the codes done; a retried attempt skips what the ledger or the heartbeat already has
     * and removes the temporary files a killed attempt left. Stops taking dossiers after the time budget.
     */
    async backupChunk(input: ChunkInput): Promise<ChunkResult> {
      const pool = pools.get(parseInput(targetNameSchema, input.target));
      const ctx = activityContext();
      const signal = ctx?.cancellationSignal;
      const codes = input.codes.map((c) => parseInput(dossierCodeSchema, c));
      const beat = (ctx?.info.heartbeatDetails as { done?: string[] } | undefined)?.done ?? [];
      const { rows: inLedger } = await pool.query<{ code: string }>(
        'SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 AND code = ANY ($2)',
        [input.runId, codes],
      );
      const done = new Set<string>([...beat, ...inLedger.map((r) => r.code)]);
      const todo = codes.filter((c) => !done.has(c));
      const run = await getRun(pool, input.runId);
      if (run.state !== 'running') throw await runClosed(pool, input.runId);
      if (run.stop_reason) {
        // another chunk found the destination full or unwritable: these are not attempted either
        await recordNotDone(pool, input.runId, todo, notDoneErrorText(run.stop_reason));
        throw permanentFailure(FailureType.DestinationUnavailable, run.stop_reason);
      }
      if ((ctx?.info.attempt ?? 1) > 1) await removeStaleTemps(input.settings.destinationDir, new Set(todo));
      const result: ChunkResult = { ok: 0, inUse: 0, failed: 0, skipped: codes.length - todo.length, remaining: [] };
      /** set once the destination itself is full or unwritable: no lane takes another dossier */
      let stopped: DestinationErrno | undefined;
      let closed = false;

      const heartbeat = () => ctx?.heartbeat({ done: [...done] });
      heartbeat();
      // also keeps the run visibly alive through a long dossier, so no claim takes it for abandoned
      const touch = () => pool.query('UPDATE nightshift.backup_run SET updated_at = now() WHERE id = $1', [input.runId]).catch(() => {});
      const timer = setInterval(() => {
        heartbeat();
        void touch();
      }, HEARTBEAT_EVERY_MS);
      const deadline = Date.now() + input.timeBudgetMs;
      let next = 0;

      async function one(code: string): Promise<void> {
        const started = Date.now();
        let attempts = 0;
        let item: { status: ItemStatus; error: string | null; file: string | null; size: number | null };
        for (;;) {
          attempts++;
          try {
            await hooks.beforeDossier?.(code);
            const r = await backupDossierArchive({
              pool,
              target: input.target,
              code,
              destinationDir: input.settings.destinationDir,
              documentsFolder: input.settings.documents ? documentsFolder(config.documentsDir, input.target, code) : undefined,
              fileMode: config.backupFileMode,
              signal,
            });
            item = { status: 'ok', error: null, file: r.file, size: r.bytes };
            break;
          } catch (err) {
            if (signal?.aborted) throw err;
            const errno = destinationErrno(err, input.settings.destinationDir);
            if (errno) {
              // the destination, not the dossier: every other dossier would fail the same way, so stop now
              stopped ??= errno;
              if (!stoppedRuns.has(input.runId)) stoppedRuns.set(input.runId, errno);
              item = { status: 'failed', error: itemErrorText(err instanceof Error ? err.message : String(err)), file: null, size: null };
              break;
            }
            const type = failureTypeOf(err);
            if (type === FailureType.DossierInUse) {
              item = { status: 'in_use', error: IN_USE_ERROR_TEXT, file: null, size: null };
              break;
            }
            const permanent = err instanceof ApplicationFailure && err.nonRetryable;
            if (permanent || attempts >= DOSSIER_ATTEMPTS) {
              item = { status: 'failed', error: itemErrorText(err instanceof Error ? err.message : String(err)), file: null, size: null };
              break;
            }
            await sleep(500 * attempts, signal);
          }
        }
        if (!(await recordItem(pool, input.runId, { code, attempts, durationMs: Date.now() - started, ...item }))) {
          closed = true;
          return;
        }
        done.add(code);
        if (item.status === 'ok') result.ok++;
        else if (item.status === 'in_use') result.inUse++;
        else result.failed++;
        heartbeat();
      }

      async function lane(): Promise<void> {
        while (next < todo.length && !signal?.aborted && !stopped && !closed) {
          const elsewhere = stoppedRuns.get(input.runId);
          if (elsewhere) {
            stopped = elsewhere;
            break;
          }
          if (Date.now() > deadline) return;
          await one(todo[next++]!);
        }
      }

      try {
        await Promise.all(Array.from({ length: Math.min(input.concurrency, todo.length) }, lane));
      } finally {
        clearInterval(timer);
      }
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('chunk cancelled');
      if (closed) throw await runClosed(pool, input.runId);
      if (stopped) {
        const reason = destinationStopText(input.settings.destinationDir, stopped);
        await pool.query(`UPDATE nightshift.backup_run SET stop_reason = coalesce(stop_reason, $2) WHERE id = $1 AND state = 'running'`, [input.runId, reason]);
        await recordNotDone(pool, input.runId, todo.slice(next), notDoneErrorText(reason));
        throw permanentFailure(FailureType.DestinationUnavailable, reason);
      }
      result.remaining = todo.slice(next);
      return result;
    },

    /**
     * Ends the run: state and totals from the ledger, and the R-BK-7 report written atomically by
     * streaming the ledger. Idempotent (same report name, replaced atomically).
     */
    async finishBackupRun(raw: { target: string; runId: number; endedEarly: boolean }): Promise<FinishResult> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const run = await getRun(pool, raw.runId);
      if (run.state !== 'running') {
        // this activity's earlier attempt closed it (its answer was lost): the same answer again
        if (run.report_path) {
          return { state: run.state, total: run.total, ok: run.ok, failed: run.failed, reportPath: run.report_path, mail: run.mail_state !== 'none' };
        }
        // closed by someone else (taken over as abandoned): it stays as it was closed (R-BK-1)
        throw await runClosed(pool, raw.runId);
      }
      if (run.stop_reason) {
        // the destination stopped the batch: every selected dossier not attempted is in the report as not done
        await pool.query(NOT_DONE_SQL[run.kind], [run.id, notDoneErrorText(run.stop_reason)]);
      }
      const { file, ok, failed } = await writeReport(pool, run);
      const state = runState(raw.endedEarly, failed);
      const mailWanted = failed > 0 && run.settings.reportRecipients.length > 0;
      const closed = await pool.query(
        `UPDATE nightshift.backup_run
            SET state = $2, finished_at = now(), updated_at = now(), total = $3, ok = $4, failed = $5,
                report_path = $6, mail_state = CASE WHEN $7 AND mail_state = 'none' THEN 'pending' ELSE mail_state END
          WHERE id = $1 AND state = 'running'`,
        [raw.runId, state, ok + failed, ok, failed, file, mailWanted],
      );
      if (!closed.rowCount) throw await runClosed(pool, raw.runId);
      return { state, total: ok + failed, ok, failed, reportPath: file, mail: mailWanted };
    },

    /** R-BK-8: the report and the list of failed codes, to the report recipients. Thrown errors are retried. */
    async mailBackupReport(raw: { target: string; runId: number }): Promise<{ messageId: string; recipients: string[] }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const run = await getRun(pool, raw.runId);
      if (!mail) throw permanentFailure(FailureType.InvalidInput, 'no mail transport in this worker');
      if (!run.report_path) throw permanentFailure(FailureType.InvalidInput, `backup run ${run.id} has no report`);
      let failedList = '';
      let after = '';
      for (;;) {
        const { rows } = await pool.query<{ code: string }>(
          `SELECT code FROM nightshift.backup_run_item WHERE run_id = $1 AND status <> 'ok' AND code > $2 ORDER BY code LIMIT 5000`,
          [run.id, after],
        );
        if (!rows.length) break;
        for (const r of rows) failedList += r.code + REPORT_EOL;
        after = rows[rows.length - 1]!.code;
      }
      const info = await mail.sendMail({
        from: { name: config.smtp.fromName, address: config.smtp.fromAddress },
        to: run.settings.reportRecipients,
        subject: mailSubject(config.appName),
        // a batch stopped by its destination says so, and what to do, after the R-BK-8 text
        text: run.stop_reason ? `${MAIL_BODY}.${REPORT_EOL}${REPORT_EOL}${run.stop_reason}` : MAIL_BODY,
        attachments: [
          { filename: path.basename(run.report_path), path: run.report_path, contentType: 'text/plain; charset=utf-8', contentTransferEncoding: 'base64' },
          { filename: FAILED_LIST_FILE_NAME, content: failedList, contentType: 'text/plain; charset=utf-8', contentTransferEncoding: 'base64' },
        ],
      });
      await pool.query(`UPDATE nightshift.backup_run SET mail_state = 'sent', mail_error = NULL WHERE id = $1`, [run.id]);
      return { messageId: String(info.messageId), recipients: run.settings.reportRecipients };
    },

    /** The mail gave up: say so in the ledger (the report stays in the log folder). */
    async markBackupMailFailed(raw: { target: string; runId: number; error: string }): Promise<void> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      await pool.query(`UPDATE nightshift.backup_run SET mail_state = 'failed', mail_error = $2 WHERE id = $1`, [raw.runId, raw.error.slice(0, 2000)]);
    },
  };
}

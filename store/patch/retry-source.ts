import type { Queryable } from '../queryable';

/** Where a run's packages came from: its own folder (integrate), else the folder its last package was stored from. */
export const RUN_SOURCE_DIR_SQL = `coalesce(r.source_dir, (SELECT p.source_dir FROM nightshift.patch_package p WHERE p.number = r.last_patch))`;

/** The run a retry takes its failed dossiers from, and the folder of its packages (to integrate them again). */
export interface RetrySource {
  id: number;
  last_patch: number | null;
  dir: string | null;
  /** --max-failures stopped it: how many dossiers it did not start (its retry takes them with the failed ones); else null */
  notStarted: number | null;
  /** the dossiers it was given (null: every one) */
  requested: string[] | null;
}

/**
 * The run a retry takes its failed dossiers from: `retryOf`, else the last finished run (other than
 * `runId`, the retry itself) that has failed dossiers. Undefined when there is none.
 */
export async function retrySourceRun(db: Queryable, runId: number, retryOf?: number): Promise<RetrySource | undefined> {
  const columns = `r.id, r.last_patch, ${RUN_SOURCE_DIR_SQL} AS dir, r.not_started, r.requested`;
  const { rows } = await db.query<{ id: string; last_patch: number | null; dir: string | null; not_started: number | null; requested: string[] | null }>(
    retryOf
      ? `SELECT ${columns} FROM nightshift.patch_run r WHERE r.id = $1`
      : `SELECT ${columns} FROM nightshift.patch_run r WHERE r.id <> $1 AND r.state <> 'running'
                   AND EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') ORDER BY r.id DESC LIMIT 1`,
    [retryOf ?? runId],
  );
  const r = rows[0];
  return r && { id: Number(r.id), last_patch: r.last_patch, dir: r.dir, notStarted: r.not_started, requested: r.requested };
}

/** What `patch retry` would take, read before it starts (R-PI-4: the supervisor as it is now beside the run's last patch). */
export interface RetryPreview extends RetrySource {
  state: string;
  /** the run's own failure (a run that failed as a whole: its folder unreadable, its prerequisites not met) */
  error: string | null;
  /** its mode and folder as started (integrate DIR, revalidate), for the command that starts it again */
  mode: string;
  sourceDir: string | null;
  failed: number;
  /** the dossiers it recorded at all (ok or failed): none, it failed as a whole before any dossier */
  recorded: number;
  supervisor: { code: string; level: number } | null;
  /** the supervisor is among the run's failed dossiers: the retry takes it first */
  supervisorFailed: boolean;
}

/** What `patch retry` would take, read before it starts: the source run (as above), its state, its failed and recorded dossiers' counts, the supervisor. */
export async function retryPreview(db: Queryable, retryOf?: number): Promise<RetryPreview | undefined> {
  const run = await retrySourceRun(db, 0, retryOf);
  if (!run) return undefined;
  const { rows } = await db.query<{ state: string; error: string | null; mode: string; source_dir: string | null; failed: number; recorded: number; sup_code: string | null; sup_level: number | null; supervisor_failed: boolean }>(
    `SELECT r.state, r.error, r.mode, r.source_dir, (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') AS failed,
            (SELECT count(*)::int FROM nightshift.patch_run_item i WHERE i.run_id = r.id) AS recorded,
            s.code AS sup_code, s.patch_level AS sup_level,
            EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed' AND i.code = s.code) AS supervisor_failed
       FROM nightshift.patch_run r
       LEFT JOIN LATERAL (SELECT code, patch_level FROM nightshift.dossier WHERE role = 'supervisor' ORDER BY code LIMIT 1) s ON true
      WHERE r.id = $1`,
    [run.id],
  );
  const r = rows[0]!;
  return {
    ...run,
    state: r.state,
    error: r.error,
    mode: r.mode,
    sourceDir: r.source_dir,
    failed: r.failed,
    recorded: r.recorded,
    supervisor: r.sup_code === null ? null : { code: r.sup_code, level: r.sup_level! },
    supervisorFailed: r.supervisor_failed,
  };
}

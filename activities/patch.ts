import { activityInfo, heartbeat } from '@temporalio/activity';
import type pg from 'pg';
import { patchClaimSchema } from '../domain/patch-input';
import { parseInput } from '../domain/validation';
import { belowSupervisor, type PatchManifest, type PatchType } from '../domain/patch';
import {
  PatchFailure,
  type DossierPatchOutcome,
  type PatchRunMode,
  type PatchRunState,
  type PatchSummary,
  type Prerequisite,
} from '../workflows/patch-integration.api';
import { qualified } from '../db/ident';
import { workflowStatus } from '../workers/resources';
import type { ActivityDeps } from './deps';
import { withTransaction } from './registry';
import { patchDossier, type EngineDossier, type StoredPatch } from './patch/apply';
import { patchFailure, readPatchDirectory, type PatchPackage } from './patch/package';
import { patchDirectoryProblem } from './store-marker';
import { closeAbandonedRun } from '../store/patch/close-abandoned-run';
import { listRunningRuns } from '../store/patch/running-runs';

/**
 * Activities of patch integration: prerequisites and the run's claim, reading the packages into the
 * ledger, the plan, chunks of dossiers (heartbeating, resumable) and the closing of the run.
 * The ledger (db/migrations/0006_patch.sql) is the truth; the workflow only sequences.
 */

export interface ClaimArgs {
  target: string;
  workflowId: string;
  mode: PatchRunMode;
  dir?: string;
  dossiers?: string[];
  retryOf?: number;
  windowWorkflowId?: string;
}

export interface PatchPlan {
  supervisor: { code: string; level: number; included: boolean } | null;
  /** the other dossiers of the run, in code order */
  others: string[];
  /** the last patch number the run brings dossiers to */
  upTo: number;
}


interface DossierRow {
  code: string;
  role: 'supervisor' | 'regular';
  is_test: boolean;
  is_specific: boolean;
  schema_name: string;
  patch_level: number;
}

const toEngine = (r: DossierRow): EngineDossier => ({
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
  const { rows } = await pool.query<{ number: number; type: PatchType; checksum: string; manifest: PatchManifest; files: Record<string, string> }>(
    'SELECT number, type, checksum, manifest, files FROM nightshift.patch_package WHERE number <= $1 ORDER BY number',
    [upTo],
  );
  return rows;
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
      const { rows } = await c.query<{ checksum: string }>(
        `INSERT INTO nightshift.patch_package (number, type, checksum, description, manifest, files, source_dir)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (number) DO UPDATE SET number = EXCLUDED.number WHERE false
         RETURNING checksum`,
        [m.number, m.type, m.checksum, m.description, JSON.stringify(m), JSON.stringify(p.files), dir],
      );
      if (rows.length) continue;
      const stored = await c.query<{ checksum: string; source_dir: string | null }>(
        'SELECT checksum, source_dir FROM nightshift.patch_package WHERE number = $1 FOR UPDATE',
        [m.number],
      );
      if (stored.rows[0]!.checksum === m.checksum) continue;
      const holder = await c.query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE patch_level >= $1 ORDER BY code LIMIT 1', [m.number]);
      if (holder.rows[0]) {
        throw patchFailure(
          PatchFailure.ChecksumDrift,
          `patch ${m.number} (${p.folder}) was already integrated on this target with checksum ${stored.rows[0]!.checksum.slice(0, 12)}… (from ${stored.rows[0]!.source_dir ?? '?'}; dossier ${holder.rows[0].code} holds it); this package has ${m.checksum.slice(0, 12)}…: refused (R-PI-8)`,
        );
      }
      await c.query(
        `UPDATE nightshift.patch_package SET type = $2, checksum = $3, description = $4, manifest = $5, files = $6, source_dir = $7, stored_at = now()
          WHERE number = $1`,
        [m.number, m.type, m.checksum, m.description, JSON.stringify(m), JSON.stringify(p.files), dir],
      );
    }
  });
}

/** How often a chunk heartbeats from a timer, so that a dossier that takes long (locked, large) keeps it alive. */
const HEARTBEAT_EVERY_MS = 2_000;

/** A run closed (abandoned) while its workflow still worked: its late results are refused. */
async function patchRunClosed(pool: pg.Pool, runId: number): Promise<Error> {
  const { rows } = await pool.query<{ workflow_id: string; state: string; error: string | null }>('SELECT workflow_id, state, error FROM nightshift.patch_run WHERE id = $1', [runId]);
  const r = rows[0];
  return patchFailure(
    PatchFailure.RunClosed,
    `patch run ${runId}${r ? ` (${r.workflow_id}) was closed as ${r.state}${r.error ? ` (${r.error})` : ''}` : ' is unknown'} while its workflow still worked on it: its late results are refused`,
  );
}

/**
 * The run's truth for one dossier after a retry: its level when the run first touched it (kept in its
 * ledger row) and every patch the run applied since, read back from the dossier's own ledger (apatch)
 * for those an earlier, killed attempt applied.
 */
async function sinceRunStart(pool: pg.Pool, schemaName: string, runFrom: number | undefined, outcome: DossierPatchOutcome): Promise<DossierPatchOutcome> {
  if (runFrom === undefined || runFrom >= outcome.fromLevel) return outcome;
  const { rows } = await pool.query<{ number: number }>(`SELECT number FROM ${qualified(schemaName, 'apatch')} WHERE number > $1 AND number <= $2 ORDER BY number`, [
    runFrom,
    outcome.fromLevel,
  ]);
  const applied = [...new Set([...rows.map((r) => r.number), ...outcome.applied])].sort((a, b) => a - b);
  return { ...outcome, fromLevel: runFrom, applied };
}

/**
 * R-PI-2, each prerequisite reported: exactly one supervisor, no backup batch, no other patch run, an
 * in-progress maintenance window of the target (`windowWorkflowId` when the run is its payload). The
 * claim checks them under its lock; `patch integrate` checks them before it starts anything.
 */
export async function patchPrerequisites(db: pg.Pool | pg.PoolClient, target: string, windowWorkflowId?: string): Promise<Prerequisite[]> {
  const prerequisites: Prerequisite[] = [];
  const sup = await db.query<{ code: string }>(`SELECT code FROM nightshift.dossier WHERE role = 'supervisor'`);
  prerequisites.push(
    sup.rows[0]
      ? { name: 'supervisor dossier', ok: true, detail: `${sup.rows[0].code} is the supervisor` }
      : { name: 'supervisor dossier', ok: false, detail: 'the target has no supervisor dossier: create one first' },
  );
  const hasBackupRuns = (await db.query<{ ok: boolean }>(`SELECT to_regclass('nightshift.backup_run') IS NOT NULL AS ok`)).rows[0]!.ok;
  const backups = hasBackupRuns
    ? (await db.query<{ workflow_id: string }>(`SELECT workflow_id FROM nightshift.backup_run WHERE state = 'running'`)).rows
    : [];
  prerequisites.push({
    name: 'no backup batch',
    ok: backups.length === 0,
    detail: backups.length ? `backup batch ${backups.map((b) => b.workflow_id).join(', ')} is running on ${target}` : 'no backup batch is running',
  });
  const patches = (await db.query<{ workflow_id: string }>(`SELECT workflow_id FROM nightshift.patch_run WHERE state = 'running'`)).rows;
  prerequisites.push({
    name: 'no other patch run',
    ok: patches.length === 0,
    detail: patches.length ? `patch run ${patches.map((p) => p.workflow_id).join(', ')} is running on ${target}` : 'no other patch run',
  });
  const windows = (
    await db.query<{ workflow_id: string }>(`SELECT workflow_id FROM nightshift.maintenance_window WHERE state = 'in_progress'`)
  ).rows;
  const windowOk = windowWorkflowId ? windows.some((w) => w.workflow_id === windowWorkflowId) : windows.length > 0;
  prerequisites.push({
    name: 'maintenance window in progress',
    ok: windowOk,
    detail: windowOk
      ? windowWorkflowId
        ? `payload of ${windowWorkflowId} (single-user mode)`
        : `window ${windows[0]!.workflow_id} is in progress (single-user mode)`
      : windowWorkflowId
        ? `the window ${windowWorkflowId} is not in progress on ${target}`
        : `no maintenance window is in progress on ${target}: start one (payload patch) or run inside one`,
  });
  return prerequisites;
}

export function createPatchActivities({ pools, temporal }: ActivityDeps) {
  const note = (pool: pg.Pool, runId: number) => pool.query('UPDATE nightshift.patch_run SET updated_at = now() WHERE id = $1', [runId]);

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
        await c.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.patch_run'))`);
        const mine = await c.query<{ id: string; state: string; prerequisites: Prerequisite[] }>(
          'SELECT id, state, prerequisites FROM nightshift.patch_run WHERE workflow_id = $1',
          [a.workflowId],
        );
        // a retried claim (lost acknowledgement) finds its own row
        if (mine.rows[0]) return { runId: Number(mine.rows[0].id), ok: mine.rows[0].state !== 'failed', prerequisites: mine.rows[0].prerequisites };
        // a run whose workflow Temporal knows closed (terminated, timed out) is closed as abandoned; one that may still run stays
        if (temporal) {
          for (const r of await listRunningRuns(c)) {
            const status = await workflowStatus(temporal, r.workflowId);
            if (status === 'RUNNING' || status === 'UNKNOWN') continue;
            await closeAbandonedRun(c, r.id, status);
          }
        }

        const prerequisites = await patchPrerequisites(c, a.target, a.windowWorkflowId);
        const ok = prerequisites.every((p) => p.ok);
        const failed = prerequisites.filter((p) => !p.ok);
        const { rows } = await c.query<{ id: string }>(
          `INSERT INTO nightshift.patch_run (workflow_id, mode, retry_of, state, window_workflow, source_dir, requested, prerequisites, error, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $4 = 'failed' THEN now() END) RETURNING id`,
          [
            a.workflowId,
            a.mode,
            a.retryOf ?? null,
            ok ? 'running' : 'failed',
            a.windowWorkflowId ?? null,
            a.dir ?? null,
            a.dossiers ?? null,
            JSON.stringify(prerequisites),
            ok ? null : `prerequisites not met: ${failed.map((p) => p.detail).join('; ')}`,
          ],
        );
        return { runId: Number(rows[0]!.id), ok, prerequisites };
      });
    },

    /** integrate: verifies the directory (R-PI-1, manifests, numbering, checksums) and stores the packages. */
    async loadPatchPackages(args: { target: string; runId: number; dir: string }): Promise<PatchSummary[]> {
      const pool = pools.get(args.target);
      // any worker host may run this: a directory outside the shared store may not be there (issue 10)
      const notShared = await patchDirectoryProblem(pool, args.target, args.dir);
      if (notShared) throw patchFailure(PatchFailure.InvalidInput, notShared);
      const packages = await readPatchDirectory(args.dir);
      await storePatchPackages(pool, packages, args.dir);
      const first = packages[0]!.manifest.number;
      const last = packages[packages.length - 1]!.manifest.number;
      await pool.query('UPDATE nightshift.patch_run SET first_patch = $2, last_patch = $3, updated_at = now() WHERE id = $1', [args.runId, first, last]);
      return packages.map((p) => summary(p.manifest));
    },

    /** revalidate / retry: the stored packages the run brings dossiers to. */
    async storedPatchSummaries(args: { target: string; runId: number; upTo: number }): Promise<PatchSummary[]> {
      const pool = pools.get(args.target);
      const patches = await loadStoredPatches(pool, args.upTo);
      if (patches.length) {
        await pool.query('UPDATE nightshift.patch_run SET first_patch = $2, last_patch = $3, updated_at = now() WHERE id = $1', [
          args.runId,
          patches[0]!.number,
          patches[patches.length - 1]!.number,
        ]);
      }
      return patches.map((p) => summary(p.manifest));
    },

    /** Which dossiers the run takes, the supervisor apart, and up to which patch. */
    async planPatchRun(args: { target: string; runId: number; mode: PatchRunMode; dossiers?: string[]; retryOf?: number; lastPatch?: number }): Promise<PatchPlan & { retryOf?: number }> {
      const pool = pools.get(args.target);
      const all = (
        await pool.query<DossierRow>(`SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier ORDER BY code`)
      ).rows;
      const sup = all.find((d) => d.role === 'supervisor') ?? null;
      const byCode = new Map(all.map((d) => [d.code, d]));
      let wanted: string[];
      let upTo: number;
      let retryOf: number | undefined;
      if (args.mode === 'integrate') {
        upTo = args.lastPatch ?? 0;
        wanted = args.dossiers ?? all.map((d) => d.code);
      } else if (args.mode === 'revalidate') {
        upTo = sup?.patch_level ?? 0;
        wanted = args.dossiers ?? belowSupervisor(all.map((d) => ({ ...d, patchLevel: d.patch_level }))).below.map((d) => d.code);
      } else {
        const run = (
          await pool.query<{ id: string; last_patch: number | null }>(
            args.retryOf
              ? 'SELECT id, last_patch FROM nightshift.patch_run WHERE id = $1'
              : `SELECT r.id, r.last_patch FROM nightshift.patch_run r WHERE r.id <> $1 AND r.state <> 'running'
                   AND EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = r.id AND i.status = 'failed') ORDER BY r.id DESC LIMIT 1`,
            [args.retryOf ?? args.runId],
          )
        ).rows[0];
        if (!run) throw patchFailure(PatchFailure.NothingToDo, args.retryOf ? `no patch run ${args.retryOf} on ${args.target}` : `no patch run with failed dossiers on ${args.target}`);
        retryOf = Number(run.id);
        upTo = run.last_patch ?? 0;
        wanted = (
          await pool.query<{ code: string }>(`SELECT code FROM nightshift.patch_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code`, [retryOf])
        ).rows.map((r) => r.code);
        await pool.query('UPDATE nightshift.patch_run SET retry_of = $2 WHERE id = $1', [args.runId, retryOf]);
      }
      const unknown = wanted.filter((c) => !byCode.has(c));
      if (unknown.length) throw patchFailure(PatchFailure.UnknownDossier, `unknown dossier(s) in ${args.target}: ${unknown.slice(0, 20).join(', ')}`);
      const set = new Set(wanted);
      const included = sup ? set.has(sup.code) : false;
      await pool.query('UPDATE nightshift.patch_run SET supervisor = $2, requested = coalesce(requested, $3), updated_at = now() WHERE id = $1', [
        args.runId,
        sup?.code ?? null,
        args.mode === 'integrate' ? null : wanted,
      ]);
      return {
        supervisor: sup ? { code: sup.code, level: sup.patch_level, included } : null,
        others: [...set].filter((c) => c !== sup?.code).sort(),
        upTo,
        retryOf,
      };
    },

    /**
     * Patches a chunk of dossiers one after another, recording each outcome in the ledger and
     * heartbeating its position, so that a retry (a worker killed mid-chunk) resumes there; a dossier
     * half-way through a patch rolled back, and the engine skips what is applied.
     */
    async applyPatchChunk(args: { target: string; runId: number; codes: string[]; upTo: number; supervisorLevel: number }): Promise<DossierPatchOutcome[]> {
      const pool = pools.get(args.target);
      const patches = await loadStoredPatches(pool, args.upTo);
      const start = Number((activityInfo().heartbeatDetails as number | undefined) ?? 0);
      // the level at the run's start: captured when the run first touches a dossier, kept by every retry
      const opened = await pool.query(
        `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level)
         SELECT r.id, d.code, 'pending', d.patch_level, d.patch_level
           FROM nightshift.patch_run r JOIN nightshift.dossier d ON d.code = ANY($2::text[])
          WHERE r.id = $1 AND r.state = 'running'
         ON CONFLICT (run_id, code) DO NOTHING RETURNING 1`,
        [args.runId, args.codes],
      );
      if (!opened.rowCount && !(await pool.query(`SELECT 1 FROM nightshift.patch_run WHERE id = $1 AND state = 'running'`, [args.runId])).rowCount) {
        throw await patchRunClosed(pool, args.runId);
      }
      const runFrom = new Map(
        (
          await pool.query<{ code: string; from_level: number }>('SELECT code, from_level FROM nightshift.patch_run_item WHERE run_id = $1 AND code = ANY($2::text[])', [
            args.runId,
            args.codes,
          ])
        ).rows.map((r) => [r.code, r.from_level]),
      );
      const rows = (
        await pool.query<DossierRow>(
          `SELECT code, role, is_test, is_specific, schema_name, patch_level FROM nightshift.dossier WHERE code = ANY($1::text[])`,
          [args.codes],
        )
      ).rows;
      const byCode = new Map(rows.map((r) => [r.code, r]));
      const outcomes: DossierPatchOutcome[] = [];
      let doneCount = start;
      const timer = setInterval(() => heartbeat(doneCount), HEARTBEAT_EVERY_MS);
      try {
        for (let i = 0; i < args.codes.length; i++) {
          const code = args.codes[i]!;
          const row = byCode.get(code);
          let outcome: DossierPatchOutcome;
          if (i < start) {
            // recorded by an earlier attempt of this chunk
            const prev = await pool.query<{ status: 'ok' | 'failed'; from_level: number; to_level: number; applied: number[]; failed_patch: number | null; failure_type: string | null; error: string | null; notes: string[] }>(
              `SELECT status, from_level, to_level, applied, failed_patch, failure_type, error, notes FROM nightshift.patch_run_item WHERE run_id = $1 AND code = $2 AND status <> 'pending'`,
              [args.runId, code],
            );
            const r = prev.rows[0];
            if (r) {
              outcomes.push({
                code,
                status: r.status,
                fromLevel: r.from_level,
                toLevel: r.to_level,
                applied: r.applied,
                ...(r.failed_patch !== null ? { failedPatch: r.failed_patch } : {}),
                ...(r.failure_type ? { failureType: r.failure_type } : {}),
                ...(r.error ? { error: r.error } : {}),
                notes: r.notes,
              });
              continue;
            }
          }
          if (!row) {
            outcome = { code, status: 'failed', fromLevel: 0, toLevel: 0, applied: [], failureType: PatchFailure.UnknownDossier, error: `dossier ${code} is no longer registered` };
          } else {
            outcome = await sinceRunStart(pool, row.schema_name, runFrom.get(code), await patchDossier(pool, toEngine(row), patches, args.supervisorLevel));
          }
          // only while the run is running: a run closed as abandoned takes no late result
          const recorded = await pool.query(
            `INSERT INTO nightshift.patch_run_item (run_id, code, status, from_level, to_level, applied, failed_patch, failure_type, error, notes)
             SELECT r.id, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM nightshift.patch_run r WHERE r.id = $1 AND r.state = 'running'
             ON CONFLICT (run_id, code) DO UPDATE SET status = EXCLUDED.status, to_level = EXCLUDED.to_level,
               from_level = LEAST(patch_run_item.from_level, EXCLUDED.from_level),
               applied = ARRAY(SELECT DISTINCT unnest(patch_run_item.applied || EXCLUDED.applied) ORDER BY 1),
               failed_patch = EXCLUDED.failed_patch, failure_type = EXCLUDED.failure_type, error = EXCLUDED.error, finished_at = now(),
               notes = ARRAY(SELECT n FROM unnest(patch_run_item.notes || EXCLUDED.notes) WITH ORDINALITY AS u(n, i) GROUP BY n ORDER BY min(i))
             RETURNING 1`,
            [args.runId, code, outcome.status, outcome.fromLevel, outcome.toLevel, outcome.applied, outcome.failedPatch ?? null, outcome.failureType ?? null, outcome.error ?? null, outcome.notes ?? []],
          );
          if (!recorded.rowCount) throw await patchRunClosed(pool, args.runId);
          outcomes.push(outcome);
          doneCount = i + 1;
          heartbeat(doneCount);
        }
      } finally {
        clearInterval(timer);
      }
      await note(pool, args.runId);
      return outcomes;
    },

    /** Closes the run: its state from the items (or the given failure), R-PI-9's list from the registry. */
    async finishPatchRun(args: { target: string; runId: number; error?: string; notes: string[] }): Promise<{
      state: PatchRunState;
      supervisorLevel: number | null;
      toRevalidate: { code: string; level: number }[];
      toRevalidateCount: number;
      failures: { code: string; patch?: number; error: string }[];
    }> {
      const pool = pools.get(args.target);
      // dossiers the run touched but never finished (it ended early): failed, at the level they reached
      const unfinished = await pool.query<{ code: string; from_level: number; schema_name: string | null; level: number | null }>(
        `SELECT i.code, i.from_level, d.schema_name, d.patch_level AS level FROM nightshift.patch_run_item i
           JOIN nightshift.patch_run r ON r.id = i.run_id AND r.state = 'running'
           LEFT JOIN nightshift.dossier d ON d.code = i.code
          WHERE i.run_id = $1 AND i.status = 'pending'`,
        [args.runId],
      );
      for (const u of unfinished.rows) {
        const level = u.level ?? u.from_level;
        const reached =
          u.schema_name && level > u.from_level
            ? await sinceRunStart(pool, u.schema_name, u.from_level, { code: u.code, status: 'failed', fromLevel: level, toLevel: level, applied: [] })
            : { applied: [] as number[] };
        await pool.query(
          `UPDATE nightshift.patch_run_item SET status = 'failed', to_level = $3, applied = $4, error = $5, finished_at = now()
            WHERE run_id = $1 AND code = $2 AND status = 'pending'`,
          [args.runId, u.code, level, reached.applied, `not finished: the run ended (${(args.error ?? 'early').slice(0, 500)}) before this dossier was done`],
        );
      }
      const failures = (
        await pool.query<{ code: string; failed_patch: number | null; error: string | null }>(
          `SELECT code, failed_patch, error FROM nightshift.patch_run_item WHERE run_id = $1 AND status = 'failed' ORDER BY code LIMIT 100`,
          [args.runId],
        )
      ).rows.map((r) => ({ code: r.code, ...(r.failed_patch !== null ? { patch: r.failed_patch } : {}), error: r.error ?? 'failed' }));
      const state: PatchRunState = args.error ? 'failed' : failures.length ? 'partial' : 'completed';
      await pool.query(
        `UPDATE nightshift.patch_run SET state = $2, error = coalesce($3, error), notes = $4, finished_at = now(), updated_at = now() WHERE id = $1 AND state = 'running'`,
        [args.runId, state, args.error ?? null, args.notes],
      );
      const levels = await revalidationList(pool);
      return { state, ...levels, failures };
    },
  };
}

/** R-PI-9: the supervisor's level and the dossiers below it (first 200, and the count). */
export async function revalidationList(pool: pg.Pool): Promise<{ supervisorLevel: number | null; toRevalidate: { code: string; level: number }[]; toRevalidateCount: number }> {
  const sup = (await pool.query<{ patch_level: number }>(`SELECT patch_level FROM nightshift.dossier WHERE role = 'supervisor'`)).rows[0];
  if (!sup) return { supervisorLevel: null, toRevalidate: [], toRevalidateCount: 0 };
  const { rows } = await pool.query<{ code: string; patch_level: number; n: string }>(
    `SELECT code, patch_level, count(*) OVER () AS n FROM nightshift.dossier
      WHERE role <> 'supervisor' AND patch_level < $1 ORDER BY code LIMIT 200`,
    [sup.patch_level],
  );
  return { supervisorLevel: sup.patch_level, toRevalidate: rows.map((r) => ({ code: r.code, level: r.patch_level })), toRevalidateCount: rows.length ? Number(rows[0]!.n) : 0 };
}

import type { Queryable } from '../queryable';

/** One consistent, read-only view of the database for everything the caller reads next. */
export async function beginSnapshot(db: Queryable): Promise<void> {
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
}

/**
 * A dossier's backup snapshot (archive/engine.ts): beginSnapshot, with the generic plan of every prepared statement
 * from its first execution, in the same round trip. PostgreSQL plans a prepared statement's first five executions on
 * a connection for their parameters before it settles on the generic plan, which for the backup's statements (the
 * registry row, the catalog read: every path by index) is the plan it settles on. A worker recycles its connections
 * (workers/resources.ts), so each new one paid that five times: executions 2 to 6 of a dossier's snapshot row and
 * catalog read took 50 ms in all on a busy machine, 15 ms on the generic plan (bench/backup-plans.ts).
 */
export async function beginBackupSnapshot(db: Queryable, lockWaitSeconds = BACKUP_LOCK_WAIT_SECONDS): Promise<void> {
  const wait = Math.max(1, Math.floor(lockWaitSeconds));
  await db.query(`BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL lock_timeout = '${wait}s'`);
}

/**
 * R-BK-3, as pg_dump's --lock-wait-timeout: how long a backup waits for a table another session holds locked (an ALTER,
 * a LOCK TABLE left open) before it gives the dossier up as in use, taken first next time (drill M, session 37: a window's
 * backup waited 9 min 33 s on such a lock, and its `cancel` with it). The same SET, in the same round trip.
 */
export const BACKUP_LOCK_WAIT_SECONDS = 30;

/**
 * PostgreSQL's lock table against the dossiers' restores (README, *Sizing workers and gates*). A restore, and a
 * rollback, which restores, creates every object of a dossier in one transaction and holds a lock on each until it
 * commits; the slots are shared by every session of the server. At the default 64 × 100, two restores of dossiers of
 * ~800 tables ran out (`out of shared memory`), and the rollback was retried until the setting was raised (drill R).
 */

/** Restores or rollbacks of a target at once: the fan-out's two chunks in flight of two dossiers each. */
export const RESTORES_AT_ONCE = 4;

export interface LockTableShortfall {
  /** slots RESTORES_AT_ONCE restores of the largest dossier take */
  needed: number;
  /** slots the server has in all */
  capacity: number;
  /** a max_locks_per_transaction that leaves half the table to the other sessions (a multiple of 64, at least 256) */
  suggested: number;
}

/**
 * Short when RESTORES_AT_ONCE restores of the largest dossier would take more than half of the table (the rest is for
 * the application, the gate, Temporal when it shares the server, and the backups' snapshots); else undefined.
 */
export function lockTableShortfall(
  t: { maxLocksPerTransaction: number; maxConnections: number; maxPreparedTransactions: number },
  largestObjects: number,
  atOnce = RESTORES_AT_ONCE,
): LockTableShortfall | undefined {
  const sessions = t.maxConnections + t.maxPreparedTransactions;
  const capacity = t.maxLocksPerTransaction * sessions;
  const needed = largestObjects * atOnce;
  if (needed * 2 <= capacity) return undefined;
  return { needed, capacity, suggested: Math.max(256, Math.ceil((needed * 2) / Math.max(1, sessions) / 64) * 64) };
}

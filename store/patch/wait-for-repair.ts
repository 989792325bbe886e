import type { Queryable } from '../queryable';

/**
 * A restore's transaction waits for a `patch repair` at work (which holds this key until it ends, repair-lock.ts), so
 * that the ledger it brings back is realigned with the repair once that is done, not half-way. Shared: restores do not
 * wait for one another.
 */
export async function waitForRepair(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock_shared(hashtext('nightshift.patch_repair'))`);
}

import type { Queryable } from '../queryable';

/** Inside the rollback claim's transaction: two claims at once queue here instead of racing between the checks and the insert (R-PI-2). */
export async function takeRollbackClaimLock(client: Queryable): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.patch_rollback_run'))`);
}

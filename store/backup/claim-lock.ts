import type { Queryable } from '../queryable';

/**
 * Inside the claim's transaction: two claims at once queue here instead of racing between the checks and the insert.
 * The patch run's and the rollback's claims take it too, first (then their own): a batch and a patch run started at the
 * same moment cannot both pass R-PI-2.
 */
export async function takeClaimLock(client: Queryable): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.backup-batch'))`);
}

import type { Queryable } from '../queryable';

/** Inside the restore run's claim transaction (after the backup batch's claim lock): two claims at once queue here. */
export async function takeRestoreClaimLock(client: Queryable): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.restore_run'))`);
}

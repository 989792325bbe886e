import type { Queryable } from '../queryable';

/**
 * Held by a repair on its own connection until it ends (or the connection closes): the claim locks of patch runs,
 * rollbacks and restore runs (each claim-lock.ts, on the same keys), so that none is claimed while dossier ledgers and
 * the stored package disagree (a rollback or restore would also bring back a ledger row the repair realigned); and the
 * repair's own key, which every restore's transaction waits for (wait-for-repair.ts: a single-dossier restore too).
 */
export async function holdRepairLocks(client: Queryable): Promise<void> {
  await client.query(
    `SELECT pg_advisory_lock(hashtext('nightshift.patch_run')), pg_advisory_lock(hashtext('nightshift.patch_rollback_run')), pg_advisory_lock(hashtext('nightshift.restore_run')), pg_advisory_lock(hashtext('nightshift.patch_repair'))`,
  );
}

import type { Queryable } from '../queryable';

/**
 * In the caller's transaction: waits for any other change of the common retention value. An advisory lock, not
 * FOR UPDATE: while no value is stored there is no row to lock, and two first sets would both insert.
 */
export async function lockRetentionSetting(tx: Queryable): Promise<void> {
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.backup_setting:retention'))`);
}

import type { Queryable } from '../queryable';

/** Inside a rotating verify run's claim: two claimed at once queue here instead of both reading the same part. */
export async function lockVerifyRotation(db: Queryable): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.verify_run:rotation'))`);
}

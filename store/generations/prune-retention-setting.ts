import type { Queryable } from '../queryable';

/** The common retention value as stored (nightshift.backup_setting 'retention', R-BK-9 / R-BK-11); undefined: none. */
export async function readRetentionSetting(db: Queryable): Promise<unknown> {
  const { rows } = await db.query<{ value: unknown }>(`SELECT value FROM nightshift.backup_setting WHERE key = 'retention'`);
  return rows[0]?.value;
}

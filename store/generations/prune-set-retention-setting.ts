import type { CommonRetention } from '../../domain/retention';
import type { Queryable } from '../queryable';

/** Sets (or, undefined, removes) the common retention value: a policy per folder kind (R-BK-9 / R-BK-11). */
export async function setRetentionSetting(db: Queryable, value: CommonRetention | undefined): Promise<void> {
  if (value === undefined) await db.query(`DELETE FROM nightshift.backup_setting WHERE key = 'retention'`);
  else {
    await db.query(
      `INSERT INTO nightshift.backup_setting (key, value) VALUES ('retention', $1::jsonb)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [JSON.stringify(value)],
    );
  }
}

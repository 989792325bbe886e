import type { Queryable } from '../queryable';

/** The change counter's triggers (R-BK-1) on every table of a restored dossier schema. */
export async function installTouchTriggers(db: Queryable, schema: string): Promise<void> {
  await db.query('SELECT nightshift.install_touch_triggers($1)', [schema]);
}

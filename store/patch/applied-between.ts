import { qualified } from '../../db/ident';
import type { Queryable } from '../queryable';

/** The patch numbers in (after, upTo] that a dossier's own ledger (apatch, R-PI-8) records, in order. */
export async function appliedBetween(db: Queryable, schemaName: string, after: number, upTo: number): Promise<number[]> {
  const { rows } = await db.query<{ number: number }>(`SELECT number FROM ${qualified(schemaName, 'apatch')} WHERE number > $1 AND number <= $2 ORDER BY number`, [after, upTo]);
  return rows.map((r) => r.number);
}

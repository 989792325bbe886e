import { qualified } from '../../db/ident';
import type { Queryable } from '../queryable';

/** A sequence's current state (as seen by the caller's snapshot). */
export async function sequenceValue(db: Queryable, schema: string, name: string): Promise<{ lastValue: string; isCalled: boolean }> {
  const { rows } = await db.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM ${qualified(schema, name)}`);
  return { lastValue: rows[0]!.last_value, isCalled: rows[0]!.is_called };
}

import type { Queryable } from '../queryable';

/**
 * A restored dossier's ledger rows holding a checksum a completed `patch repair` replaced, realigned to the stored
 * package's (migration 0041), in the restore's transaction: the patch numbers realigned.
 */
export async function realignRestoredLedger(db: Queryable, schema: string): Promise<number[]> {
  const { rows } = await db.query<{ numbers: number[] }>('SELECT nightshift.realign_repaired_ledger($1) AS numbers', [schema]);
  return rows[0]!.numbers;
}

import type pg from 'pg';
import type { Queryable } from '../queryable';
import { inTransaction } from '../transaction';

/** PostgreSQL's shared lock table as configured: max_locks_per_transaction × (max_connections + max_prepared_transactions) slots. */
export interface LockTableSettings {
  maxLocksPerTransaction: number;
  maxConnections: number;
  maxPreparedTransactions: number;
}

export async function lockTableSettings(db: Queryable): Promise<LockTableSettings> {
  const { rows } = await db.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings WHERE name IN ('max_locks_per_transaction', 'max_connections', 'max_prepared_transactions')`,
  );
  const v = (name: string) => Number(rows.find((r) => r.name === name)?.setting ?? 0);
  return { maxLocksPerTransaction: v('max_locks_per_transaction'), maxConnections: v('max_connections'), maxPreparedTransactions: v('max_prepared_transactions') };
}

/**
 * The dossier whose restore locks the most objects: its schema's relations (tables, indexes, sequences, views), each
 * table's TOAST table and its index, and the schema. One scan of pg_class (it has no index by namespace alone), bounded
 * by `timeout` (a PostgreSQL interval such as '2s': error 57014 past it). Undefined when no dossier has a schema.
 */
export async function largestDossierObjects(client: pg.ClientBase, timeout: string): Promise<{ code: string; objects: number } | undefined> {
  return inTransaction(client, async () => {
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [timeout]);
    const { rows } = await client.query<{ code: string; objects: number }>(
      `SELECT d.code, (count(*) + 2 * count(*) FILTER (WHERE c.reltoastrelid <> 0) + 1)::int AS objects
         FROM nightshift.dossier d
         JOIN pg_namespace n ON n.nspname = d.schema_name::name
         JOIN pg_class c ON c.relnamespace = n.oid
        GROUP BY d.code
        ORDER BY objects DESC, d.code
        LIMIT 1`,
    );
    return rows[0];
  });
}

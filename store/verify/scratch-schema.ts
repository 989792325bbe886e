import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

/**
 * Scratch schemas of the verification (R-BK-13): `nightshift_verify_<hex>`, a name no dossier can have
 * (dossier schemas are d_<code>). Created inside the caller's transaction, which is always rolled back:
 * nothing of a scratch restore is ever committed.
 */
export const SCRATCH_SCHEMA_PREFIX = 'nightshift_verify_';

export async function createScratchSchema(db: Queryable, schema: string): Promise<void> {
  if (!schema.startsWith(SCRATCH_SCHEMA_PREFIX)) throw new Error(`not a scratch schema name: ${schema}`);
  // a seq scan of a table loaded in this transaction returns its rows in load order; a synchronized scan could start mid-table
  await db.query(`CREATE SCHEMA ${ident(schema)}; SET LOCAL synchronize_seqscans = off`);
}

/** Belt and braces after the rollback: a scratch schema of that name is dropped if it exists at all. */
export async function dropScratchSchema(db: Queryable, schema: string): Promise<void> {
  if (!schema.startsWith(SCRATCH_SCHEMA_PREFIX)) throw new Error(`not a scratch schema name: ${schema}`);
  await db.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
}

/** Scratch schemas present now (a check, and the tests: none may stay). */
export async function scratchSchemas(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1", [SCRATCH_SCHEMA_PREFIX]);
  return rows.map((r) => r.nspname);
}

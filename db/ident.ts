import { escapeIdentifier } from 'pg';

const SAFE_IDENT = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

/**
 * The one quoting helper for SQL identifiers built from data (dossier schemas, table names read
 * from the catalog). It refuses anything outside the safe alphabet before quoting, so a hostile
 * name is an error, never SQL.
 */
export function ident(name: string): string {
  if (!SAFE_IDENT.test(name)) throw new Error(`refusing unsafe SQL identifier ${JSON.stringify(name.slice(0, 80))}`);
  return escapeIdentifier(name);
}

/** schema.table, each part quoted. */
export function qualified(schema: string, table: string): string {
  return `${ident(schema)}.${ident(table)}`;
}

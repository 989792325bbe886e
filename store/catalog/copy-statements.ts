import { ident, qualified } from '../../db/ident';

/** The COPY statements of one table's data (for pg-copy-streams); every name through the one quoting helper. */
export function copyToSql(schema: string, table: string, columns: string[]): string {
  return `COPY ${qualified(schema, table)} (${columns.map(ident).join(', ')}) TO STDOUT`;
}

/** Into the table of that name in the schema on the search_path (the one being restored). */
export function copyFromSql(table: string, columns: string[]): string {
  return `COPY ${ident(table)} (${columns.map(ident).join(', ')}) FROM STDIN`;
}

import type pg from 'pg';
import { from as copyFrom, to as copyTo, type CopyStreamQuery, type CopyToStreamQuery } from 'pg-copy-streams';
import { ident, qualified } from '../../db/ident';

/** The COPY statements of one table's data (for pg-copy-streams); every name through the one quoting helper. */
export function copyToSql(schema: string, table: string, columns: string[]): string {
  return `COPY ${qualified(schema, table)} (${columns.map(ident).join(', ')}) TO STDOUT`;
}

/** Into the table of that name in the schema on the search_path (the one being restored). */
export function copyFromSql(table: string, columns: string[]): string {
  return `COPY ${ident(table)} (${columns.map(ident).join(', ')}) FROM STDIN`;
}

/** A readable stream of one table's rows in COPY text format, inside the caller's snapshot. */
export function copyTableOut(client: Pick<pg.PoolClient, 'query'>, schema: string, table: string, columns: string[]): CopyToStreamQuery {
  return client.query(copyTo(copyToSql(schema, table, columns)));
}

/** A writable stream that loads COPY text rows into a table of the schema on the search_path. */
export function copyTableIn(client: Pick<pg.PoolClient, 'query'>, table: string, columns: string[]): CopyStreamQuery {
  return client.query(copyFrom(copyFromSql(table, columns)));
}

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

/**
 * A readable stream of one table's rows in COPY text format, inside the caller's snapshot, and `rows`: the server's
 * count of them. pg-copy-streams ends the stream at CopyDone and sets `rowCount` only when the CommandComplete that
 * follows is read: when the two arrive in separate reads of the socket (a busy machine), `rowCount` read at the
 * stream's end is still 0 (drill R: a sound archive's verification said "0 rows restored"; a backup would have
 * written 0 in its manifest). `rows` settles at CommandComplete; it rejects with the statement's error.
 */
export function copyTableOut(client: Pick<pg.PoolClient, 'query'>, schema: string, table: string, columns: string[]): CopyToStreamQuery & { rows: Promise<number> } {
  // pg calls the query's handleCommandComplete (untyped in @types/pg-copy-streams), which sets rowCount
  const query = copyTo(copyToSql(schema, table, columns)) as CopyToStreamQuery & { handleCommandComplete(msg: unknown): void };
  const rows = new Promise<number>((resolve, reject) => {
    const complete = query.handleCommandComplete.bind(query);
    query.handleCommandComplete = (msg: unknown) => {
      complete(msg);
      resolve(query.rowCount);
    };
    query.once('error', reject);
  });
  rows.catch(() => {}); // the stream's consumer gets the same error
  return Object.assign(client.query(query), { rows });
}

/** A writable stream that loads COPY text rows into a table of the schema on the search_path. */
export function copyTableIn(client: Pick<pg.PoolClient, 'query'>, table: string, columns: string[]): CopyStreamQuery {
  return client.query(copyFrom(copyFromSql(table, columns)));
}

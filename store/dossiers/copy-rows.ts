import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { qualified } from '../../db/ident';

/** Loads rows in COPY text format (tab-separated, escaped) into one table of a dossier schema. */
export async function copyRows(client: Pick<pg.PoolClient, 'query'>, schema: string, table: string, columns: string, data: string): Promise<void> {
  if (!data) return;
  await pipeline(Readable.from([Buffer.from(data, 'utf8')]), client.query(copyFrom(`COPY ${qualified(schema, table)} (${columns}) FROM STDIN`)));
}

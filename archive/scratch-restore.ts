import crypto from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import type { CopyStreamQuery } from 'pg-copy-streams';
import { copyTableIn, copyTableOut } from '../store/catalog/copy-statements';
import { createTables } from '../store/catalog/create-tables';
import { finishStructure } from '../store/catalog/finish-structure';
import { setLocalSearchPath } from '../store/catalog/set-search-path';
import { begin, rollback } from '../store/backup/transaction';
import { SCRATCH_SCHEMA_PREFIX, createScratchSchema, dropScratchSchema } from '../store/verify/scratch-schema';
import { type ArchiveManifest, type Structure, copyColumns } from './format';
import type { BackupKeyring } from './keys';
import { invalid, readArchive } from './reader';

/**
 * A verification's restore (R-BK-13): the archive loaded into a throw-away schema `nightshift_verify_<hex>`
 * with the restore engine's pieces (structure, COPY in, constraints and indexes), then each table COPied out
 * the same way and compared with what the archive says: its row count (manifest) and the SHA-256 of its
 * COPY data (the table part's checksum). No dossier is registered and nothing is committed: it all happens
 * in one transaction that is always rolled back (a killed worker's connection rolls back too), and the
 * schema name is dropped if it exists at all afterwards.
 */

export interface ScratchRestoreResult {
  schema: string;
  tables: number;
  rows: number;
  /** what differs between the restored tables and the archive (empty: equal) */
  differences: string[];
}

export async function scratchRestoreCompare(o: { pool: pg.Pool; file: string; keys?: BackupKeyring; signal?: AbortSignal }): Promise<ScratchRestoreResult> {
  const schema = `${SCRATCH_SCHEMA_PREFIX}${crypto.randomBytes(6).toString('hex')}`;
  const client = await o.pool.connect();
  let clientError: Error | undefined;
  let structure: Structure | undefined;
  let copy: { stream: CopyStreamQuery; error?: Error } | undefined;
  let manifest: ArchiveManifest | undefined;
  const loaded = new Map<string, number>();
  const differences: string[] = [];
  let rows = 0;
  try {
    await begin(client);
    await createScratchSchema(client, schema);
    await setLocalSearchPath(client, schema);
    await readArchive(o.file, {
      async structure(s) {
        structure = s;
        await createTables(client, s);
      },
      partStart(p) {
        if (p.kind !== 'table') return;
        const table = structure!.tables.find((t) => t.name === p.name)!;
        const stream = copyTableIn(client, table.name, copyColumns(table));
        const c: { stream: CopyStreamQuery; error?: Error } = { stream };
        stream.on('error', (err) => (c.error ??= err));
        copy = c;
      },
      async data(chunk, p) {
        o.signal?.throwIfAborted();
        if (p.kind !== 'table' || !copy) return;
        if (copy.error) throw copy.error;
        if (!copy.stream.write(chunk)) await once(copy.stream, 'drain');
      },
      async partEnd(p, info) {
        if (p.kind !== 'table' || !copy) return;
        copy.stream.end();
        await finished(copy.stream);
        loaded.set(p.name, copy.stream.rowCount);
        if (copy.stream.rowCount !== info.rows) throw invalid(`table ${p.name}: ${copy.stream.rowCount} rows loaded, ${info.rows} in the archive`);
        rows += info.rows;
        copy = undefined;
      },
      async manifest(m) {
        manifest = m;
        await finishStructure(client, structure!);
      },
    }, o.keys);

    // each table read back as the backup read it, and compared with the archive's own numbers
    for (const t of structure!.tables) {
      o.signal?.throwIfAborted();
      const expectedRows = manifest!.tables.find((x) => x.name === t.name)?.rows;
      const part = manifest!.parts.find((x) => x.kind === 'table' && x.name === t.name);
      const hash = crypto.createHash('sha256');
      const out = copyTableOut(client, schema, t.name, copyColumns(t));
      for await (const chunk of out as AsyncIterable<Buffer>) hash.update(chunk);
      const sha256 = hash.digest('hex');
      const restored = await out.rows;
      if (restored !== expectedRows) differences.push(`table ${t.name}: ${restored} rows restored, the archive says ${expectedRows}`);
      else if (loaded.get(t.name) !== expectedRows) differences.push(`table ${t.name}: ${loaded.get(t.name)} rows loaded, the archive says ${expectedRows}`);
      if (part?.sha256 !== sha256) differences.push(`table ${t.name}: checksum of the restored data ${sha256.slice(0, 12)}… differs from the archive's ${part?.sha256.slice(0, 12) ?? '(none)'}…`);
    }
    return { schema, tables: structure!.tables.length, rows, differences };
  } catch (err) {
    copy?.stream.destroy();
    throw err;
  } finally {
    // nothing of it is ever kept: the transaction is rolled back, and the name dropped should it exist at all
    await rollback(client).catch((e: Error) => (clientError = e));
    if (!clientError) await dropScratchSchema(client, schema).catch((e: Error) => (clientError = e));
    client.release(clientError);
  }
}

import fs from 'node:fs/promises';
import type pg from 'pg';
import { type Dossier, dossierCodeSchema, newDossierSchema } from '../domain/dossier';
import { DOSSIER_IN_USE_MESSAGE, FailureType, permanentFailure } from '../domain/failures';
import { parseInput } from '../domain/validation';
import type { Queryable } from '../store/queryable';
import { withTransaction } from '../store/transaction';
import { deleteDossier as deleteDossierRows } from '../store/dossiers/delete-dossier';
import { findDossier } from '../store/dossiers/find-dossier';
import { insertDossier } from '../store/dossiers/insert-dossiers';
import { tableStats, type TableStat } from '../store/dossiers/table-stats';
import { documentsFolder } from './documents';

/**
 * The dossier registry of one target: what `nightshift dossiers` does and what the registry
 * activities wrap. Refusals are the named, non-retryable failures of domain/failures.ts.
 */

export { listDossiers } from '../store/dossiers/list-dossiers';
export type { TableStat };

export async function getDossier(db: Queryable, target: string, code: string): Promise<Dossier> {
  const valid = dossierCodeSchema.safeParse(code);
  if (!valid.success) throw permanentFailure(FailureType.InvalidInput, valid.error.issues[0]!.message);
  const dossier = await findDossier(db, code);
  if (!dossier) throw permanentFailure(FailureType.UnknownDossier, `unknown dossier ${code} in target ${target}`);
  return dossier;
}

/** A new dossier with the base accounting structure and no data. */
export async function createDossier(pool: pg.Pool, target: string, raw: unknown): Promise<Dossier> {
  const input = parseInput(newDossierSchema, raw);
  await withTransaction(pool, (c) => insertDossier(c, input, true));
  return getDossier(pool, target, input.code);
}

/** Drops the dossier's schema and registry row (refused while in use), then its documents. */
export async function deleteDossier(pool: pg.Pool, documentsDir: string, target: string, code: string): Promise<void> {
  const dossier = await getDossier(pool, target, code);
  await withTransaction(pool, async (c) => {
    if ((await deleteDossierRows(c, code, dossier.schemaName)) === 'in-use') throw permanentFailure(FailureType.DossierInUse, DOSSIER_IN_USE_MESSAGE);
  });
  await fs.rm(documentsFolder(documentsDir, target, code), { recursive: true, force: true });
}

/** Row count and checksum of each table, from one snapshot: what a round trip must preserve. */
export async function dossierTableStats(pool: pg.Pool, target: string, code: string): Promise<TableStat[]> {
  const dossier = await getDossier(pool, target, code);
  return withTransaction(pool, (c) => tableStats(c, dossier.schemaName));
}

import type { Dossier } from '../../domain/dossier';
import type { Queryable } from '../queryable';
import { DOSSIER_COLUMNS, toDossier, type DossierRow } from './dossier-row';

/** What `dossiers list` narrows the registry to (every field optional: none = every dossier). */
export interface DossierFilter {
  /** codes matching this pattern, `*` any run of characters, in any case (every other character literal) */
  code?: string;
  /** only those modified since their last backup (R-BK-1; the nightly selection also applies R-BK-2) */
  modified?: boolean;
  /** only those whose patch level is below this one (the laggards a revalidation takes) */
  below?: number;
  /** at most this many rows, in the list's order */
  limit?: number;
}

/** A LIKE pattern from `*` wildcards: `_`, `%` and `\` are a code's own characters (`_` is allowed in codes). */
const likePattern = (glob: string): string => glob.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%');

/** Every dossier of the target, the supervisor first, then by code. */
export async function listDossiers(db: Queryable): Promise<Dossier[]> {
  return (await selectDossiers(db, {})).dossiers;
}

/**
 * The dossiers `filter` keeps, in listDossiers' order, and how many it keeps in all (`matching`: `limit` does not cut
 * it). Filtered in the statement: a registry of 100,000 dossiers is not read to print twenty.
 */
export async function selectDossiers(db: Queryable, filter: DossierFilter): Promise<{ dossiers: Dossier[]; matching: number }> {
  const where: string[] = [];
  const values: unknown[] = [];
  if (filter.code !== undefined) where.push(`code ILIKE $${values.push(likePattern(filter.code))}`);
  if (filter.modified) where.push('(backup_seq IS NULL OR change_seq > backup_seq)');
  if (filter.below !== undefined) where.push(`patch_level < $${values.push(filter.below)}`);
  const limit = filter.limit !== undefined ? ` LIMIT $${values.push(filter.limit)}` : '';
  const { rows } = await db.query<DossierRow & { matching: string }>(
    `SELECT ${DOSSIER_COLUMNS}, count(*) OVER () AS matching FROM nightshift.dossier
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY role = 'supervisor' DESC, code${limit}`,
    values,
  );
  return { dossiers: rows.map(toDossier), matching: rows.length ? Number(rows[0]!.matching) : 0 };
}

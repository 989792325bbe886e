import type { Queryable } from '../queryable';
import { MODIFIED_SINCE_BACKUP_SQL, nightlyKeepsSql } from '../backup/selection-sql';

/**
 * Those of `codes` (registered dossiers) that R-BK-2 leaves out of the nightly selection, each with why: a template,
 * a test dossier, a non-transferable one. `backup run --only` takes them since it names them, and says so.
 */
export const EXCLUSIONS_SHOWN = 20;

/** Why R-BK-2 leaves dossier `d` out, from its flags ('' when none does); the copy status is said apart, it depends on the settings. */
const WHY_FLAGS_SQL = `concat_ws(', ', CASE WHEN d.is_template THEN 'a template' END, CASE WHEN d.is_test THEN 'a test dossier' END,
                              CASE WHEN NOT d.is_transferable THEN 'not transferable' END)`;

/** The first EXCLUSIONS_SHOWN of them, in the order named, and how many there are in all. */
export async function selectionExclusions(db: Queryable, codes: string[]): Promise<{ shown: { code: string; why: string }[]; total: number }> {
  const { rows } = await db.query<{ code: string; why: string; total: number }>(
    `SELECT d.code, count(*) OVER ()::int AS total, ${WHY_FLAGS_SQL} AS why
       FROM unnest($1::text[]) WITH ORDINALITY AS c(code, n) JOIN nightshift.dossier d ON d.code = c.code
      WHERE d.is_template OR d.is_test OR NOT d.is_transferable ORDER BY c.n LIMIT ${EXCLUSIONS_SHOWN}`,
    [codes],
  );
  return { shown: rows.map(({ code, why }) => ({ code, why })), total: rows[0]?.total ?? 0 };
}

/**
 * The dossiers modified since their last backup (or never backed up) that the nightly selection leaves out all the same
 * (R-BK-2: a template, a test dossier, a non-transferable one, or a copy status the settings do not take), the first
 * EXCLUSIONS_SHOWN by code with why, and how many in all: `backup run --dry-run` says them, or "none changed" misleads.
 */
export async function modifiedLeftOut(db: Queryable, copyStatuses: readonly string[]): Promise<{ shown: { code: string; why: string }[]; total: number }> {
  const { rows } = await db.query<{ code: string; why: string; total: number }>(
    `SELECT d.code, count(*) OVER ()::int AS total,
            concat_ws(', ', nullif(${WHY_FLAGS_SQL}, ''),
                      CASE WHEN NOT d.copy_status = ANY ($1::text[]) THEN
                        CASE d.copy_status WHEN 'copy' THEN 'a copy (the dossiers setting takes originals)' ELSE 'an original (the dossiers setting takes copies)' END END) AS why
       FROM nightshift.dossier d
      WHERE ${MODIFIED_SINCE_BACKUP_SQL} AND NOT (${nightlyKeepsSql('$1::text[]')})
      ORDER BY d.code LIMIT ${EXCLUSIONS_SHOWN}`,
    [copyStatuses],
  );
  return { shown: rows.map(({ code, why }) => ({ code, why })), total: rows[0]?.total ?? 0 };
}

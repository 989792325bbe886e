import type { Queryable } from '../queryable';

/**
 * Those of `codes` (registered dossiers) that R-BK-2 leaves out of the nightly selection, each with why: a template,
 * a test dossier, a non-transferable one. `backup run --only` takes them since it names them, and says so.
 */
export const EXCLUSIONS_SHOWN = 20;

/** The first EXCLUSIONS_SHOWN of them, in the order named, and how many there are in all. */
export async function selectionExclusions(db: Queryable, codes: string[]): Promise<{ shown: { code: string; why: string }[]; total: number }> {
  const { rows } = await db.query<{ code: string; why: string; total: number }>(
    `SELECT d.code, count(*) OVER ()::int AS total, concat_ws(', ', CASE WHEN d.is_template THEN 'a template' END, CASE WHEN d.is_test THEN 'a test dossier' END,
                              CASE WHEN NOT d.is_transferable THEN 'not transferable' END) AS why
       FROM unnest($1::text[]) WITH ORDINALITY AS c(code, n) JOIN nightshift.dossier d ON d.code = c.code
      WHERE d.is_template OR d.is_test OR NOT d.is_transferable ORDER BY c.n LIMIT ${EXCLUSIONS_SHOWN}`,
    [codes],
  );
  return { shown: rows.map(({ code, why }) => ({ code, why })), total: rows[0]?.total ?? 0 };
}

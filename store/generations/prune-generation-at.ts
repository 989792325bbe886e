import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

/**
 * The dossier's kept generation taken at or just before `at` (restore --at, R-BK-11), compared to the millisecond
 * (a snapshot time has microseconds; `at` is the last millisecond the operator named); undefined: none. `validOnly`:
 * skip the generations a verification found corrupt or missing (domain/retention.ts isValidGeneration); `withCopy`:
 * only those with an off-site copy (restore --from offsite, R-BK-14); `restorable`: valid, or with a copy (isRestorable);
 * `kind`: only that folder kind's (restore --kind, R-BK-9).
 */
export async function generationAt(
  db: Queryable,
  code: string,
  at: Date,
  { validOnly = false, withCopy = false, restorable = false, kind = null as string | null } = {},
): Promise<Generation | undefined> {
  const { rows } = await db.query<GenerationRow>(
    `SELECT ${GENERATION_COLUMNS} FROM nightshift.backup_generation
      WHERE code = $1 AND deleted_at IS NULL AND snapshot_at < $2::timestamptz + interval '1 millisecond'
        AND ($3::boolean IS FALSE OR verify_state NOT IN ('corrupt', 'missing'))
        AND ($4::boolean IS FALSE OR offsite_state = 'copied')
        AND ($5::boolean IS FALSE OR verify_state NOT IN ('corrupt', 'missing') OR offsite_state = 'copied')
        AND ($6::text IS NULL OR kind = $6)
      ORDER BY snapshot_at DESC, id DESC LIMIT 1`,
    [code, at, validOnly, withCopy, restorable, kind],
  );
  return rows[0] && toGeneration(rows[0]);
}

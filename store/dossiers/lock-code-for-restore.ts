import { caseTwinMessage } from '../../domain/dossier';
import { FailureType, permanentFailure } from '../../domain/failures';
import type { Queryable } from '../queryable';

/**
 * In the caller's transaction: waits for any other restore of this code (case-insensitive), then
 * locks and returns the dossier registered under it, if any. A dossier whose code differs from `code`
 * only by case is another dossier (codes are case-sensitive, the registry keeps them unique in any case):
 * a restore never replaces it, with or without --replace (DossierExists, non-retryable).
 */
export async function lockCodeForRestore(db: Queryable, code: string): Promise<{ code: string; schema_name: string; last_backup_at: Date | null } | undefined> {
  await db.query(`SELECT pg_advisory_xact_lock(hashtext('nightshift.restore:' || lower($1)))`, [code]);
  const { rows } = await db.query<{ code: string; schema_name: string; last_backup_at: Date | null }>(
    'SELECT code, schema_name, last_backup_at FROM nightshift.dossier WHERE lower(code) = lower($1) FOR UPDATE',
    [code],
  );
  const old = rows[0];
  if (old && old.code !== code) throw permanentFailure(FailureType.DossierExists, caseTwinMessage(old.code, code, 'restored'));
  return old;
}

import type { Queryable } from '../queryable';

export type RevokeOutcome = 'revoked' | 'already-revoked' | 'unknown';

/** Revokes a key (kept, with its revocation instant); the gates stop accepting it at their next key refresh. */
export async function revokeKey(db: Queryable, id: string): Promise<RevokeOutcome> {
  const { rows } = await db.query<{ revoked_now: boolean }>(
    `WITH k AS (SELECT id, revoked_at FROM nightshift.gate_key WHERE id = $1),
          upd AS (UPDATE nightshift.gate_key g SET revoked_at = now() FROM k WHERE g.id = k.id AND k.revoked_at IS NULL RETURNING 1)
     SELECT EXISTS (SELECT 1 FROM upd) AS revoked_now FROM k`,
    [id],
  );
  if (!rows[0]) return 'unknown';
  return rows[0].revoked_now ? 'revoked' : 'already-revoked';
}

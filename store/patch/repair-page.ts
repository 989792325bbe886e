import type { Queryable } from '../queryable';

/**
 * One page of the dossiers that hold a patch (at or above its level), in code order after `after`: those whose ledger
 * row holds one of the old checksums, realigned to the new one with the repair's count in one statement (one
 * transaction: a page's ledgers and its count together), or only counted (`repairId` null: a dry run). Each dossier
 * realigned is recorded under the repair with its change counter before and after (migration 0042): the touch trigger's
 * bump is the repair's own, not a user's write (a rollback's data-loss check, store/rollback/changed-since-patch.ts).
 * `last`: the page's last code (null: no dossier left).
 */
export async function repairPage(
  db: Queryable,
  p: { repairId: number | null; number: number; oldChecksums: string[]; newChecksum: string; after: string; size: number },
): Promise<{ last: string | null; repaired: number }> {
  const { rows } = await db.query<{ last: string | null; repaired: number }>(
    `WITH page AS (
       SELECT code, schema_name FROM nightshift.dossier WHERE patch_level >= $2 AND code > $5 ORDER BY code LIMIT $6
     ), done AS (
       SELECT max(code) AS last,
              coalesce(sum(CASE WHEN $1::bigint IS NULL THEN nightshift.repair_patch_checksum(schema_name, $2, $3, $4, false)
                                ELSE nightshift.repair_dossier_ledger($1::bigint, code, schema_name, $2, $3, $4) END), 0)::int AS repaired
         FROM page
     ), counted AS (
       UPDATE nightshift.patch_repair r SET dossiers = r.dossiers + done.repaired FROM done WHERE r.id = $1 AND done.repaired > 0
     )
     SELECT last, repaired FROM done`,
    [p.repairId, p.number, p.oldChecksums, p.newChecksum, p.after, p.size],
  );
  return rows[0]!;
}

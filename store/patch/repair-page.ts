import type { Queryable } from '../queryable';

/**
 * One page of the dossiers that hold a patch (at or above its level), in code order after `after`: those whose ledger
 * row holds one of the old checksums, realigned to the new one with the repair's count in one statement (one
 * transaction: a page's ledgers and its count together), or only counted (`repairId` null: a dry run).
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
       SELECT max(code) AS last, coalesce(sum(nightshift.repair_patch_checksum(schema_name, $2, $3, $4, $1::bigint IS NOT NULL)), 0)::int AS repaired FROM page
     ), counted AS (
       UPDATE nightshift.patch_repair r SET dossiers = r.dossiers + done.repaired FROM done WHERE r.id = $1 AND done.repaired > 0
     )
     SELECT last, repaired FROM done`,
    [p.repairId, p.number, p.oldChecksums, p.newChecksum, p.after, p.size],
  );
  return rows[0]!;
}

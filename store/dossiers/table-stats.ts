import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

export interface TableStat {
  table: string;
  rows: number;
  /** Order-independent sum of the rows' md5 (first 60 bits), as a decimal string. */
  checksum: string;
}

/**
 * Row count and checksum of each table of a dossier schema, from one snapshot: what a round trip must
 * preserve. Must be the first statement of the caller's transaction (it sets its isolation level).
 */
export async function tableStats(tx: Queryable, schemaName: string): Promise<TableStat[]> {
  await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  // rows are hashed as text: pin every setting that changes that text, so that the worker, the
  // CLI and a restore on another server compute the same checksum for the same data
  await tx.query(`SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
                 SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'`);
  const tables = await tx.query<{ relname: string }>(
    `SELECT relname FROM nightshift.schema_relations($1) WHERE relkind IN ('r', 'p') ORDER BY relname`,
    [schemaName],
  );
  const stats: TableStat[] = [];
  for (const { relname } of tables.rows) {
    const { rows } = await tx.query<{ rows: string; checksum: string }>(
      `SELECT count(*)::text AS rows,
              coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text AS checksum
         FROM ${ident(schemaName)}.${ident(relname)} t`,
    );
    stats.push({ table: relname, rows: Number(rows[0]!.rows), checksum: rows[0]!.checksum });
  }
  return stats;
}

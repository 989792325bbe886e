import { ident } from '../../db/ident';
import type { Structure } from '../../archive/format';
import { FailureType, permanentFailure } from '../../domain/failures';
import type { Queryable } from '../queryable';
import { runStatement } from './run-statement';

/** After the data, in the schema on the search_path: keys, checks, indexes, foreign keys, sequence ownership and values. */
export async function finishStructure(db: Queryable, s: Structure): Promise<void> {
  for (const con of s.constraints) {
    await runStatement(db, `ALTER TABLE ${ident(con.table)} ADD CONSTRAINT ${ident(con.name)} ${con.definition}`);
  }
  for (const i of s.indexes) {
    if (!/^CREATE (UNIQUE )?INDEX /.test(i.definition)) throw permanentFailure(FailureType.ArchiveInvalid, `index ${i.name}: not an index definition`);
    await runStatement(db, i.definition);
  }
  for (const seq of s.sequences) {
    if (seq.ownedBy) await runStatement(db, `ALTER SEQUENCE ${ident(seq.name)} OWNED BY ${ident(seq.ownedBy.table)}.${ident(seq.ownedBy.column)}`);
    await runStatement(db, `SELECT setval($1::regclass, $2::bigint, $3)`, [ident(seq.name), seq.lastValue, seq.isCalled]);
  }
  for (const t of s.tables) {
    for (const col of t.columns) {
      if (!col.identity) continue;
      await runStatement(db, `SELECT setval(pg_get_serial_sequence($1, $2), $3::bigint, $4)`, [
        ident(t.name),
        col.name,
        col.identity.sequence.lastValue,
        col.identity.sequence.isCalled,
      ]);
    }
  }
}

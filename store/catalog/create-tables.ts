import { ident } from '../../db/ident';
import type { ColumnDef, SequenceDef, Structure } from '../../archive/format';
import type { Queryable } from '../queryable';
import { runStatement } from './run-statement';

/** Sequence options; the values are validated integer strings (archive/format.ts), the type one of three names. */
export function sequenceOptions(s: Omit<SequenceDef, 'name' | 'ownedBy'>, withType = true): string {
  return `${withType ? `AS ${s.type} ` : ''}INCREMENT BY ${s.increment} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache} ${s.cycle ? 'CYCLE' : 'NO CYCLE'}`;
}

function columnDdl(col: ColumnDef): string {
  let ddl = `${ident(col.name)} ${col.type}`;
  if (col.generated) ddl += ` GENERATED ALWAYS AS (${col.generated}) STORED`;
  // checked as one balanced expression when read (archive/format.ts): inside parentheses it cannot end the column
  else if (col.default !== undefined) ddl += ` DEFAULT (${col.default})`;
  if (col.identity) ddl += ` GENERATED ${col.identity.kind === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (${sequenceOptions(col.identity.sequence, false)})`;
  if (col.notNull) ddl += ' NOT NULL';
  return ddl;
}

/** Before the data, in the schema on the search_path: sequences and tables (columns, types, defaults, NOT NULL, identity). */
export async function createTables(db: Queryable, s: Structure): Promise<void> {
  for (const seq of s.sequences) await runStatement(db, `CREATE SEQUENCE ${ident(seq.name)} ${sequenceOptions(seq)}`);
  for (const t of s.tables) await runStatement(db, `CREATE TABLE ${ident(t.name)} (${t.columns.map(columnDdl).join(', ')})`);
}

import { ident } from '../db/ident';
import { FailureType, permanentFailure } from '../domain/failures';
import type { Queryable } from '../store/queryable';
import { type SequenceRow, readSchemaCatalog } from '../store/catalog/read-schema-catalog';
import { sequenceValue } from '../store/catalog/sequence-value';
import { type ColumnDef, type SequenceDef, type Structure } from './format';
import { canonicalColumnType } from './sql-text';

/**
 * A dossier schema's structure read from the catalog (the statements are in store/catalog, with its
 * replay on restore). The catalog is read with `search_path` set to the dossier schema (readSchemaCatalog sets it),
 * so that format_type / pg_get_expr / pg_get_constraintdef / pg_get_indexdef print unqualified names and the
 * structure can be restored under another schema.
 * Anything this does not know how to restore exactly is refused (UnsupportedObject), never skipped.
 */

function unsupported(what: string): never {
  throw permanentFailure(FailureType.UnsupportedObject, `cannot back up ${what}: this object kind is not supported by the archive format`);
}

/** Names read from the catalog go through the one quoting helper; an unquotable one is unsupported. */
function checkedName(name: string, what: string): string {
  try {
    ident(name);
  } catch {
    unsupported(`${what} ${JSON.stringify(name.slice(0, 80))} (name outside letters, digits, "_" and "-")`);
  }
  return name;
}

/** Reads the structure inside the caller's snapshot; search_path is `schema` for the rest of the caller's transaction. */
export async function readStructure(c: Queryable, schema: string): Promise<Structure> {
  const catalog = await readSchemaCatalog(c, schema);
  if (catalog.unsupported) unsupported(`${catalog.unsupported.kind} ${catalog.unsupported.name}`);
  const seqs = catalog.sequences;
  // a sequence never called has no last value in the catalog: its own row says where it stands (a RESTART moves it)
  const valueOf = async (q: SequenceRow) => (q.last_value === null ? sequenceValue(c, schema, q.name) : { lastValue: q.last_value, isCalled: true });
  const sequences: SequenceDef[] = [];
  const identitySeqs = new Map<string, SequenceRow>();
  for (const s of seqs) {
    if (s.identity) {
      identitySeqs.set(`${s.owner_table}.${s.owner_column}`, s);
      continue;
    }
    sequences.push({
      name: checkedName(s.name, 'sequence'),
      type: s.type as SequenceDef['type'],
      increment: s.increment,
      min: s.min,
      max: s.max,
      start: s.start,
      cache: s.cache,
      cycle: s.cycle,
      ...(await valueOf(s)),
      ownedBy: s.owner_table && s.owner_column ? { table: s.owner_table, column: s.owner_column } : undefined,
    });
  }

  const cols = catalog.columns;
  const tables = new Map<string, ColumnDef[]>();
  for (const r of cols) {
    const table = checkedName(r.table, 'table');
    const column = checkedName(r.column, 'column');
    // a type outside the allow-list would make an archive that no restore accepts: refused now
    if (canonicalColumnType(r.type) === undefined) unsupported(`column ${table}.${column} of type ${JSON.stringify(r.type.slice(0, 80))}`);
    const col: ColumnDef = { name: column, type: r.type, notNull: r.not_null };
    if (r.generated === 's') col.generated = r.default ?? unsupported(`generated column ${table}.${r.column} without expression`);
    else if (r.default !== null) col.default = r.default;
    if (r.identity === 'a' || r.identity === 'd') {
      const s = identitySeqs.get(`${table}.${r.column}`) ?? unsupported(`identity column ${table}.${r.column} without its sequence`);
      const { lastValue, isCalled } = await valueOf(s);
      col.identity = {
        kind: r.identity === 'a' ? 'always' : 'by-default',
        sequence: { type: s.type as SequenceDef['type'], increment: s.increment, min: s.min, max: s.max, start: s.start, cache: s.cache, cycle: s.cycle, lastValue, isCalled },
      };
    }
    let list = tables.get(table);
    if (!list) tables.set(table, (list = []));
    list.push(col);
  }
  // a table without columns has nothing to copy but must still exist
  if (catalog.emptyTable !== undefined) unsupported(`table ${catalog.emptyTable} without columns`);
  const cons = catalog.constraints;
  const idx = catalog.indexes;

  return {
    sequences,
    tables: [...tables].map(([name, columns]) => ({ name, columns })),
    constraints: cons.map((r) => ({ table: checkedName(r.table, 'table'), name: checkedName(r.name, 'constraint'), definition: r.definition })),
    indexes: idx.map((r) => ({ name: checkedName(r.name, 'index'), definition: unqualifiedIndex(r.definition, r.qualifier) })),
  };
}

/**
 * pg_get_indexdef always qualifies the table ("ON d_x.t USING ..."), whatever the search_path: the
 * schema is cut so that the index is created in the schema being restored.
 */
function unqualifiedIndex(definition: string, qualifier: string): string {
  const m = /^(CREATE (?:UNIQUE )?INDEX \S+ ON (?:ONLY )?)(.*)$/s.exec(definition);
  if (!m || !m[2]!.startsWith(qualifier)) unsupported(`index definition ${definition.slice(0, 120)}`);
  return m[1]! + m[2]!.slice(qualifier.length);
}

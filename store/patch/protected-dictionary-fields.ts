import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

/**
 * R-PI-7, for a plan: which of the `fields` each dossier's dictionary entry of the given `keys` already
 * has (those a patch never overwrites). schema -> key -> fields; a dossier without a dictionary is absent.
 * Two round trips for a page of dossiers: which schemas have the table, then one UNION over them.
 */
export async function protectedDictionaryFields(db: Queryable, schemas: string[], keys: string[], fields: string[]): Promise<Map<string, Record<string, string[]>>> {
  const out = new Map<string, Record<string, string[]>>();
  if (!schemas.length || !keys.length || !fields.length) return out;
  const { rows: present } = await db.query<{ s: string }>(`SELECT s FROM unnest($1::text[]) AS u(s) WHERE to_regclass(quote_ident(s) || '.dictionnaire') IS NOT NULL`, [schemas]);
  if (!present.length) return out;
  const parts = present.map(
    (p, i) =>
      `SELECT $${i + 3}::text AS schema, d.key, ARRAY(SELECT f FROM jsonb_object_keys(d.fields) AS f WHERE f = ANY($2::text[]) ORDER BY f) AS fields
         FROM ${ident(p.s)}.dictionnaire d WHERE d.key = ANY($1::text[])`,
  );
  const { rows } = await db.query<{ schema: string; key: string; fields: string[] }>(parts.join('\nUNION ALL\n'), [keys, fields, ...present.map((p) => p.s)]);
  for (const r of rows) {
    if (!r.fields.length) continue;
    const entry = out.get(r.schema) ?? {};
    entry[r.key] = r.fields;
    out.set(r.schema, entry);
  }
  return out;
}

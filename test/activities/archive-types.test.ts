import fs from 'node:fs';
import { backupDossierArchive, restoreDossierArchive } from '../../archive/engine';
import { canonicalColumnType, sqlTextProblem } from '../../archive/sql-text';
import { ident } from '../../db/ident';
import { failureTypeOf, FailureType } from '../../domain/failures';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/**
 * R-BK-5: column types come from an allow-list checked when an archive is read (issue 9). The list
 * must cover what a dossier uses: every built-in type below survives a backup and a restore with
 * the same format_type(); a type outside it is refused at backup (UnsupportedObject), not at restore.
 */

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

const pool = () => stack.pools.get('main');

const TYPES = [
  'boolean', 'smallint', 'integer', 'bigint', 'real', 'double precision', 'numeric', 'numeric(12,2)', 'numeric(5,0)', 'money',
  'text', 'character varying', 'character varying(20)', 'character(3)', '"char"', 'name', 'bytea', 'bit(4)', 'bit varying(9)',
  'date', 'time without time zone', 'time(3) with time zone', 'timestamp without time zone', 'timestamp(0) with time zone',
  'interval', 'interval(2)', 'interval year to month', 'interval day to second(3)', 'uuid', 'json', 'jsonb', 'inet', 'cidr',
  'macaddr', 'point', 'tsvector', 'int4range', 'tstzrange', 'daterange', 'integer[]', 'text[]', 'character varying(8)[]',
  'timestamp(3) with time zone[]', 'numeric(10,4)[]',
];

async function columnTypes(schema: string): Promise<string[]> {
  const { rows } = await pool().query<{ type: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
      WHERE a.attrelid = (quote_ident($1) || '.t')::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [schema],
  );
  return rows.map((r) => r.type);
}

async function dossierWith(code: string, types: string[]): Promise<void> {
  const s = ident(`d_${code}`);
  await pool().query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ($1, 'types', $2)`, [code, `d_${code}`]);
  await pool().query(`CREATE SCHEMA ${s}; CREATE TABLE ${s}.t (${types.map((t, i) => `c${i} ${t}`).join(', ')})`);
}

test('every allowed built-in type survives backup and restore with the same format_type (R-BK-5)', async () => {
  await dossierWith('TYPES', TYPES);
  await pool().query(`INSERT INTO ${ident('d_TYPES')}.t (c0, c2, c7, c10) VALUES (true, 42, 12.34, 'abc')`);
  const before = await columnTypes('d_TYPES');
  // each canonical form is what PostgreSQL prints: the allow-list rebuilds it unchanged
  for (const t of before) expect(canonicalColumnType(t)).toBe(t);
  const dir = tempDir('types');
  const r = await backupDossierArchive({ pool: pool(), target: 'main', code: 'TYPES', destinationDir: dir });
  await restoreDossierArchive({ pool: pool(), target: 'main', file: r.file, as: 'TYPES2', replace: false, documentsDir: stack.config.documentsDir });
  expect(await columnTypes('d_TYPES2')).toEqual(before);
  const row = await pool().query(`SELECT c0, c2, c7::text, c10 FROM ${ident('d_TYPES2')}.t`);
  expect(row.rows).toEqual([{ c0: true, c2: 42, c7: '12.34', c10: 'abc' }]);
});

test('a column of a type outside the list is refused at backup as UnsupportedObject, no file left', async () => {
  await pool().query(`CREATE DOMAIN public.montant AS numeric(12,2)`);
  await dossierWith('ODDTYPE', ['integer', 'public.montant']);
  const dir = tempDir('oddtype');
  const err = await backupDossierArchive({ pool: pool(), target: 'main', code: 'ODDTYPE', destinationDir: dir }).catch((e: unknown) => e);
  expect(failureTypeOf(err)).toBe(FailureType.UnsupportedObject);
  expect((err as Error).message).toMatch(/column t\.c1 of type "public\.montant"/);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test.each([
  ["nextval('t_id_seq'::regclass)", undefined],
  ["'x'::text", undefined],
  ['(taille / 1024.0)', undefined],
  ["'it''s -- not a comment; nor $1'::text", undefined],
  ['"odd""name" + 1', undefined],
  ['0) INHERITS (x) --', 'unbalanced parentheses'],
  ['(0', 'unbalanced parentheses'],
  ['0; DROP TABLE x', 'statement end'],
  ['0 -- x', 'comment'],
  ['0 /* x */', 'comment'],
  ["E'\\'' || 1", 'escape string'],
  ['$$x$$', 'dollar sign'],
  ['nightshift.f()', 'qualified name'],
  ['"nightshift".f()', 'qualified name'],
  ['1, 2', 'top-level comma'],
  ["'unterminated", 'unterminated quote'],
])('sqlTextProblem(%j) is %j', (text, problem) => {
  expect(sqlTextProblem(text)).toBe(problem);
});

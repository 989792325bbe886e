/**
 * The catalog text an archive carries (column types, defaults, constraint and index definitions) is
 * checked when the archive is read, without a database, so that `--verify-only` refuses what a
 * restore would refuse. Pure: no I/O.
 */

/** Types as format_type() prints them that take no modifier (pg_catalog, so never schema-qualified). */
const PLAIN_TYPES = [
  'boolean', 'smallint', 'integer', 'bigint', 'real', 'double precision', 'numeric', 'money',
  'text', 'character varying', 'character', 'bpchar', '"char"', 'name', 'bytea', 'bit', 'bit varying',
  'date', 'interval', 'uuid', 'json', 'jsonb', 'jsonpath', 'xml',
  'inet', 'cidr', 'macaddr', 'macaddr8', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle',
  'tsvector', 'tsquery', 'oid', 'pg_lsn', 'pg_snapshot', 'txid_snapshot',
  'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange',
  'int4multirange', 'int8multirange', 'nummultirange', 'tsmultirange', 'tstzmultirange', 'datemultirange',
] as const;
const PLAIN = new Map<string, string>(PLAIN_TYPES.map((t) => [t, t]));

const LENGTH_TYPES = new Map<string, number>([
  ['character varying', 10_485_760],
  ['character', 10_485_760],
  ['bit varying', 83_886_080],
  ['bit', 83_886_080],
]);
const INTERVAL_FIELDS = [
  'year', 'month', 'day', 'hour', 'minute', 'second', 'year to month', 'day to hour', 'day to minute',
  'day to second', 'hour to minute', 'hour to second', 'minute to second',
] as const;
const INTERVAL = new Map<string, string>(INTERVAL_FIELDS.map((f) => [f, f]));

/**
 * A column type from the allow-list, rebuilt from its parts (our constants and re-printed numbers),
 * so that the text used in CREATE TABLE never is the archive's own; undefined when not allowed.
 */
export function canonicalColumnType(text: string): string | undefined {
  if (text.length > 100) return undefined;
  const arr = /^(.*?)((?:\[\])*)$/s.exec(text)!;
  const dims = arr[2]!.length / 2;
  if (dims > 6) return undefined;
  const base = canonicalBase(arr[1]!);
  return base === undefined ? undefined : base + '[]'.repeat(dims);
}

function canonicalBase(t: string): string | undefined {
  const plain = PLAIN.get(t);
  if (plain) return plain;
  let m = /^numeric\((\d{1,4})(?:,(-?\d{1,4}))?\)$/.exec(t);
  if (m) {
    const p = Number(m[1]);
    const s = m[2] === undefined ? undefined : Number(m[2]);
    if (p < 1 || p > 1000 || (s !== undefined && (s < -1000 || s > 1000))) return undefined;
    return s === undefined ? `numeric(${p})` : `numeric(${p},${s})`;
  }
  m = /^(character varying|character|bit varying|bit)\((\d{1,9})\)$/.exec(t);
  if (m) {
    const n = Number(m[2]);
    const max = LENGTH_TYPES.get(m[1]!)!;
    if (n < 1 || n > max) return undefined;
    return `${PLAIN.get(m[1]!)!}(${n})`;
  }
  m = /^(time|timestamp)(?:\((\d)\))? (with|without) time zone$/.exec(t);
  if (m) {
    if (m[2] !== undefined && Number(m[2]) > 6) return undefined;
    const p = m[2] === undefined ? '' : `(${Number(m[2])})`;
    return `${m[1] === 'time' ? 'time' : 'timestamp'}${p} ${m[3] === 'with' ? 'with' : 'without'} time zone`;
  }
  m = /^interval(?: ([a-z ]+?))?(?:\((\d)\))?$/.exec(t);
  if (m) {
    const fields = m[1] === undefined ? '' : INTERVAL.get(m[1]);
    if (fields === undefined) return undefined;
    if (m[2] !== undefined && (Number(m[2]) > 6 || (fields && !fields.endsWith('second')))) return undefined;
    return `interval${fields ? ` ${fields}` : ''}${m[2] === undefined ? '' : `(${Number(m[2])})`}`;
  }
  return undefined;
}

const WORD = /[A-Za-z0-9_$]/;

/**
 * Why `text` is not one self-contained piece of SQL, or undefined: every string literal and quoted
 * name closed, parentheses balanced and never closed below the start, and no statement end, comment,
 * dollar quote, escape string (whose quoting this check would read differently from PostgreSQL),
 * qualified name (nothing outside the dossier's schema), NUL, or top-level comma unless `commas`.
 * Wrapped in parentheses, such a text cannot leave its place in the statement built around it.
 */
export function sqlTextProblem(text: string, opts: { commas?: boolean } = {}): string | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      if (c === "'" && /[eE]/.test(text[i - 1] ?? '') && !WORD.test(text[i - 2] ?? '')) return 'escape string';
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === c) {
          if (text[j + 1] === c) j++;
          else break;
        }
      }
      if (j >= text.length) return 'unterminated quote';
      if (text.slice(i, j).includes('\0')) return 'NUL';
      i = j;
      if (c === '"' && text[i + 1] === '.') return 'qualified name';
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return 'unbalanced parentheses';
    else if (c === ';') return 'statement end';
    else if ((c === '-' && text[i + 1] === '-') || (c === '/' && text[i + 1] === '*')) return 'comment';
    else if (c === '$') return 'dollar sign';
    else if (c === '\0') return 'NUL';
    else if (c === '.' && !/[0-9]/.test(text[i + 1] ?? '')) return 'qualified name';
    else if (c === ',' && depth === 0 && !opts.commas) return 'top-level comma';
  }
  return depth === 0 ? undefined : 'unbalanced parentheses';
}

/** A name token as PostgreSQL prints it (quote_ident): the name, or undefined if it is not one. */
export function unquoteName(token: string): string | undefined {
  const q = /^"((?:[^"]|"")+)"$/.exec(token);
  if (q) return q[1]!.replace(/""/g, '"');
  return /^[a-z_][a-z0-9_$]*$/.test(token) ? token : undefined;
}

const CONSTRAINT_KINDS = /^(PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|EXCLUDE) /;

/** Why a constraint definition (pg_get_constraintdef) is refused, or undefined; foreign keys point at `tables` only. */
export function constraintProblem(definition: string, tables: ReadonlySet<string>): string | undefined {
  if (!CONSTRAINT_KINDS.test(definition)) return 'not a key, check, exclusion or foreign key';
  const problem = sqlTextProblem(definition);
  if (problem) return problem;
  const refs = [...definition.matchAll(/\bREFERENCES\s+("(?:[^"]|"")+"|[^\s(]+)\s*\(/g)];
  if (definition.startsWith('FOREIGN KEY ') !== (refs.length === 1)) return 'foreign key without exactly one referenced table';
  for (const r of refs) {
    const t = unquoteName(r[1]!);
    if (t === undefined || !tables.has(t)) return 'foreign key to a table outside the archive';
  }
  return undefined;
}

/** Why an index definition (pg_get_indexdef, schema cut) is refused, or undefined: it must create `name` on one of `tables`. */
export function indexProblem(definition: string, name: string, tables: ReadonlySet<string>): string | undefined {
  const m = /^CREATE (?:UNIQUE )?INDEX (\S+) ON (?:ONLY )?(\S+) USING [a-z_]+ \(/.exec(definition);
  if (!m) return 'not an index definition';
  if (unquoteName(m[1]!) !== name) return 'definition names another index';
  const t = unquoteName(m[2]!);
  if (t === undefined || !tables.has(t)) return 'index on a table outside the archive';
  return sqlTextProblem(definition);
}

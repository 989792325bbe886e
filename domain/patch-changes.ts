import { canonicalJson, type PatchManifest } from './patch';

/**
 * What changed between a stored patch package and the folder's (`patch repair`, R-PI-8): a repair realigns checksums and
 * applies nothing again, which is right for a comment or a description, and leaves the dossiers that applied the old
 * package without a change to its type, routing, dictionary or statements. Said apart so that the operator sees which.
 */
export interface PackageChanges {
  /** each change, in words: `type standard → supervisor`, `comments or spacing of data/0002.sql` */
  what: string[];
  /** at least one change alters what the package does in a dossier (not only comments, spacing, description, line endings) */
  effect: boolean;
}

interface PackageContent {
  manifest: Omit<PatchManifest, 'checksum'> & { checksum?: string };
  files: Record<string, string>;
}

/** the stored manifest comes back from jsonb with its keys in another order */
const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/**
 * SQL with its comments taken out and its spacing folded (outside quoted strings, quoted identifiers and dollar-quoted
 * bodies, which are kept as they are): two scripts equal so run the same statements.
 */
export function sqlWithoutComments(sql: string): string {
  let out = '';
  let i = 0;
  let space = false;
  const emit = (s: string) => {
    if (space && out) out += ' ';
    space = false;
    out += s;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end;
      space = true;
    } else if (c === '/' && sql[i + 1] === '*') {
      // PostgreSQL's block comments nest
      let depth = 0;
      while (i < sql.length) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
      space = true;
    } else if (/\s/.test(c)) {
      i++;
      space = true;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      for (; j < sql.length; j++) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) j++;
          else break;
        }
      }
      emit(sql.slice(i, j + 1));
      i = j + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_][A-Za-z0-9_]*\$|^\$\$/.exec(sql.slice(i))?.[0];
      if (!tag) {
        emit(c);
        i++;
        continue;
      }
      const end = sql.indexOf(tag, i + tag.length);
      const stop = end < 0 ? sql.length : end + tag.length;
      emit(sql.slice(i, stop));
      i = stop;
    } else {
      emit(c);
      i++;
    }
  }
  return out;
}

/** The changes from `stored` to `folder`, manifest first, then each file the packages name. */
export function packageChanges(stored: PackageContent, folder: PackageContent): PackageChanges {
  const what: string[] = [];
  let effect = false;
  const changed = (text: string, hasEffect: boolean) => {
    what.push(text);
    effect ||= hasEffect;
  };
  const a = stored.manifest;
  const b = folder.manifest;
  if (a.type !== b.type) changed(`type ${a.type} → ${b.type} (routing, R-PI-3…R-PI-6)`, true);
  if (!same(a.treatments, b.treatments)) changed('its treatments list', true);
  if (!same(a.dictionary, b.dictionary)) changed('its dictionary entries', true);
  if (!same(a.protectedDictionaryFields, b.protectedDictionaryFields)) changed('its protected dictionary fields (R-PI-7)', true);
  if (!same(a.structure, b.structure)) changed('its structure scripts list', true);
  if (!same(a.data, b.data)) changed('its data scripts list', true);
  if (a.description !== b.description) changed('its description', false);
  // SQL scripts are run: their comments and spacing change nothing; a treatment's file is stored as it is
  const scripts = new Set([...a.structure, ...a.data, ...b.structure, ...b.data]);
  const paths = [...new Set([...Object.keys(stored.files), ...Object.keys(folder.files)])].sort();
  for (const p of paths) {
    const before = stored.files[p];
    const after = folder.files[p];
    if (before === after) continue;
    if (before === undefined) changed(`${p} added`, true);
    else if (after === undefined) changed(`${p} removed`, true);
    else if (before.replace(/\r\n/g, '\n') === after.replace(/\r\n/g, '\n')) changed(`line endings of ${p}`, false);
    else if (!scripts.has(p)) changed(`the content of ${p} (stored as it is in each dossier)`, true);
    else if (sqlWithoutComments(before) === sqlWithoutComments(after)) changed(`comments or spacing of ${p}`, false);
    else changed(`the statements of ${p}`, true);
  }
  return { what, effect };
}

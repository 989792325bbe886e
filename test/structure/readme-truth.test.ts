import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import ts from 'typescript';
import { buildProgram } from '../../cli/main';

/**
 * The README's reference tables, checked against the code (no server needed):
 * - the variables: every one production code reads (config/config.ts's zod schema, `process.env.X` / `env.X`
 *   elsewhere, `$X` in scripts/*.sh, `${X…}` in docker-compose.yml) is a row of a README `| variable |` table, and
 *   every row names a variable something reads; the defaults the schema gives are the ones the tables and
 *   `.env.example` say; `.env.example` lists every variable of the schema;
 * - the commands: every command of the real commander tree is named in the `## Commands` table, and every
 *   `nightshift …` the table names is a command.
 */

const ROOT = path.resolve(__dirname, '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const ENV_EXAMPLE = fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8');

/** Top-level folders that are not production code (as in layers.test.ts), and docs/ (pictures). */
const NOT_PRODUCTION = new Set(['test', 'test-artifacts', 'bench', 'node_modules', 'coverage', 'dist', 'docs']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;
/** The variables this test speaks for: Nightshift's own, Temporal's connection, the database, the zone. */
const OURS = /^(NIGHTSHIFT_[A-Z0-9_]+|TEMPORAL_[A-Z0-9_]+|DATABASE_URL|TZ)$/;

/**
 * Read, but on purpose in no README table (each with why). Kept short: a listed variable that the README
 * tables do list, or that nothing reads any more, fails the test too.
 */
const NOT_IN_TABLES = new Set<string>([]);

/** Read by config.ts but on purpose not in .env.example: an empty `TZ=` would switch Node to UTC (README says so). */
const NOT_IN_ENV_EXAMPLE = new Set(['TZ']);

function walk(dir: string, keep: (name: string) => boolean, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, keep, out);
    else if (e.isFile() && keep(e.name)) out.push(full);
  }
  return out;
}

const topFolders = fs
  .readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_PRODUCTION.has(e.name))
  .map((e) => path.join(ROOT, e.name));
const productionSources = topFolders.flatMap((d) => walk(d, (n) => SOURCE.test(n) && !n.endsWith('.d.ts')));
const shellScripts = walk(path.join(ROOT, 'scripts'), (n) => n.endsWith('.sh'));
const rel = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/');

// ---------------------------------------------------------------------------------------------------------------
// What the code reads

interface SchemaEntry {
  name: string;
  /** the value an unset variable gets, as it is written in the environment; undefined: no literal default */
  fallback?: string;
}

/** The keys of config.ts's `envSchema = z.object({…})`, with the defaults its helpers (port(N), bool(B)…) give. */
function configSchema(): SchemaEntry[] {
  const file = path.join(ROOT, 'config', 'config.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  let object: ts.ObjectLiteralExpression | undefined;
  const find = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === 'envSchema' && node.initializer && ts.isCallExpression(node.initializer)) {
      const arg = node.initializer.arguments[0];
      if (arg && ts.isObjectLiteralExpression(arg)) object = arg;
    }
    ts.forEachChild(node, find);
  };
  find(source);
  if (!object) throw new Error('config/config.ts: no `const envSchema = z.object({…})` found');
  return object.properties.filter(ts.isPropertyAssignment).map((p) => ({ name: p.name.getText(), fallback: fallbackOf(p.initializer) }));
}

function literal(e: ts.Expression | undefined): string | undefined {
  if (!e) return undefined;
  if (ts.isStringLiteral(e)) return e.text;
  if (ts.isNumericLiteral(e)) return /^0o/i.test(e.getText()) ? `0${e.getText().slice(2)}` : e.getText().replace(/_/g, '');
  if (e.kind === ts.SyntaxKind.TrueKeyword) return 'true';
  if (e.kind === ts.SyntaxKind.FalseKeyword) return 'false';
  return undefined;
}

/** The default of one schema entry: the outermost `.default(x)`, else the fallback argument of a helper. */
function fallbackOf(e: ts.Expression): string | undefined {
  let node: ts.Expression = e;
  while (ts.isCallExpression(node)) {
    const callee = node.expression;
    if (ts.isPropertyAccessExpression(callee)) {
      if (callee.name.text === 'default') return literal(node.arguments[0]);
      if (callee.name.text === 'optional') return undefined;
      node = callee.expression;
      continue;
    }
    if (ts.isIdentifier(callee)) {
      const at = { port: 0, bool: 0, gateCount: 0, wholeNumber: 2 }[callee.text];
      return at === undefined ? undefined : literal(node.arguments[at]);
    }
    return undefined;
  }
  return undefined;
}

/** `process.env.X`, `process.env['X']`, `env.X`, `env['X']` read anywhere in production TypeScript / JavaScript. */
function sourceReads(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  const isEnv = (e: ts.Expression): boolean => e.getText() === 'process.env' || (ts.isIdentifier(e) && e.text === 'env');
  const isWrite = (node: ts.Node): boolean =>
    ts.isBinaryExpression(node.parent) && node.parent.left === node && node.parent.operatorToken.kind === ts.SyntaxKind.EqualsToken;
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node) && isEnv(node.expression) && !isWrite(node)) names.push(node.name.text);
    if (ts.isElementAccessExpression(node) && isEnv(node.expression) && ts.isStringLiteral(node.argumentExpression) && !isWrite(node)) {
      names.push(node.argumentExpression.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/** `$X` / `${X…}` in a shell script, except the script's own variables (`X=…` at the start of a line). */
function shellReads(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const own = new Set([...text.matchAll(/^\s*(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]*)=/gm)].map((m) => m[1]));
  return [...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!).filter((n) => !own.has(n));
}

/** docker compose reads .env to fill `${X:-default}` in docker-compose.yml. */
function composeReads(): string[] {
  const text = fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
  return [...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
}

const schema = configSchema();
/** variable → where it is read */
const reads = new Map<string, Set<string>>();
const readAt = (name: string, where: string): void => {
  if (!OURS.test(name)) return;
  if (!reads.has(name)) reads.set(name, new Set());
  reads.get(name)!.add(where);
};
for (const s of schema) readAt(s.name, 'config/config.ts');
for (const f of productionSources) for (const n of sourceReads(f)) readAt(n, rel(f));
for (const f of shellScripts) for (const n of shellReads(f)) readAt(n, rel(f));
for (const n of composeReads()) readAt(n, 'docker-compose.yml');

// ---------------------------------------------------------------------------------------------------------------
// What the README says

interface Table {
  /** the `## ` section it is in */
  section: string;
  /** line number of its header (1-based) */
  line: number;
  header: string[];
  rows: string[][];
}

/** A row's cells: split on `|` but not on `\|` (a pipe inside a cell). */
const cells = (line: string): string[] =>
  line
    .trim()
    .replace(/^\|/, '')
    .replace(/(?<!\\)\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim().replace(/\\\|/g, '|'));

function readmeTables(): Table[] {
  const lines = README.split('\n');
  const tables: Table[] = [];
  let section = '';
  let fence = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*```/.test(line)) fence = !fence;
    if (fence) continue;
    if (/^## /.test(line)) section = line.slice(3).trim();
    if (!line.startsWith('|') || !/^\|\s*:?-{3,}/.test(lines[i + 1] ?? '')) continue;
    const table: Table = { section, line: i + 1, header: cells(line), rows: [] };
    for (i += 2; i < lines.length && lines[i]!.startsWith('|'); i++) table.rows.push(cells(lines[i]!));
    i--;
    tables.push(table);
  }
  return tables;
}

const tables = readmeTables();
const variableTables = tables.filter((t) => t.header[0] === 'variable');
/** variable → its rows (table, default cell if the table has a default column) */
const documented = new Map<string, { table: Table; fallback?: string }[]>();
for (const t of variableTables) {
  const defaultColumn = t.header.indexOf('default');
  for (const row of t.rows) {
    for (const m of (row[0] ?? '').matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) {
      const entry = { table: t, fallback: defaultColumn < 0 ? undefined : row[defaultColumn] };
      documented.set(m[1]!, [...(documented.get(m[1]!) ?? []), entry]);
    }
  }
}

/** `.env.example`: NAME=value lines (comments and blank lines aside), the value without its quotes. */
const envExample = new Map(
  ENV_EXAMPLE.split('\n')
    .map((l) => /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1')] as const),
);

describe('README: configuration variables', () => {
  it('finds what it checks (the schema, the tables, .env.example)', () => {
    expect(schema.length).toBeGreaterThan(50);
    expect(variableTables.map((t) => t.section)).toContain('Configuration');
    expect(documented.size).toBeGreaterThan(50);
    expect(envExample.size).toBeGreaterThan(50);
  });

  it('documents in a variable table every variable production code reads', () => {
    const missing = [...reads]
      .filter(([name]) => !documented.has(name) && !NOT_IN_TABLES.has(name))
      .map(([name, where]) => `${name} (read in ${[...where].join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('lists in its tables only variables production code reads', () => {
    const unread = [...documented]
      .filter(([name]) => !reads.has(name))
      .map(([name, rows]) => `${name} (README line ${rows.map((r) => r.table.line).join(', ')}: ${rows[0]!.table.section})`);
    expect(unread).toEqual([]);
  });

  it('keeps its exceptions live: each is read, and in no table', () => {
    const stale = [...NOT_IN_TABLES].filter((name) => !reads.has(name) || documented.has(name));
    expect(stale).toEqual([]);
  });

  it('gives in every table with a default column the default config.ts gives', () => {
    const wrong: string[] = [];
    for (const s of schema) {
      if (s.fallback === undefined) continue;
      for (const row of documented.get(s.name) ?? []) {
        if (row.fallback !== undefined && !row.fallback.includes(`\`${s.fallback}\``)) {
          wrong.push(`${s.name}: README line ${row.table.line} says ${row.fallback}, config.ts defaults to ${s.fallback}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('.env.example lists every variable of config.ts, with its default or empty', () => {
    const missing = schema.filter((s) => !envExample.has(s.name) && !NOT_IN_ENV_EXAMPLE.has(s.name)).map((s) => s.name);
    expect(missing).toEqual([]);
    const wrong = schema
      .filter((s) => s.fallback !== undefined && envExample.get(s.name) && envExample.get(s.name) !== s.fallback)
      .map((s) => `${s.name}=${envExample.get(s.name)} (config.ts: ${s.fallback})`);
    expect(wrong).toEqual([]);
    expect(schema.filter((s) => NOT_IN_ENV_EXAMPLE.has(s.name) && envExample.has(s.name)).map((s) => s.name)).toEqual([]);
  });

  it('.env.example names only variables something reads', () => {
    expect([...envExample.keys()].filter((name) => !reads.has(name))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Commands

/** Commander keeps these two facts in fields its typings do not show. */
interface CommandInternals {
  _actionHandler: unknown;
  _defaultCommandName: string | null;
}
const internals = (c: Command): CommandInternals => c as unknown as CommandInternals;

/**
 * Every command an operator can run, by its path (`nightshift backup verify schedule set`): each leaf, and each
 * group that runs something itself (`nightshift gate`). A group's default subcommand is run by the group's path
 * too (`maintenance recur --cron …` is `maintenance recur create`): naming either documents it.
 */
function runnable(program: Command): { path: string; alsoAs?: string }[] {
  const out: { path: string; alsoAs?: string }[] = [];
  const visit = (cmd: Command, prefix: string): void => {
    for (const sub of cmd.commands) {
      const p = `${prefix} ${sub.name()}`;
      const isDefault = internals(cmd)._defaultCommandName === sub.name();
      if (!sub.commands.length || internals(sub)._actionHandler) out.push({ path: p, ...(isDefault ? { alsoAs: prefix } : {}) });
      visit(sub, p);
    }
  };
  visit(program, program.name());
  return out;
}

/** The command a run of words names: as deep as the words match subcommands (the rest are its arguments). */
function resolve(program: Command, words: string[]): { cmd: Command; path: string[]; rest: string[] } {
  let cmd = program;
  const matched: string[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === words[i] || c.aliases().includes(words[i]!));
    if (!sub) break;
    cmd = sub;
    matched.push(sub.name());
  }
  return { cmd, path: matched, rest: words.slice(i) };
}

const canRun = (cmd: Command): boolean =>
  !cmd.commands.length || !!internals(cmd)._actionHandler || internals(cmd)._defaultCommandName !== null;

const words = (code: string): string[] => code.trim().split(/\s+/);

/**
 * The command paths one first cell of the Commands table names: `` `nightshift backup retry [--run ID]` / `status
 * [RUN]` `` is `backup retry` and its sibling `backup status`. Problems: a path that is no command.
 */
function namedIn(program: Command, firstCell: string): { paths: string[]; problems: string[] } {
  const spans = [...firstCell.matchAll(/`([^`]+)`/g)].map((m) => ({ code: m[1]!, at: m.index, end: m.index + m[0].length }));
  const head = spans[0];
  if (!head || words(head.code)[0] !== program.name()) return { paths: [], problems: [] };
  const paths: string[] = [];
  const problems: string[] = [];
  const first = resolve(program, words(head.code).slice(1));
  const show = (p: string[]): string => [program.name(), ...p].join(' ');
  if (!first.path.length || !canRun(first.cmd)) {
    problems.push(`\`${head.code}\`: ${show(first.path)} ${first.rest[0] ?? ''} is no command`.replace(/ +:/, ':').trim());
  } else paths.push(show(first.path));
  const parent = resolve(program, first.path.slice(0, -1)).cmd;
  let previous = head;
  for (const span of spans.slice(1)) {
    if (firstCell.slice(previous.end, span.at).trim() !== '/') break; // a sibling follows " / " only
    const sibling = resolve(parent, words(span.code));
    const p = [...first.path.slice(0, -1), ...sibling.path];
    if (!sibling.path.length || !canRun(sibling.cmd)) problems.push(`\`${span.code}\` after \`${head.code}\`: ${show(first.path.slice(0, -1))} ${words(span.code)[0]} is no command`);
    else paths.push(show(p));
    previous = span;
  }
  return { paths, problems };
}

describe('README: commands', () => {
  const program = buildProgram();
  const commandRows = tables.filter((t) => t.section === 'Commands').flatMap((t) => t.rows);
  const named = commandRows.map((row) => namedIn(program, row[0] ?? ''));
  const documentedPaths = new Set(named.flatMap((n) => n.paths));

  it('finds what it checks (the command tree, the table)', () => {
    expect(runnable(program).length).toBeGreaterThan(40);
    expect(documentedPaths.size).toBeGreaterThan(40);
  });

  it('names every command of the CLI in the Commands table', () => {
    const missing = runnable(program)
      .filter((c) => !documentedPaths.has(c.path) && !(c.alsoAs && documentedPaths.has(c.alsoAs)))
      .map((c) => c.path);
    expect(missing).toEqual([]);
  });

  it('names only commands the CLI has', () => {
    expect(named.flatMap((n) => n.problems)).toEqual([]);
  });
});

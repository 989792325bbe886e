import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { LIVE_SESSION_SQL } from '../../store/gate/sql-parts';

/**
 * The layering rules of issue 11, read from the source (no server needed):
 *   domain → store → activities → workflows / cli / gate
 * - SQL lives only in store/ and db/: no SQL text, and no call of a node-postgres `query`, anywhere else
 *   in production code (every top-level folder but test/, bench/ and the ones below);
 * - cli/ and gate/ import nothing from activities/ (not even types: data access goes through store/);
 *   no other folder but workers/ (which registers the factories) imports a value from activities/;
 * - workflows/ and domain/ import no Node built-in, and only each other for values (types may come from
 *   anywhere: they are erased);
 * - store/ imports no value from the layers above it.
 */

/**
 * Files that still break a rule while issue 11's work lands: emptied when issue 11 lands. A listed file
 * that no longer breaks its rule fails the test too, so the list only shrinks.
 */
const ALLOWED: Record<Rule, string[]> = {
  sql: [],
  'cli-gate-activities': [],
  'activities-imports': [],
  'pure-imports': [],
  'store-imports': [],
};

/**
 * SQL as data, for good: the demo patch packages' scripts (files a package ships, applied to dossiers by
 * patch integration like any operator's package), not statements Nightshift runs on its own tables.
 */
const SQL_AS_DATA = new Set(['patches/demo.ts']);

type Rule = 'sql' | 'cli-gate-activities' | 'activities-imports' | 'pure-imports' | 'store-imports';

const ROOT = path.resolve(__dirname, '../..');
/** Top-level folders that are not production code, and the two homes of SQL. */
const NOT_PRODUCTION = new Set(['test', 'test-artifacts', 'bench', 'node_modules', 'coverage', 'dist']);
const SQL_HOMES = new Set(['store', 'db']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) walk(full, out);
    else if (e.isFile() && SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const topFolders = fs
  .readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !NOT_PRODUCTION.has(e.name))
  .map((e) => e.name);
const productionFiles = topFolders.flatMap((d) => walk(path.join(ROOT, d)));
const rel = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/');
const layerOf = (file: string): string => rel(file).split('/')[0]!;

/**
 * SQL text: a string or template literal (or a template's first part) that opens with a statement, or
 * that names a table of the control schema after FROM / JOIN / INTO / UPDATE / TABLE. Upper-case keywords
 * followed by what a statement needs, so that prose ("Select a dossier") and HTTP verbs ('DELETE') do not count.
 */
const STATEMENT = new RegExp(
  '^[\\s(]*(' +
    [
      'SELECT\\s+\\S',
      'INSERT\\s+INTO\\s',
      'UPDATE\\s+[\\w."]+\\s+(AS\\s+\\w+\\s+)?SET\\s',
      'DELETE\\s+FROM\\s',
      'WITH\\s+(RECURSIVE\\s+)?\\w+(\\s*\\([^)]*\\))?\\s+AS\\s+(NOT\\s+)?(MATERIALIZED\\s+)?\\(',
      'CREATE\\s+(OR\\s+REPLACE\\s+|TEMP(ORARY)?\\s+|UNIQUE\\s+)*(TABLE|SCHEMA|INDEX|DATABASE|ROLE|USER|FUNCTION|PROCEDURE|TRIGGER|VIEW|MATERIALIZED|EXTENSION|TYPE|SEQUENCE|POLICY)\\b',
      'ALTER\\s+(TABLE|SCHEMA|DATABASE|ROLE|USER|INDEX|SEQUENCE|FUNCTION|VIEW|TYPE|DEFAULT)\\b',
      'DROP\\s+(TABLE|SCHEMA|DATABASE|ROLE|USER|INDEX|SEQUENCE|FUNCTION|VIEW|TYPE|TRIGGER|OWNED|POLICY|EXTENSION)\\b',
      'TRUNCATE\\s',
      'COPY\\s+[\\w."$({]',
      '(BEGIN|START\\s+TRANSACTION|COMMIT|ROLLBACK|SAVEPOINT|RELEASE\\s+SAVEPOINT)\\b\\s*(;|$|ISOLATION|READ|TO\\b|\\w+\\s*;?$)',
      'SET\\s+(LOCAL|SESSION|TRANSACTION|ROLE|search_path|statement_timeout|lock_timeout|idle_in_transaction_session_timeout|application_name|TimeZone)\\b',
      'RESET\\s+\\w',
      'SHOW\\s+[a-z_]+\\s*;?$',
      'LOCK\\s+(TABLE\\s+)?[\\w."]+',
      '(GRANT|REVOKE)\\s+[\\w ,]+\\s+ON\\s',
      'VACUUM\\b|ANALYZE\\s+[\\w."]|REINDEX\\s|CLUSTER\\s|DISCARD\\s+ALL|EXPLAIN\\s',
      '(LISTEN|UNLISTEN|NOTIFY)\\s+\\w',
      'DO\\s+\\$',
      'CALL\\s+[\\w.]+\\s*\\(',
    ].join('|') +
    ')',
);
const CONTROL_TABLE = /\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+nightshift\.[a-z_]+/;

export function looksLikeSql(text: string): boolean {
  return STATEMENT.test(text) || CONTROL_TABLE.test(text);
}

interface Finding {
  rule: Rule;
  file: string;
  line: number;
  what: string;
}

const program = ts.createProgram(productionFiles, {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  allowJs: true,
  checkJs: false,
  strict: true,
  skipLibCheck: true,
  resolveJsonModule: true,
  esModuleInterop: true,
  noEmit: true,
  types: ['node'],
});
const checker = program.getTypeChecker();
const PG_TYPES = /\/node_modules\/(@types\/pg|pg|pg-pool)\//;

/** A `.query(...)` whose method is node-postgres's (Pool, Client, PoolClient, or a Pick of them). */
function isPgQuery(call: ts.CallExpression): boolean {
  if (!ts.isPropertyAccessExpression(call.expression) || call.expression.name.text !== 'query') return false;
  const symbol = checker.getSymbolAtLocation(call.expression.name);
  const declarations = symbol?.declarations ?? [];
  return declarations.some((d) => PG_TYPES.test(d.getSourceFile().fileName.split(path.sep).join('/')));
}

/** Module specifiers with whether they are erased (import type / export type). */
function importsOf(sf: ts.SourceFile): { spec: string; typeOnly: boolean; line: number }[] {
  const found: { spec: string; typeOnly: boolean; line: number }[] = [];
  const line = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      found.push({ spec: node.moduleSpecifier.text, typeOnly, line: line(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = node.isTypeOnly || (!!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly));
      found.push({ spec: node.moduleSpecifier.text, typeOnly, line: line(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ spec: node.moduleReference.expression.text, typeOnly: node.isTypeOnly, line: line(node) });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push({ spec: node.arguments[0].text, typeOnly: false, line: line(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push({ spec: node.argument.literal.text, typeOnly: true, line: line(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** I/O clients count as built-ins here (as in eslint.config.mjs): workflow code is replayed, domain/ is pure. */
const IO_PACKAGES = new Set(['pg', 'pg-copy-streams', 'nodemailer', 'fastify', '@temporalio/worker', '@temporalio/client', '@temporalio/activity']);
const packageOf = (spec: string): string => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
const isBuiltin = (spec: string): boolean => spec.startsWith('node:') || BUILTINS.has(packageOf(spec)) || IO_PACKAGES.has(packageOf(spec));
/** The top-level folder a relative specifier lands in (undefined for a package). */
function targetLayer(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return rel(path.resolve(path.dirname(file), spec)).split('/')[0];
}

const STORE_MAY_IMPORT = new Set(['store', 'domain', 'db', 'config']);

/** The import rules for one file (its layer is its top-level folder). */
function importFindings(file: string, sf: ts.SourceFile): Finding[] {
  const findings: Finding[] = [];
  const r = rel(file);
  const layer = layerOf(file);
  const add = (rule: Rule, line: number, what: string) => findings.push({ rule, file: r, line, what });
  for (const imp of importsOf(sf)) {
    const to = targetLayer(file, imp.spec);
    if (to === 'activities' && (layer === 'cli' || layer === 'gate')) add('cli-gate-activities', imp.line, `imports ${imp.spec}`);
    else if (to === 'activities' && layer !== 'activities' && layer !== 'workers' && !imp.typeOnly) add('activities-imports', imp.line, `imports ${imp.spec}`);
    if ((layer === 'workflows' || layer === 'domain') && !imp.typeOnly) {
      if (isBuiltin(imp.spec)) add('pure-imports', imp.line, `imports the Node built-in or I/O module ${imp.spec}`);
      else if (to !== undefined && to !== 'workflows' && to !== 'domain') add('pure-imports', imp.line, `imports ${imp.spec} (outside workflows/ and domain/)`);
    }
    if (layer === 'store' && !imp.typeOnly && to !== undefined && !STORE_MAY_IMPORT.has(to)) add('store-imports', imp.line, `imports ${imp.spec} (a layer above the store)`);
  }
  return findings;
}

function scan(): Finding[] {
  const findings: Finding[] = [];
  for (const file of productionFiles) {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`not parsed: ${file}`);
    const r = rel(file);
    const layer = layerOf(file);
    const at = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;

    if (!SQL_HOMES.has(layer) && !SQL_AS_DATA.has(r)) {
      const visit = (node: ts.Node): void => {
        let text: string | undefined;
        if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) text = node.text;
        else if (ts.isTemplateExpression(node)) text = node.head.text + node.templateSpans.map((s) => ` \${} ${s.literal.text}`).join('');
        if (text !== undefined && looksLikeSql(text)) findings.push({ rule: 'sql', file: r, line: at(node), what: `SQL text: ${text.trim().slice(0, 60)}` });
        if (ts.isCallExpression(node) && isPgQuery(node)) findings.push({ rule: 'sql', file: r, line: at(node), what: `node-postgres query: ${node.getText(sf).slice(0, 60)}` });
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }

    findings.push(...importFindings(file, sf));
  }
  return findings;
}

const findings = scan();

describe('layers (issue 11; style.md practices 3, 8, 11)', () => {
  test('the scan sees the production folders and finds SQL where it lives', () => {
    expect(topFolders).toEqual(expect.arrayContaining(['activities', 'cli', 'domain', 'gate', 'store', 'workflows', 'workers']));
    expect(topFolders).not.toContain('test');
    expect(productionFiles.length).toBeGreaterThan(100);
    // the detector itself: statements as the store writes them, and what must not count
    for (const sql of [
      'SELECT 1',
      `\n  SELECT code FROM nightshift.dossier`,
      'INSERT INTO nightshift.session (id) VALUES ($1)',
      'UPDATE nightshift.session SET closed_at = now()',
      'DELETE FROM nightshift.dossier WHERE code = $1',
      'WITH s AS (SELECT 1) SELECT * FROM s',
      'CREATE SCHEMA x',
      'CREATE DATABASE nightshift',
      'ALTER TABLE ligne ADD CONSTRAINT c',
      'DROP SCHEMA IF EXISTS x CASCADE',
      'COPY "d_a"."compte" (numero) FROM STDIN',
      'BEGIN',
      'COMMIT',
      'ROLLBACK',
      "SET LOCAL TimeZone = 'UTC'",
      'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ',
      'LOCK TABLE nightshift.backup_run',
      'SHOW server_version',
      'GRANT CONNECT ON DATABASE x TO y',
      'count(*) FROM nightshift.session WHERE closed_at IS NULL',
    ]) {
      expect([sql, looksLikeSql(sql)]).toEqual([sql, true]);
    }
    // the node-postgres detector sees the store's own calls (the allow-list would hide a blind detector)
    const storeCalls = productionFiles
      .filter((f) => layerOf(f) === 'store')
      .flatMap((f) => {
        const calls: ts.CallExpression[] = [];
        const visit = (n: ts.Node): void => {
          if (ts.isCallExpression(n) && isPgQuery(n)) calls.push(n);
          ts.forEachChild(n, visit);
        };
        visit(program.getSourceFile(f)!);
        return calls;
      });
    expect(storeCalls.length).toBeGreaterThan(100);
    const imports = (file: string, text: string) =>
      importFindings(path.join(ROOT, file), ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)).map((f) => f.rule);
    expect(imports('cli/commands/x.ts', "import type { A } from '../../activities/registry';")).toEqual(['cli-gate-activities']);
    expect(imports('gate/x.ts', "export { a } from '../activities/registry';")).toEqual(['cli-gate-activities']);
    expect(imports('registry/x.ts', "import { a } from '../activities/registry';\nimport type { B } from '../activities/deps';")).toEqual(['activities-imports']);
    expect(imports('workers/x.ts', "import { a } from '../activities/registry';")).toEqual([]);
    expect(imports('workflows/x.ts', "import fs from 'node:fs';\nimport type { B } from '../activities/registry';")).toEqual(['pure-imports']);
    expect(imports('domain/x.ts', "import { a } from '../store/queryable';\nconst p = require('path');")).toEqual(['pure-imports', 'pure-imports']);
    expect(imports('store/x/y.ts', "import { a } from '../../gate/notices';\nimport type { C } from '../../workflows/x.api';")).toEqual(['store-imports']);
    for (const prose of ['DELETE', 'GET', 'Select a dossier', 'select the dossiers to back up', 'SET', 'with the shared store', 'Begin the window', 'update the settings', 'BEGIN:VCALENDAR x']) {
      expect([prose, looksLikeSql(prose)]).toEqual([prose, false]);
    }
  });

  test.each(['sql', 'cli-gate-activities', 'activities-imports', 'pure-imports', 'store-imports'] as const)('rule %s: no offender beyond the allow-list, and none listed that no longer offends', (rule) => {
    const offenders = [...new Set(findings.filter((f) => f.rule === rule).map((f) => f.file))].sort();
    const allowed = [...ALLOWED[rule]].sort();
    const unexpected = findings.filter((f) => f.rule === rule && !allowed.includes(f.file)).map((f) => `${f.file}:${f.line} ${f.what}`);
    expect(unexpected).toEqual([]);
    expect(allowed.filter((f) => !offenders.includes(f))).toEqual([]);
  });

  test('R-SE-1/R-BK-3: the live-session rule of the store is the one of the view nightshift.dossier_in_use (its latest migration)', () => {
    const dir = path.join(ROOT, 'db/migrations');
    const views = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort()
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('-- Down Migration')[0]!)
      .flatMap((text) => [...text.matchAll(/CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+nightshift\.dossier_in_use\s+AS([\s\S]*?);/g)].map((m) => m[1]!));
    expect(views.length).toBeGreaterThan(0);
    const where = /\bWHERE\s+([\s\S]*)$/.exec(views[views.length - 1]!)?.[1];
    const normal = (sql: string) => sql.replace(/\bs\./g, '').replace(/\s+/g, ' ').trim();
    expect(normal(where ?? '')).toBe(normal(LIVE_SESSION_SQL));
  });
});

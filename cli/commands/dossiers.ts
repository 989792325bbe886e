import fs from 'node:fs/promises';
import readline from 'node:readline/promises';
import { Option, type Command } from 'commander';
import type pg from 'pg';
import { z } from 'zod';
import { UsageError } from '../../config/config';
import { type Dossier, dossierCodeSchema, dossierRoles, newDossierSchema } from '../../domain/dossier';
import { operatorDateTime } from '../../domain/retention';
import { terminalSafe } from '../../domain/text';
import { demoPrefixSchema, generateDemoDossiers } from '../../registry/demo';
import { documentsFolder } from '../../registry/documents';
import { createDossier, deleteDossier, dossierTableStats, type TableStat } from '../../registry/dossiers';
import { selectDossiers, type DossierFilter } from '../../store/dossiers/list-dossiers';
import { findDossier } from '../../store/dossiers/find-dossier';
import { schemaExists } from '../../store/catalog/schema-exists';
import { caseHint } from '../code-hints';
import { EXIT_FAILED, action, config, jsonOption, output, parseFlag, target, targetOption, wholeNumberSchema, withPools, wordFlag, zodText } from '../context';

/** nightshift dossiers list|show|create|delete|demo */

/** The target's pool for one command (four connections: `demo` builds dossiers in lanes), always ended. */
function withRegistry<T>(targetName: string | undefined, fn: (target: string, pool: pg.Pool) => Promise<T>): Promise<T> {
  return withPools(targetName, (pool, name) => fn(name, pool), 4);
}

/** `-1` is a whole number: what is refused is said with the range it must be in, and the value typed. */
const wholeNumber = (min: number, max: number) => wholeNumberSchema(min, max);

const MAX_SIZE_KB = 1_000_000;
/** `1e20` is positive: what is refused is said with the maximum. */
const sizeKbRange = `expected a number of KB above 0 and at most ${MAX_SIZE_KB} (digits, e.g. 50 or 0.5)`;

const demoSchema = z.object({
  count: wholeNumber(1, 1_000_000),
  sizeKb: z.string().regex(/^\d+(\.\d+)?$/, sizeKbRange).transform(Number).pipe(z.number().positive(sizeKbRange).max(MAX_SIZE_KB, sizeKbRange)),
  seed: wholeNumber(0, 0xffffffff),
  prefix: demoPrefixSchema,
  documents: z.boolean(),
});

const usageFromZod = (error: z.ZodError, flags: Record<string, string>): UsageError => new UsageError(zodText(error, flags));

/** A time as every other command prints it: in the operator's zone (NIGHTSHIFT_TIMEZONE), as `backup list` and the reports (drill Y: UTC here, Paris there). */
const when = (iso: string | null): string => (iso ? operatorDateTime(new Date(iso), config().operatorTimeZone) : 'never');

function flagsText(d: Dossier): string {
  const f = [d.flags.test && 'test', d.flags.specific && 'specific', d.flags.template && 'template', !d.flags.transferable && 'non-transferable'];
  return f.filter(Boolean).join(',') || '-';
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const listFilterSchema = z.object({
  code: z
    .string()
    .regex(/^[A-Za-z0-9_*-]{1,80}$/, 'expected a code, or a pattern of code characters where * stands for any run of them (e.g. DEMO* or *2026*)')
    .optional(),
  modified: z.boolean().optional(),
  below: wholeNumber(0, 2_147_483_647).optional(),
  limit: wholeNumber(1, 1_000_000).optional(),
});

/** The filter as the operator typed it, for the count line: `--code DEMO* --modified`. */
const filterWords = (f: DossierFilter): string =>
  [f.code !== undefined && `--code ${f.code}`, f.modified && '--modified', f.below !== undefined && `--below ${f.below}`].filter(Boolean).join(' ');

function listText({ dossiers, matching, filter, target }: { dossiers: Dossier[]; matching: number; filter: DossierFilter; target: string }): string {
  const words = filterWords(filter);
  if (!dossiers.length) {
    return words
      ? `no dossier of target ${target} matches ${words}`
      : `no dossiers in target ${target} (create one, or load demo dossiers with \`nightshift dossiers demo --count 10 --target ${target}\`)`;
  }
  const rows = dossiers.map((d) => [
    d.code,
    d.label.length > 32 ? `${d.label.slice(0, 31)}…` : d.label,
    d.role,
    flagsText(d),
    d.copyStatus,
    when(d.modifiedAt),
    when(d.lastBackupAt),
    String(d.patchLevel),
    d.modifiedSinceBackup ? 'yes' : 'no',
  ]);
  const cut = dossiers.length < matching ? `: the first ${dossiers.length} shown (--limit ${filter.limit}); raise --limit or narrow the filter` : '';
  // modified is not "taken tonight": templates, test dossiers… are modified and never taken; the batch also takes unmodified ones
  const next = filter.modified ? "; what the next batch takes, and why: 'nightshift backup run --dry-run'" : '';
  const count = words ? `${matching} dossier(s) match ${words}${cut}${next}` : `${matching} dossier(s)${cut}`;
  // with several targets, a list copied into a ticket says which firm it is
  return `target ${target}, times in ${config().operatorTimeZone}\n${table(['CODE', 'LABEL', 'ROLE', 'FLAGS', 'COPY', 'MODIFIED AT', 'LAST BACKUP', 'PATCH', 'MODIFIED?'], rows)}\n${count}`;
}

async function countFiles(dir: string): Promise<number | null> {
  try {
    const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

interface ShowResult extends Dossier {
  target: string;
  /** false: registered, but its schema is not in the database (dropped by hand): a backup refuses it */
  schemaExists: boolean;
  tables: TableStat[];
  documents: { path: string; exists: boolean; files: number };
}

function showText(s: ShowResult): string {
  return [
    `${s.code}  ${s.label}  (target ${s.target})`,
    `  role: ${s.role}   copy status: ${s.copyStatus}   flags: ${flagsText(s)}   patch level: ${s.patchLevel}`,
    `  schema: ${s.schemaName}${s.schemaExists ? '' : ` (NOT in the database: dropped? a backup refuses it; 'nightshift backup list ${s.code}' shows its archives)`}`,
    `  modified at: ${when(s.modifiedAt)}   last backup: ${when(s.lastBackupAt)} (${config().operatorTimeZone})   modified since backup: ${s.modifiedSinceBackup ? 'yes' : 'no'}`,
    `  documents: ${s.documents.path} (${s.documents.exists ? `${s.documents.files} file(s)` : 'no folder'})`,
    '  tables:',
    ...table(['TABLE', 'ROWS', 'CHECKSUM'], s.tables.map((t) => [t.table, String(t.rows), t.checksum]))
      .split('\n')
      .map((l) => `    ${l}`),
  ].join('\n');
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^(y|yes|o|oui)$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `dossiers demo` says how far it is this often (seconds, on stderr) */
const DEMO_PROGRESS_S = 5;

/** `dossiers demo` without --yes: up to this many dossiers and this much data (a benchmark at scale says --yes). */
const DEMO_CONFIRM_ABOVE = 10_000;
const DEMO_CONFIRM_MB = 2_000;
/** A demo dossier on disk (measured): ~200 KB for its schema, tables and indexes, then ~3.3 KB per KB of row text
 * (200 x 200 KB: 131 MB; 45,597 x 50 KB: 17 GB). */
const DEMO_FIXED_KB = 200;
const DISK_PER_TEXT_KB = 3.3;

/**
 * The dossier; a code that names none is bad usage (exit 2, nothing changed), as in the backup commands, naming the
 * code a wrong-case one probably meant (README: codes are case-sensitive).
 */
async function dossierNamed(pool: pg.Pool, targetName: string, code: string): Promise<Dossier> {
  const dossier = await findDossier(pool, code);
  if (!dossier) throw new UsageError(`unknown dossier ${code} in target ${targetName}${await caseHint(pool, code)}`);
  return dossier;
}

export function registerDossierCommands(program: Command): void {
  const dossiers = program.command('dossiers').description('the dossier registry of a target');

  dossiers
    .command('list')
    .description('list the dossiers of a target: role, flags, copy status, dates, patch level, modified since backup')
    .option('--code <pattern>', 'only codes matching it, in any case; * stands for any run of characters (DEMO*, *2026*)')
    .option('--modified', 'only dossiers modified since their last backup (R-BK-1)')
    .option('--below <level>', 'only dossiers whose patch level is below this one (the laggards `patch revalidate` takes)')
    .option('--limit <n>', 'at most n dossiers (the count line still says how many match)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (opts: { target?: string; json?: boolean; code?: string; modified?: boolean; below?: string; limit?: string }) => {
        const r = listFilterSchema.safeParse({ code: opts.code, modified: opts.modified, below: opts.below, limit: opts.limit });
        if (!r.success) throw usageFromZod(r.error, { code: '--code', below: '--below', limit: '--limit' });
        const filter: DossierFilter = r.data;
        const found = await withRegistry(opts.target, async (t, pool) => ({ ...(await selectDossiers(pool, filter)), target: t }));
        output(opts.json, found.dossiers.map((d) => ({ target: found.target, ...d })), () => listText({ ...found, filter }));
      }),
    );

  dossiers
    .command('show')
    .description("one dossier, with each table's row count and checksum and its documents folder")
    .argument('<code>', 'dossier code')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (rawCode: string, opts: { target?: string; json?: boolean }) => {
        const code = parseFlag('CODE', dossierCodeSchema, rawCode);
        const result = await withRegistry(opts.target, async (t, pool): Promise<ShowResult> => {
          const dossier = await dossierNamed(pool, t, code);
          const tables = await dossierTableStats(pool, t, code);
          const there = tables.length > 0 || (await schemaExists(pool, dossier.schemaName));
          const dir = documentsFolder(config().documentsDir, t, code);
          const files = await countFiles(dir);
          return { target: t, ...dossier, schemaExists: there, tables, documents: { path: dir, exists: files !== null, files: files ?? 0 } };
        });
        output(opts.json, result, showText);
      }),
    );

  dossiers
    .command('create')
    .description('create an empty dossier (its schema holds the base accounting structure)')
    .argument('<code>', 'dossier code: 1-40 letters, digits, "_" or "-"')
    .requiredOption('--label <text>', 'the dossier label (company name)')
    .addOption(new Option('--role <role>', 'supervisor (one per target) or regular').default('regular'))
    .option('--test', 'flag it as a test dossier')
    .option('--specific', 'flag it as a specific dossier')
    .option('--template', 'flag it as a template dossier (never backed up by the batch)')
    .option('--not-transferable', 'flag it as non-transferable (never backed up by the batch)')
    .option('--copy', 'copy status "copy" (default "original")')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(
        async (
          code: string,
          opts: { label: string; role: string; test?: boolean; specific?: boolean; template?: boolean; notTransferable?: boolean; copy?: boolean; target?: string; json?: boolean },
        ) => {
          const parsed = newDossierSchema.safeParse({
            code,
            label: opts.label,
            role: wordFlag('--role', dossierRoles, opts.role),
            copyStatus: opts.copy ? 'copy' : 'original',
            flags: { test: !!opts.test, specific: !!opts.specific, template: !!opts.template, transferable: !opts.notTransferable },
          });
          if (!parsed.success) throw usageFromZod(parsed.error, { code: 'CODE', label: '--label', role: '--role' });
          const created = await withRegistry(opts.target, (t, pool) => createDossier(pool, t, parsed.data));
          output(opts.json, created, (d) => `created dossier ${d.code} (${d.label}) in schema ${d.schemaName}`);
        },
      ),
    );

  dossiers
    .command('delete')
    .description("delete a dossier: its schema, registry row and documents folder (refused while it is in use)")
    .argument('<code>', 'dossier code')
    .option('-y, --yes', 'do not ask for confirmation (required without a terminal)')
    .addOption(targetOption())
    .action(
      action(async (rawCode: string, opts: { yes?: boolean; target?: string }) => {
        const code = parseFlag('CODE', dossierCodeSchema, rawCode);
        return withRegistry(opts.target, async (t, pool) => {
          // a code that names no dossier is said as such (with its case hint) before --yes is asked for
          const dossier = await dossierNamed(pool, t, code);
          if (!opts.yes && !process.stdin.isTTY) throw new UsageError(`refusing to delete dossier ${code} without --yes (no terminal to confirm on)`);
          if (!opts.yes && !(await confirm(`Delete dossier ${dossier.code} (${terminalSafe(dossier.label)}) and all its data in target ${t}? [y/N] `))) {
            process.stderr.write('nothing deleted\n');
            return EXIT_FAILED;
          }
          await deleteDossier(pool, config().documentsDir, t, code);
          process.stdout.write(`deleted dossier ${code}\n`);
          return undefined;
        });
      }),
    );

  dossiers
    .command('demo')
    .description('create N deterministic demo dossiers (chart of accounts, journals, entries, settings, documents)')
    .requiredOption('--count <n>', 'how many dossiers')
    .option('--size-kb <k>', 'approximate data per dossier in KB', '50')
    .option('--seed <s>', 'generator seed: the same seed gives the same data', '1')
    .option('--prefix <p>', 'code prefix (codes continue after the highest existing one)', 'DEMO')
    .option('--documents', 'also write a few documents per dossier into the documents folder')
    .option('-y, --yes', `needed above ${DEMO_CONFIRM_ABOVE.toLocaleString('en')} dossiers or ${DEMO_CONFIRM_MB.toLocaleString('en')} MB in all (benchmarks at scale)`)
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (opts: { count: string; sizeKb: string; seed: string; prefix: string; documents?: boolean; yes?: boolean; target?: string; json?: boolean }) => {
        const parsed = demoSchema.safeParse({ ...opts, documents: !!opts.documents });
        if (!parsed.success) throw usageFromZod(parsed.error, { count: '--count', sizeKb: '--size-kb', seed: '--seed', prefix: '--prefix' });
        const o = parsed.data;
        // a slip of a zero fills the database (1,000,000 demo dossiers is ~350 GB): a large demo is asked for with --yes
        const mb = Math.round((o.count * (DEMO_FIXED_KB + o.sizeKb * DISK_PER_TEXT_KB)) / 1024);
        if (!opts.yes && (o.count > DEMO_CONFIRM_ABOVE || mb > DEMO_CONFIRM_MB)) {
          throw new UsageError(
            `--count ${o.count} x --size-kb ${o.sizeKb}: about ${mb.toLocaleString('en')} MB in the database; add --yes to create that many (above ${DEMO_CONFIRM_ABOVE.toLocaleString('en')} dossiers or ${DEMO_CONFIRM_MB.toLocaleString('en')} MB)`,
          );
        }
        const started = process.hrtime.bigint();
        const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
        // a long demo says how far it is on stderr every DEMO_PROGRESS_S (drill S: 9,000 dossiers in silence), and an
        // interrupt says what is there: whole dossiers only (each transaction commits whole), a new run numbers after them
        let done = 0;
        let saidAt = 0;
        const progress = (n: number, total: number) => {
          done = n;
          if (elapsed() - saidAt < DEMO_PROGRESS_S || n === total) return;
          saidAt = elapsed();
          process.stderr.write(`created ${n} / ${total} demo dossier(s) (${(n / saidAt).toFixed(1)}/s)\n`);
        };
        const interrupted = (signal: NodeJS.Signals) => {
          process.stderr.write(`\nnightshift: stopped (${signal}) after about ${done} demo dossier(s) created, each whole; a new run numbers its dossiers after them (--count is how many it adds)\n`);
          process.exit(130);
        };
        process.once('SIGINT', interrupted);
        process.once('SIGTERM', interrupted);
        const targetName = target(opts.target).name;
        const codes = await withRegistry(opts.target, (t, pool) =>
          generateDemoDossiers(pool, {
            target: t,
            count: o.count,
            sizeKb: o.sizeKb,
            seed: o.seed,
            prefix: o.prefix,
            documentsDir: o.documents ? config().documentsDir : undefined,
            onProgress: progress,
          }),
        ).finally(() => {
          process.removeListener('SIGINT', interrupted);
          process.removeListener('SIGTERM', interrupted);
        });
        const seconds = elapsed();
        output(opts.json, { target: targetName, count: codes.length, seconds: Math.round(seconds * 100) / 100, codes }, (v) => {
          const which = v.codes.length <= 20 ? v.codes.join(' ') : `${v.codes[0]} .. ${v.codes[v.codes.length - 1]}`;
          return `created ${v.count} demo dossier(s) on target ${v.target} in ${v.seconds.toFixed(2)} s (${(v.count / Math.max(seconds, 0.001)).toFixed(1)}/s): ${which}`;
        });
      }),
    );
}

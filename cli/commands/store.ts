import fs from 'node:fs';
import type { Command } from 'commander';
import { FOLDER_NAME, type AdoptVerdict, STORE_MARKER_FILE, adoptSharedFolder, workerFolders } from '../../shared-store/marker';
import { keptCopyCounts } from '../../store/generations/kept-copy-counts';
import { EXIT_FAILED, EXIT_OK, action, config, jsonOption, output, targetOption, withPools } from '../context';
import { lazy } from '../lazy';

/**
 * `nightshift store adopt`: the shared store's folder lost (a disk replaced, a share re-created empty), workers refuse
 * to start (marker missing, issue 10). This marks this host's folder with the recorded store id, after the operator
 * said so (`--yes`); without it, what it would do. Only a folder with no marker at all is marked.
 */

interface AdoptFlags {
  target?: string;
  yes?: boolean;
  json?: boolean;
}

interface AdoptReport {
  target: string;
  written: boolean;
  folders: AdoptVerdict[];
  generations: { kept: number; copied: number };
}

const short = (id: string | undefined) => (id ? `${id.slice(0, 8)}…` : '?');

function folderLine(v: AdoptVerdict, yes: boolean): string {
  const where = `${FOLDER_NAME[v.kind]} ${v.folder}`;
  if (v.state === 'unrecorded') return `${where}: no store recorded yet (the first worker to start makes its folders the store): nothing to adopt`;
  if (v.state === 'ok') return v.adopted ? `${where}: marked, it is the shared store ${short(v.storeId)} now` : `${where}: is the shared store ${short(v.storeId)} (left alone)`;
  if (v.reason === 'marker missing') return `${where}: marker missing (the recorded store is ${short(v.storeId)}): ${yes ? 'not marked' : 'would be marked with it'}`;
  if (v.reason === 'folder missing') return `${where}: the folder does not exist (a share not mounted here?): refused; mount the share, or make the folder on the new disk (mkdir), then adopt`;
  if (v.reason === 'not a folder') return `${where}: something other than a folder (a file) stands there: refused; move it away, then mount the share or make the folder (mkdir), then adopt`;
  return `${where}: ${v.reason} (the recorded store is ${short(v.storeId)}): refused, it may hold another store's files; move it away or mount the shared folder there`;
}

function reportText(r: AdoptReport): string {
  const toMark = r.folders.some((v) => v.state === 'refused' && v.reason === 'marker missing' && !v.adopted);
  const lines = [`target ${r.target}`, ...r.folders.map((v) => `  ${folderLine(v, r.written)}`)];
  lines.push(
    `kept generations recorded: ${r.generations.kept}, ${r.generations.copied} with an off-site copy (a restore reads the copy while the file is missing: ` +
      `nightshift backup restore CODE --at DATE), ${r.generations.kept - r.generations.copied} without`,
  );
  if (toMark) {
    lines.push(
      `nothing written: run again with --yes to write ${STORE_MARKER_FILE} there. Only if the old folder is lost: a share that is only not mounted ` +
        `on this host is mounted instead (every worker of a target must see the same folder, at the same path).`,
    );
  } else if (r.folders.some((v) => v.adopted)) {
    lines.push(`next: start the workers; 'nightshift backup run --all --target ${r.target} --wait' writes a new archive of every dossier here`);
  }
  return lines.join('\n');
}

/**
 * On the dev stack, `nightshift dev` stops its embedded PostgreSQL when its worker refuses the folder: the one command
 * that mends it starts that PostgreSQL for itself (same data, same port), and stops it after.
 */
async function withDevDatabase<T>(fn: () => Promise<T>): Promise<T> {
  const c = config();
  const { devPaths, portFree, startPostgres } = lazy<typeof import('./dev')>(__dirname, './dev');
  if (!c.embeddedPostgres || !(await portFree(c.pg.port, '127.0.0.1'))) return fn();
  const paths = devPaths(c);
  fs.mkdirSync(paths.logsDir, { recursive: true });
  process.stderr.write(`the dev stack's PostgreSQL is not running: started for this command (${paths.pgDir}), stopped after\n`);
  const server = await startPostgres(c, paths, () => {});
  try {
    return await fn();
  } finally {
    await server.stop();
  }
}

export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description("the target's shared store: the backup and documents folders every worker sees");
  store
    .command('adopt')
    .description("the store's old folder lost (a disk replaced): mark this host's empty folder as the target's shared store so that workers start again")
    .option('--yes', 'write the marker (without: only say what would be done)')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: AdoptFlags) =>
        withDevDatabase(() => withPools(flags.target, async (pool, target) => {
          const folders = await workerFolders(config(), pool, target);
          const verdicts: AdoptVerdict[] = [];
          for (const kind of ['backups', 'documents'] as const) verdicts.push(await adoptSharedFolder(pool, kind, folders[kind], Boolean(flags.yes)));
          const report: AdoptReport = { target, written: verdicts.some((v) => v.adopted), folders: verdicts, generations: await keptCopyCounts(pool) };
          output(flags.json, report, reportText);
          const refused = verdicts.filter((v) => v.state === 'refused');
          return refused.some((v) => v.reason !== 'marker missing') || (flags.yes && refused.length) ? EXIT_FAILED : EXIT_OK;
        })),
      ),
    );
}

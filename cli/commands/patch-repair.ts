import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline/promises';
import type { Command } from 'commander';
import { UsageError } from '../../config/config';
import { repairDoneLine, repairItemLine } from '../../domain/patch-repair';
import { readPatchDirectory } from '../../patches/package';
import { acceptedLedgers, realign, RepairRefused, repairItems } from '../../patches/repair';
import { onlyCodesSchema } from '../../domain/backup-batch';
import { patchDirectoryProblem } from '../../shared-store/marker';
import { unfinishedRepairs } from '../../store/patch/unfinished-repairs';
import { folderArgument } from '../patch-dir';
import { action, jsonOption, output, parseFlag, SaidError, target, targetOption, withPools } from '../context';

/** A repair cut off (`patch status`, and a repair of another folder, say it): run again, it goes on. */
export function unfinishedRepairLine(u: { id: number; number: number; source_dir: string; dossiers: number }): string {
  return `repair ${u.id} of patch ${u.number} was cut off (${u.dossiers} ledger(s) realigned, the stored package not yet replaced: a run fails the dossiers realigned): run 'nightshift patch repair ${u.source_dir}' again`;
}

interface RepairFlags {
  target?: string;
  acceptLedger?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

async function confirmRepair(lines: string[], yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError(`${lines.join('\n')}\nConfirm with --yes (no terminal to ask on); --dry-run says it without changing anything.`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^(y|yes|o|oui)$/i.test((await rl.question(`${lines.join('\n')}\nRealign? [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/**
 * `nightshift patch repair DIR [--dry-run] [--yes]` (Flyway's `repair`, R-PI-8): the packages of DIR stored under another
 * checksum, applied somewhere already, are realigned instead of refused by every run: each holder's ledger row takes the
 * new checksum, page by page, then the stored package is replaced and the repair's row closed (its audit trail:
 * `nightshift.patch_repair`). Nothing is applied again. Cut off, it is run again and goes on.
 */
export function registerPatchRepairCommand(patch: Command): void {
  patch
    .command('repair')
    .description("realign the dossiers' ledgers and the stored package with DIR's packages whose checksum changed after they were applied (Flyway's repair, R-PI-8); nothing is applied again")
    .argument('<dir>', 'the directory of patch packages (as integrate takes it)')
    .option('--accept-ledger <codes>', "comma-separated dossiers whose ledger holds a checksum no package of the target had (restored from another environment): accept it as DIR's package's, realigning every ledger that holds it")
    .option('--dry-run', 'say what it would realign; change nothing')
    .option('--yes', 'realign without asking')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (dirArg: string, flags: RepairFlags) => {
        const dir = folderArgument('DIR', dirArg);
        const t = target(flags.target);
        if (!fs.existsSync(dir)) throw new UsageError(`no patch directory ${dir}${fs.existsSync(path.dirname(dir)) ? ` (its folder ${path.dirname(dir)} is here, without it)` : ''}: nothing changed`);
        const acceptCodes = flags.acceptLedger === undefined ? undefined : parseFlag('--accept-ledger', onlyCodesSchema, flags.acceptLedger);
        const packages = await readPatchDirectory(dir);
        return withPools(t.name, async (pool) => {
          const notShared = await patchDirectoryProblem(pool, t.name, dir);
          if (notShared) throw new UsageError(`${notShared}: nothing changed`);
          const named = acceptCodes ? await acceptedLedgers(pool, acceptCodes, packages) : undefined;
          if (named?.unknown.length) throw new UsageError(`--accept-ledger: no dossier ${named.unknown.join(', ')} on target ${t.name}: nothing changed`);
          // a dossier named whose ledger already holds DIR's checksums has nothing to accept: said, not an error
          for (const code of named?.inLine ?? []) if (!flags.json) process.stderr.write(`${code}: its ledger holds ${dir}'s checksums already: nothing to accept\n`);
          const accepted = named?.accepted;
          const items = await repairItems(pool, packages, accepted);
          // a repair cut off with another folder: said, it is that folder's to finish
          const others = (await unfinishedRepairs(pool)).filter((u) => !items.some((i) => i.number === u.number));
          const otherLines = others.map(unfinishedRepairLine);
          if (!items.length) {
            output(flags.json, { target: t.name, dir, items: [], unfinished: others }, () =>
              [`nothing to repair on ${t.name}: every package of ${dir} is stored with its own checksum, or not stored yet (integrate stores it)`, ...otherLines].join('\n'),
            );
            return;
          }
          if (flags.dryRun) {
            output(flags.json, { target: t.name, dir, dryRun: true, items, unfinished: others }, (v) =>
              [`patch repair on ${t.name} would realign (R-PI-8, Flyway's repair):`, ...v.items.map((i) => `  ${repairItemLine(i)}`), ...otherLines, '(dry run: nothing changed)'].join('\n'),
            );
            return;
          }
          if (!(await confirmRepair([`patch repair on ${t.name} (R-PI-8, Flyway's repair):`, ...items.map((i) => `  ${repairItemLine(i)}`)], flags.yes))) {
            process.stderr.write('nothing changed\n');
            return;
          }
          const done = await realign(pool, t.name, dir, packages, items, accepted).catch((err: unknown) => {
            throw err instanceof RepairRefused ? new SaidError(err.message) : err;
          });
          output(flags.json, { target: t.name, dir, repaired: done }, (v) =>
            [...(v.repaired.length ? v.repaired.map(repairDoneLine) : [`nothing left to repair on ${t.name}: a repair that ran meanwhile did it`]), ...otherLines].join('\n'),
          );
        });
      }),
    );
}


import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline/promises';
import type { Command } from 'commander';
import type pg from 'pg';
import { UsageError } from '../../config/config';
import { repairDoneLine, repairItemLine, type RepairDone, type RepairItem } from '../../domain/patch-repair';
import { readPatchDirectory, type PatchPackage } from '../../patches/package';
import { patchDirectoryProblem } from '../../shared-store/marker';
import { lockStoredPackage } from '../../store/patch/lock-stored-package';
import { patchPrerequisites } from '../../store/patch/prerequisites';
import { replacePackage } from '../../store/patch/replace-package';
import { closeRepair } from '../../store/patch/repair-close';
import { holdRepairLocks } from '../../store/patch/repair-lock';
import { openRepair } from '../../store/patch/repair-open';
import { repairPage } from '../../store/patch/repair-page';
import { repairedChecksums } from '../../store/patch/repaired-checksums';
import { storedChecksums } from '../../store/patch/stored-checksums';
import type { Queryable } from '../../store/queryable';
import { unfinishedRepairs } from '../../store/patch/unfinished-repairs';
import { inTransaction } from '../../store/transaction';
import { folderArgument } from '../patch-dir';
import { action, jsonOption, output, SaidError, target, targetOption, withPools } from '../context';

/** Dossier ledgers realigned per statement (one transaction: a few hundred table locks of the lock table). */
const REPAIR_PAGE_SIZE = 200;

/** What a repair waits for: runs that read or bring back dossier ledgers (the claim locks keep new ones out meanwhile). */
const REPAIR_BLOCKERS = new Set(['no other patch run', 'no rollback', 'no restore run']);

interface RepairFlags {
  target?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

/**
 * What a repair realigns: DIR's packages stored under another checksum (the package replaced, every holder's ledger
 * realigned), and those repaired before whose ledgers a restore brought back to an old checksum (counted first: none,
 * nothing to do).
 */
async function repairItems(db: Queryable, packages: PatchPackage[]): Promise<RepairItem[]> {
  const numbers = packages.map((p) => p.manifest.number);
  const stored = new Map((await storedChecksums(db, numbers)).map((s) => [s.number, s]));
  const repaired = await repairedChecksums(db, numbers);
  const items: RepairItem[] = [];
  for (const p of packages) {
    const s = stored.get(p.manifest.number);
    if (!s) continue;
    const oldChecksums = [...new Set([s.checksum, ...(repaired.get(s.number) ?? [])])].filter((c) => c !== p.manifest.checksum).sort();
    if (!oldChecksums.length) continue;
    const item: RepairItem = {
      number: s.number,
      folder: p.folder,
      storedChecksum: s.checksum,
      newChecksum: p.manifest.checksum,
      oldChecksums,
      replacesPackage: s.checksum !== p.manifest.checksum,
      storedFrom: s.source_dir,
      holders: s.holders,
    };
    if (!item.replacesPackage) {
      item.stale = await realignPages(db, item, null);
      if (!item.stale) continue;
    }
    items.push(item);
  }
  return items;
}

/** The holders of an item's patch, page by page: their ledgers realigned under the repair `repairId`, or counted (null). */
async function realignPages(db: Queryable, item: RepairItem, repairId: number | null): Promise<number> {
  let total = 0;
  for (let after = ''; ; ) {
    const page = await repairPage(db, { repairId, number: item.number, oldChecksums: item.oldChecksums, newChecksum: item.newChecksum, after, size: REPAIR_PAGE_SIZE });
    if (page.last === null) return total;
    total += page.repaired;
    after = page.last;
  }
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
    .option('--dry-run', 'say what it would realign; change nothing')
    .option('--yes', 'realign without asking')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (dirArg: string, flags: RepairFlags) => {
        const dir = folderArgument('DIR', dirArg);
        const t = target(flags.target);
        if (!fs.existsSync(dir)) throw new UsageError(`no patch directory ${dir}${fs.existsSync(path.dirname(dir)) ? ` (its folder ${path.dirname(dir)} is here, without it)` : ''}: nothing changed`);
        const packages = await readPatchDirectory(dir);
        return withPools(t.name, async (pool) => {
          const notShared = await patchDirectoryProblem(pool, t.name, dir);
          if (notShared) throw new UsageError(`${notShared}: nothing changed`);
          const items = await repairItems(pool, packages);
          // a repair cut off with another folder: said, it is that folder's to finish
          const others = (await unfinishedRepairs(pool)).filter((u) => !items.some((i) => i.number === u.number));
          const otherLines = others.map((u) => `repair ${u.id} of patch ${u.number} was cut off (${u.dossiers} ledger(s) realigned): run 'nightshift patch repair ${u.source_dir}' again`);
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
          const done = await realign(pool, t.name, dir, packages, items);
          output(flags.json, { target: t.name, dir, repaired: done }, (v) =>
            [...(v.repaired.length ? v.repaired.map(repairDoneLine) : [`nothing left to repair on ${t.name}: a repair that ran meanwhile did it`]), ...otherLines].join('\n'),
          );
        });
      }),
    );
}

/** Under the claim locks of patch, rollback and restore runs (none running): each item's ledgers, then its package. */
async function realign(pool: pg.Pool, targetName: string, dir: string, packages: PatchPackage[], items: RepairItem[]): Promise<RepairDone[]> {
  const client = await pool.connect();
  try {
    await holdRepairLocks(client);
    const busy = (await patchPrerequisites(client, targetName)).filter((q) => !q.ok && REPAIR_BLOCKERS.has(q.name));
    if (busy.length) throw new SaidError(`nothing realigned: ${busy.map((q) => `${q.name}: ${q.detail}`).join('; ')}; run it again once they have ended`);
    // read again under the locks: a repair that ran meanwhile (this one waited for its locks) may have done it
    const confirmed = new Set(items.map((i) => i.number));
    const now = (await repairItems(client, packages)).filter((i) => confirmed.has(i.number));
    const done: RepairDone[] = [];
    for (const item of now) {
      const p = packages.find((x) => x.manifest.number === item.number)!;
      const repair = await openRepair(client, { number: item.number, oldChecksums: item.oldChecksums, newChecksum: item.newChecksum, dir, replacesPackage: item.replacesPackage });
      await realignPages(client, item, repair.id);
      const closed = await inTransaction(client, async () => {
        if (item.replacesPackage) {
          await lockStoredPackage(client, item.number);
          await replacePackage(client, p.manifest, p.files, dir);
        }
        return closeRepair(client, repair.id);
      });
      done.push({ ...item, repairId: repair.id, realigned: closed.dossiers, resumed: repair.resumed });
    }
    return done;
  } finally {
    // the session's advisory locks go with its connection
    client.release(true);
  }
}

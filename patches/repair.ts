import type pg from 'pg';
import type { RepairDone, RepairItem } from '../domain/patch-repair';
import type { PatchPackage } from './package';
import { lockStoredPackage } from '../store/patch/lock-stored-package';
import { patchPrerequisites } from '../store/patch/prerequisites';
import { replacePackage } from '../store/patch/replace-package';
import { closeRepair } from '../store/patch/repair-close';
import { holdRepairLocks } from '../store/patch/repair-lock';
import { openRepair } from '../store/patch/repair-open';
import { repairPage } from '../store/patch/repair-page';
import { repairedChecksums } from '../store/patch/repaired-checksums';
import { readDossierLedger } from '../store/patch/dossier-ledger';
import { storedChecksums } from '../store/patch/stored-checksums';
import { storedPackageContent } from '../store/patch/stored-package-content';
import { packageChanges } from '../domain/patch-changes';
import type { Queryable } from '../store/queryable';
import { inTransaction } from '../store/transaction';

/**
 * `nightshift patch repair DIR` (Flyway's `repair`, R-PI-8), the part that reads and writes the target (the CLI asks and
 * prints; bench/patch-integration.ts times it): what to realign, then the ledgers page by page and the stored package.
 */

/** Dossier ledgers realigned per statement (one transaction: a few hundred table locks of the lock table). */
const REPAIR_PAGE_SIZE = 200;

/** What a repair waits for: runs that read or bring back dossier ledgers (the claim locks keep new ones out meanwhile). */
const REPAIR_BLOCKERS = new Set(['no other patch run', 'no rollback', 'no restore run']);

/** A repair that did not begin: a run it waits for is at work (the CLI says it, exit 1). */
export class RepairRefused extends Error {}

/**
 * What a repair realigns: DIR's packages stored under another checksum (the package replaced, every holder's ledger
 * realigned), and those repaired before whose ledgers a restore brought back to an old checksum (counted first: none,
 * nothing to do).
 */
export async function repairItems(
  db: Queryable,
  packages: PatchPackage[],
  accepted: AcceptedLedgers = new Map(),
  opts: { changes?: boolean } = {},
): Promise<RepairItem[]> {
  const numbers = packages.map((p) => p.manifest.number);
  const stored = new Map((await storedChecksums(db, packages.map((p) => ({ number: p.manifest.number, checksum: p.manifest.checksum })))).map((s) => [s.number, s]));
  const repaired = await repairedChecksums(db, numbers);
  const items: RepairItem[] = [];
  for (const p of packages) {
    const s = stored.get(p.manifest.number);
    if (!s) continue;
    const mine = (accepted.get(s.number) ?? []).filter((a) => a.checksum !== p.manifest.checksum);
    const oldChecksums = [...new Set([s.checksum, ...(repaired.get(s.number) ?? []), ...mine.map((a) => a.checksum)])].filter((c) => c !== p.manifest.checksum).sort();
    if (!oldChecksums.length) continue;
    const item: RepairItem = {
      ...(mine.length && { accepted: { codes: [...new Set(mine.map((a) => a.code))].sort(), checksums: [...new Set(mine.map((a) => a.checksum))].sort() } }),
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
  // what changed in each package replaced: a comment is told apart from a new routing or new statements (for the
  // operator: realign's second reading under its locks skips it)
  if (opts.changes === false) return items;
  const replaced = await storedPackageContent(db, items.filter((i) => i.replacesPackage).map((i) => i.number));
  for (const item of items) {
    const before = replaced.get(item.number);
    const after = packages.find((p) => p.manifest.number === item.number);
    if (before && after) item.changes = packageChanges(before, after);
  }
  return items;
}

/** Per patch number, the checksums named dossiers' ledgers hold that the operator accepts as the package's (--accept-ledger). */
export type AcceptedLedgers = ReadonlyMap<number, { code: string; checksum: string }[]>;

/**
 * `patch repair DIR --accept-ledger CODE…`: the ledger rows of the named dossiers for DIR's patches whose checksum is not
 * DIR's (a ledger restored from another environment, edited by hand: a checksum no package or repair of this target
 * had, which `repair` alone does not realign: R-PI-8 refuses it at every run). The operator vouches that their content
 * is the package's; every ledger holding the same checksum is realigned with them (the same checksum, the same content).
 * `unknown`: codes that name no dossier.
 */
export async function acceptedLedgers(db: Queryable, codes: string[], packages: PatchPackage[]): Promise<{ accepted: AcceptedLedgers; unknown: string[]; inLine: string[] }> {
  const byNumber = new Map(packages.map((p) => [p.manifest.number, p.manifest.checksum]));
  const accepted = new Map<number, { code: string; checksum: string }[]>();
  const unknown: string[] = [];
  const inLine: string[] = [];
  for (const code of codes) {
    const read = await readDossierLedger(db, code);
    if (!read.dossier) {
      unknown.push(code);
      continue;
    }
    const off = read.ledger.filter((r) => byNumber.has(r.number) && r.checksum !== byNumber.get(r.number));
    if (!off.length) inLine.push(code);
    for (const r of off) accepted.set(r.number, [...(accepted.get(r.number) ?? []), { code, checksum: r.checksum }]);
  }
  return { accepted, unknown, inLine };
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

/** Under the claim locks of patch, rollback and restore runs (none running): each item's ledgers, then its package. */
export async function realign(pool: pg.Pool, targetName: string, dir: string, packages: PatchPackage[], items: RepairItem[], accepted: AcceptedLedgers = new Map()): Promise<RepairDone[]> {
  const client = await pool.connect();
  try {
    await holdRepairLocks(client);
    const busy = (await patchPrerequisites(client, targetName)).filter((q) => !q.ok && REPAIR_BLOCKERS.has(q.name));
    if (busy.length) throw new RepairRefused(`nothing realigned: ${busy.map((q) => `${q.name}: ${q.detail}`).join('; ')}; run it again once they have ended`);
    // read again under the locks: a repair that ran meanwhile (this one waited for its locks) may have done it
    const confirmed = new Set(items.map((i) => i.number));
    const now = (await repairItems(client, packages, accepted, { changes: false })).filter((i) => confirmed.has(i.number));
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

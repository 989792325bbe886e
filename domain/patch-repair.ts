import type { PackageChanges } from './patch-changes';

/**
 * `nightshift patch repair DIR` (Flyway's `repair`, R-PI-8): a package of DIR stored under another checksum, already
 * applied somewhere, is realigned instead of refused: each holder's ledger row takes the new checksum, then the stored
 * package is replaced. Nothing is applied again: the dossiers keep what they applied.
 */
export interface RepairItem {
  number: number;
  folder: string;
  storedChecksum: string;
  newChecksum: string;
  /** the checksums a ledger row may hold and take the new one from: the stored one, and those of earlier repairs */
  oldChecksums: string[];
  /** the stored package is replaced (its checksum differs); false: repaired before, ledgers brought back by a restore */
  replacesPackage: boolean;
  /** where the stored package came from */
  storedFrom: string | null;
  /** dossiers at or above its level (their ledgers hold it) */
  holders: number;
  /** repaired before: the dossiers whose ledger holds an old checksum again (counted) */
  stale?: number;
  /** --accept-ledger: checksums named dossiers' ledgers hold that no package of the target had, accepted as the package's */
  accepted?: { codes: string[]; checksums: string[] };
  /** the stored package replaced: what changed from it to the folder's */
  changes?: PackageChanges;
}

export interface RepairDone extends RepairItem {
  repairId: number;
  /** ledger rows realigned (a repair run again after a cut-off counts those of both) */
  realigned: number;
  resumed: boolean;
}

/** Beside a ChecksumDrift refusal (integrate, plan, the run): the way on when the change need not reach the dossiers. */
export function repairHint(dir: string): string {
  return `if what changed need not reach the dossiers that applied it (a comment, a description): 'nightshift patch repair ${dir}' realigns their ledgers (Flyway's repair)`;
}

/**
 * Beside a dossier's own ledger drift (its row holds a checksum the package no longer has, R-PI-8): the way on when the
 * content it applied is the package's (its ledger restored from another environment, edited by hand).
 */
export function ledgerDriftHint(code: string): string {
  return `if what it applied is this package's content (its ledger restored from elsewhere): 'nightshift patch repair DIR --accept-ledger ${code}' realigns it`;
}

const short = (checksum: string): string => `${checksum.slice(0, 12)}…`;

/** One line per package to realign, as `--dry-run` and the confirmation say it. */
export function repairItemLine(i: RepairItem): string {
  if (i.accepted && !i.replacesPackage) {
    return (
      `patch ${i.number} (${i.folder}): ${i.accepted.codes.join(', ')} hold${i.accepted.codes.length > 1 ? '' : 's'} checksum ${i.accepted.checksums.map(short).join(', ')}, ` +
      `which no package of this target had (accepted with --accept-ledger: its content taken for this package's); ${i.stale ?? 0} dossier ledger(s) holding it ` +
      `or an older checksum take this folder's ${short(i.newChecksum)}, nothing is applied again`
    );
  }
  if (!i.replacesPackage) {
    return (
      `patch ${i.number} (${i.folder}): stored with this folder's checksum ${short(i.newChecksum)} since a repair; ${i.stale ?? 0} dossier(s) hold an older ` +
      `checksum of it again (put back before restores realigned it, or by hand): their ledgers take the new one, nothing is applied again`
    );
  }
  return (
    `patch ${i.number} (${i.folder}): stored with checksum ${short(i.storedChecksum)} (from ${i.storedFrom ?? '?'}), this folder has ${short(i.newChecksum)}; ` +
    `${i.holders} dossier(s) hold it: their ledgers take the new checksum, nothing is applied again${changesText(i.changes)}`
  );
}

/**
 * What changed, after a repair line: a change that alters what the package does is said to stay out of the dossiers that
 * applied the old one (a repair applies nothing again), and how to bring it to them.
 */
function changesText(c: PackageChanges | undefined): string {
  if (!c?.what.length) return '';
  if (!c.effect) return `; what changed: ${c.what.join(', ')} (nothing a dossier runs)`;
  return (
    `; what changed: ${c.what.join(', ')}; it changes what the package does: the dossiers that hold it keep what the old one did ` +
    `(a repair applies nothing again); for the change to reach them, put the old package back and give the change a new patch number`
  );
}

export function repairDoneLine(d: RepairDone): string {
  const pkg = d.replacesPackage ? ', the stored package replaced' : '';
  return `patch ${d.number}: ${d.realigned} dossier ledger(s) realigned to ${short(d.newChecksum)}${pkg} (repair ${d.repairId}${d.resumed ? ', going on from a repair cut off' : ''})`;
}

/** A restore's words for ledger rows it realigned with the repairs done since its archive (migration 0041). */
export function restoreRealignedText(numbers: number[] | undefined): string {
  if (!numbers?.length) return '';
  return `; its patch ledger realigned with 'patch repair' done since the archive (patch ${numbers.join(', ')}: nothing applied again)`;
}

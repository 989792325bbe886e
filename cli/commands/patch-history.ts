import type { Command } from 'commander';
import { UsageError } from '../../config/config';
import { dossierCodeSchema } from '../../domain/dossier';
import { patchHistory, patchHistoryCounts, type PatchHistoryRow } from '../../domain/patch-history';
import { operatorDateTime } from '../../domain/retention';
import { namedWithCaseHints } from '../code-hints';
import { action, config, jsonOption, output, parseFlag, target, targetOption, withPools } from '../context';
import { readDossierLedger } from '../../store/patch/dossier-ledger';
import { withReadOnlySnapshot } from '../../store/patch/read-only-snapshot';

interface HistoryValue {
  target: string;
  code: string;
  role: string;
  test: boolean;
  specific: boolean;
  level: number;
  supervisorLevel: number | null;
  counts: ReturnType<typeof patchHistoryCounts>;
  patches: PatchHistoryRow[];
}

/**
 * `nightshift patch history CODE`: one dossier's patches, what Flyway's `info` gives (drill M: a Flyway user had to
 * read APATCH with psql). Each number of its ledger and of the stored packages: type, state, checksum, when applied
 * and by which run; then what a run would make of it.
 */
export function registerPatchHistoryCommand(patch: Command): void {
  patch
    .command('history')
    .description("one dossier's patches, as Flyway's info: each number of its ledger (APATCH) and of the stored packages, its state (applied, not applicable, pending, missing, checksum differs, not stored), checksum, when and by which run")
    .argument('<code>', 'dossier code')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (rawCode: string, flags: { target?: string; json?: boolean }) => {
        const code = parseFlag('CODE', dossierCodeSchema, rawCode);
        const t = target(flags.target);
        const value = await withPools(t.name, (pool) =>
          withReadOnlySnapshot(pool, async (db): Promise<HistoryValue> => {
            const read = await readDossierLedger(db, code);
            if (!read.dossier) throw new UsageError(`not a dossier of target ${t.name}: ${(await namedWithCaseHints(db, [code])).join(', ')} (see 'nightshift dossiers list')`);
            const d = read.dossier;
            const patches = patchHistory({ level: d.level, ledger: read.ledger, stored: read.stored, appliedBy: read.appliedBy });
            return { target: t.name, code: d.code, role: d.role, test: d.test, specific: d.specific, level: d.level, supervisorLevel: read.supervisorLevel, counts: patchHistoryCounts(patches), patches };
          }),
        );
        output(flags.json, value, historyText);
      }),
    );
}

export function historyText(v: HistoryValue): string {
  const zone = config().operatorTimeZone;
  const kind = [v.role, ...(v.test ? ['test'] : []), ...(v.specific ? ['specific'] : [])].join(', ');
  const counted = Object.entries(v.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(', ');
  const lines = [
    `dossier ${v.code} (${kind}) of target ${v.target} at patch level ${v.level}; supervisor at ${v.supervisorLevel ?? '(no supervisor)'}: ${counted || 'no patch stored or applied'}`,
  ];
  if (v.patches.length) {
    const table = [
      ['PATCH', 'TYPE', 'STATE', 'CHECKSUM', `APPLIED (${zone})`, 'RUN', 'DESCRIPTION'],
      ...v.patches.map((p) => [
        String(p.number),
        p.type,
        p.state,
        `${p.checksum.slice(0, 12)}…`,
        p.appliedAt ? operatorDateTime(p.appliedAt, zone) : '-',
        p.runId === null ? '-' : String(p.runId),
        p.description.split('\n')[0]!.slice(0, 60),
      ]),
    ];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
    lines.push(...table.map((r) => `  ${r.map((c, i) => (i === 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()}`));
  }
  const pending = v.patches.filter((p) => p.state === 'pending');
  const belowSupervisor = pending.filter((p) => v.supervisorLevel !== null && p.number <= v.supervisorLevel);
  if (belowSupervisor.length) {
    lines.push(`below the supervisor's level (R-PI-9): nightshift patch revalidate ${v.code} --target ${v.target} brings patch(es) up to ${v.supervisorLevel}`);
  }
  if (pending.length > belowSupervisor.length) lines.push(`above the supervisor's level: the next 'nightshift patch integrate DIR' brings the rest, supervisor first`);
  if (v.counts['checksum differs']) {
    lines.push(`a run refuses this dossier (R-PI-8: its ledger differs from the stored packages); 'nightshift patch plan DIR --target ${v.target}' says why`);
    // a ledger older than a repair that no restore realigned (restored before migration 0041, edited by hand): that
    // repair's folder realigns it (Flyway's repair); any other checksum stays refused
    lines.push(`a ledger holding a checksum a 'nightshift patch repair DIR' replaced (put back before restores realigned, or by hand): the same command realigns it`);
  }
  if (v.counts.missing) {
    // drill P, session 37: this said "a run refuses this dossier" while plan and runs went on (a run applies above the level)
    const missing = v.patches.filter((p) => p.state === 'missing').map((p) => p.number);
    lines.push(
      `its ledger lacks patch(es) ${missing.join(', ')} at or below its level (its apatch rows deleted by hand?): no run applies a patch below a dossier's level, so none brings ${missing.length > 1 ? 'them' : 'it'} back (R-PI-8); ` +
        `check the dossier's content by hand, or restore it from a backup taken before ('nightshift backup list ${v.code} --target ${v.target}')`,
    );
  }
  return lines.join('\n');
}

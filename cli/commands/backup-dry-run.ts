import { keysNotGiven } from '../../archive/keys';
import { copyStatusesFor } from '../../domain/backup-batch';
import { type DryRunDossier, dryRunSelection } from '../../store/backup/dry-run-selection';
import { latestFinishedRunId } from '../../store/backup/latest-finished-run-id';
import { modifiedLeftOut, selectionExclusions } from '../../store/dossiers/selection-exclusions';
import { loadBackupSettings } from '../../store/settings/backup-settings';
import { refuseUnknownCodes } from '../code-hints';
import { config, output, withPools, withTemporal } from '../context';
import { liveWorkOnTarget } from '../live-work';

/** Dossiers named one per line in text; --json has every one. */
const SHOWN = 100;

/** Why a batch started now takes the dossier, in the words of its rules. */
export function takenBecause(d: DryRunDossier, all: boolean): string {
  const why: string[] = [];
  if (d.leftByPrevious) why.push(`not backed up by run ${d.leftByRun} (${d.leftByPrevious.replace('_', ' ')}), taken first (R-BK-4)`);
  if (d.offsitePending) {
    // the pending copy is the newest generation's, or an older one's / another kind's whose copy failed (drill E)
    const which = d.offsitePendingNewest ? 'its newest archive has no good off-site copy (none yet, or its copy failed or was found lost)' : 'a kept archive of it other than the newest has no good off-site copy (its copy failed or was found lost)';
    why.push(`${which}${d.first ? ', taken first' : ''} (R-BK-14)`);
  }
  if (d.unreadableNewest) why.push('its newest archive was found corrupt or missing (R-BK-13)');
  if (d.lostKeyNewest) why.push('its newest archive is encrypted with a key this host does not give: taken again under the current key (R-BK-12)');
  if (d.neverBackedUp) why.push('never backed up');
  else if (d.noArchiveOfItsData) why.push('backed up before, but no archive holds its current data (restored since, or its newest archive lost and pruned)');
  else if (d.modified) why.push('modified since its last backup');
  if (!why.length) why.push(all ? '--all' : 'every selected dossier (the modified-only setting is off)');
  return why.join('; ');
}

/**
 * `backup run --dry-run`: what a batch started now would take, in its order and with why, read with the batch's own
 * selection over this host's settings; nothing is claimed, started or changed.
 */
export async function dryRunBatch(targetName: string, flags: { all?: boolean; only?: string[]; json?: boolean }): Promise<void> {
  const cfg = config();
  const result = await withPools(targetName, async (pool) => {
    if (flags.only) await refuseUnknownCodes(pool, targetName, flags.only, { flag: '--only' });
    const { settings } = await loadBackupSettings(pool, cfg, targetName);
    const previousRun = await latestFinishedRunId(pool);
    const offsite = cfg.offsite !== undefined;
    const dossiers = await dryRunSelection(pool, {
      copyStatuses: copyStatusesFor(settings.dossiers),
      modifiedOnly: settings['modified-only'] && !flags.all,
      offsite,
      onlyCodes: flags.only ?? null,
      previousRun,
      lostKeys: await keysNotGiven(pool, cfg.backupKeys),
    });
    const despite = flags.only ? await selectionExclusions(pool, flags.only) : { shown: [], total: 0 };
    // modified, yet not taken: said, or "none changed" reads as if nothing needed a backup
    const leftOut = flags.only ? { shown: [], total: 0 } : await modifiedLeftOut(pool, copyStatusesFor(settings.dossiers));
    // a batch started now would be refused while one of these runs (R-BK-1, R-PI-2): said, not found out
    const inTheWay = await withTemporal((client) => liveWorkOnTarget(pool, client)).catch(() => []);
    return {
      target: targetName,
      previousRun,
      offsite,
      modifiedOnly: settings['modified-only'] && !flags.all,
      count: dossiers.length,
      first: dossiers.filter((d) => d.first).length,
      // never backed up, or no archive of its data: modified, as `dossiers list` says (R-BK-1, R-BK-2)
      dossiers: dossiers.map((d) => ({ ...d, modified: d.modified || d.neverBackedUp || d.noArchiveOfItsData, why: takenBecause(d, Boolean(flags.all)) })),
      takenDespite: despite.shown,
      takenDespiteTotal: despite.total,
      modifiedLeftOut: leftOut.shown,
      modifiedLeftOutTotal: leftOut.total,
      refusedNowBy: inTheWay.map((w) => `${w.kind} ${w.id} (${w.workflowId})`),
    };
  });
  output(flags.json, result, (r) => {
    const lines = [
      r.count
        ? `a batch started now on ${r.target} would take ${r.count} dossier(s)${r.first ? `, ${r.first} of them first` : ''}, in this order (nothing started):`
        : `a batch started now on ${r.target} would take no dossier (nothing started)${r.modifiedOnly ? `: none ${r.modifiedLeftOutTotal ? 'that it selects ' : ''}changed since its last backup (--all takes every selected one)` : ''}`,
      ...r.dossiers.slice(0, SHOWN).map((d) => `  ${d.code}: ${d.why}`),
      ...(r.count > SHOWN ? [`  and ${r.count - SHOWN} more (--json lists every one)`] : []),
      ...r.takenDespite.map((t) => `${t.code} is ${t.why}: the nightly selection leaves it out (R-BK-2); taken since --only names it`),
      ...(r.takenDespiteTotal > r.takenDespite.length ? [`and ${r.takenDespiteTotal - r.takenDespite.length} more named that the nightly selection leaves out`] : []),
      ...(r.modifiedLeftOutTotal
        ? [
            `${r.modifiedLeftOutTotal} modified dossier(s) left out, as every night: the nightly selection does not take them (R-BK-2; --only CODE takes one all the same):`,
            ...r.modifiedLeftOut.map((d) => `  ${d.code}: ${d.why}`),
            ...(r.modifiedLeftOutTotal > r.modifiedLeftOut.length ? [`  and ${r.modifiedLeftOutTotal - r.modifiedLeftOut.length} more`] : []),
          ]
        : []),
      // the CLI reads its own settings: a worker's NIGHTSHIFT_BACKUP_* or bucket may differ
      `read with this host's settings (off-site copies ${r.offsite ? 'on' : 'off'}${r.offsite ? '' : ': a worker with a bucket also takes first the dossiers whose newest archive has no copy'}); a worker's own NIGHTSHIFT_BACKUP_* values win on its host (R-BK-9)`,
      ...r.refusedNowBy.map((w) => `${w} is running on ${r.target}: a batch started now would be refused until it ends (R-BK-1, R-PI-2)`),
    ];
    return lines.join('\n');
  });
}

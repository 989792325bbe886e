import { operatorDateTime } from './retention';

/**
 * What a finished restore run leaves for the operator to know (drill D2), read once at its close:
 * - `older`: dossiers restored from an older generation than the newest kept one at or before the run's instant (that
 *   one found corrupt, its file and copy gone or unreadable: the restore passed over it), the first `shown`;
 * - `levels`: the supervisor's patch level now, and the dossiers the run restored below it (R-PI-9: to revalidate), or,
 *   the supervisor restored by the run, the dossiers above it (R-PI-4);
 * - `noSchema`: registered dossiers whose schema is still not there, that the run did not take and that no kept generation
 *   holds at or before its date (backed up only later, in use at every batch, or never taken: test, non-transferable and
 *   template dossiers are not in the nightly selection, R-BK-2), for a run over the whole catalog; one the run failed is
 *   its failure, with its retry, not here.
 */
export interface RestoreAfterRun {
  older: { total: number; shown: { code: string; generation: number; snapshotAt: Date; newest: number; newestAt: Date }[] };
  supervisor: { code: string; level: number; restored: boolean } | null;
  belowSupervisor: { total: number; codes: string[] };
  aboveSupervisor: { total: number; codes: string[]; highest: number };
  noSchema: { total: number; codes: string[] };
}


const named = (codes: string[], total: number) => `${codes.join(' ')}${total > codes.length ? ` and ${total - codes.length} more` : ''}`;

/** The notes a finished restore run adds to its details, `--wait`'s summary and `--run ID` (the operator's zone). */
export function restoreAfterRunNotes(a: RestoreAfterRun, o: { target: string; zone: string }): string[] {
  const notes: string[] = [];
  const time = (d: Date) => operatorDateTime(d, o.zone);
  if (a.older.total) {
    const each = a.older.shown.map((x) => `${x.code} from generation ${x.generation} of ${time(x.snapshotAt)}, not ${x.newest} of ${time(x.newestAt)}`);
    notes.push(
      `${a.older.total} dossier(s) restored from an older generation than the newest at or before the date (that one found corrupt, or its file and copy unreadable): ` +
        `${each.join('; ')}${a.older.total > each.length ? `; and ${a.older.total - each.length} more` : ''} (${o.zone}); 'nightshift backup list CODE' shows why`,
    );
  }
  if (a.supervisor?.restored && a.aboveSupervisor.total) {
    notes.push(
      `the supervisor ${a.supervisor.code} was restored at patch level ${a.supervisor.level}, below ${a.aboveSupervisor.total} dossier(s) (up to level ${a.aboveSupervisor.highest}: ` +
        `${named(a.aboveSupervisor.codes, a.aboveSupervisor.total)}) (R-PI-4): bring it up first, inside a maintenance window ('nightshift patch integrate DIR')`,
    );
  }
  if (a.supervisor && a.belowSupervisor.total) {
    notes.push(
      `${a.belowSupervisor.total} restored dossier(s) are below the supervisor's patch level ${a.supervisor.level}: ${named(a.belowSupervisor.codes, a.belowSupervisor.total)} (R-PI-9): ` +
        `revalidate them inside a maintenance window ('nightshift patch revalidate --target ${o.target}')`,
    );
  }
  if (a.noSchema.total) {
    notes.push(
      `${a.noSchema.total} registered dossier(s) still have no schema and no backup at or before the date: ${named(a.noSchema.codes, a.noSchema.total)} ` +
        `(no backup of them at or before the date: backed up only later, in use at every batch, or never taken: test, non-transferable and template dossiers are not in the nightly selection, R-BK-2): restore them --at a later date, create them again, or remove them ('nightshift dossiers delete CODE')`,
    );
  }
  return notes;
}

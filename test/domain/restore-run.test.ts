import { restoreAfterRunNotes } from '../../domain/restore-run';

/** What a finished bulk restore run tells the operator beyond its counts (drill D2), in the operator's zone. */

const none = { older: { total: 0, shown: [] }, supervisor: { code: 'SUP', level: 4, restored: false }, belowSupervisor: { total: 0, codes: [] }, aboveSupervisor: { total: 0, codes: [], highest: 0 }, noSchema: { total: 0, codes: [] } };

test('R-BK-11: nothing to add when every dossier came from its newest generation, at the supervisor level, none left missing', () => {
  expect(restoreAfterRunNotes(none, { target: 'main', zone: 'UTC' })).toEqual([]);
});

test('R-BK-11 R-BK-13 R-PI-9: an older generation used (the newest corrupt) is named with both times; dossiers below the supervisor are sent to revalidation', () => {
  const notes = restoreAfterRunNotes(
    {
      ...none,
      older: { total: 2, shown: [{ code: 'A1', generation: 251, snapshotAt: new Date('2026-12-04T16:32:41Z'), newest: 310, newestAt: new Date('2026-12-05T16:33:40Z') }] },
      belowSupervisor: { total: 3, codes: ['A1', 'A2'] },
    },
    { target: 'main', zone: 'Europe/Paris' },
  );
  expect(notes).toEqual([
    "2 dossier(s) restored from an older generation than the newest at or before the date (that one found corrupt, or its file and copy unreadable): A1 from generation 251 of 2026-12-04 17:32:41, not 310 of 2026-12-05 17:33:40; and 1 more (Europe/Paris); 'nightshift backup list CODE' shows why",
    "3 restored dossier(s) are below the supervisor's patch level 4: A1 A2 and 1 more (R-PI-9): revalidate them inside a maintenance window ('nightshift patch revalidate --target main')",
  ]);
});

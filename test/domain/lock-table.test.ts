import { RESTORES_AT_ONCE, lockTableShortfall } from '../../domain/lock-table';

/** PostgreSQL's lock table against the dossiers' restores (README, *Sizing workers and gates*; drill R's rollback of ~800-table dossiers). */

const server = (maxLocksPerTransaction: number, maxConnections = 100, maxPreparedTransactions = 0) => ({ maxLocksPerTransaction, maxConnections, maxPreparedTransactions });

test('R-PI-11: the default 64 × 100 is short for dossiers of ~800 tables (drill R ran out with two restores at once)', () => {
  // 800 tables, each with its primary key and a TOAST table and index: ~3,200 objects
  expect(RESTORES_AT_ONCE).toBe(4);
  expect(lockTableShortfall(server(64), 3201)).toEqual({ needed: 12804, capacity: 6400, suggested: 320 });
  // the setting Nightshift's own servers use holds ~750 tables a dossier; more needs more (README: "more when dossiers
  // have more than a few hundred tables")
  expect(lockTableShortfall(server(256), 3001)).toBeUndefined();
  expect(lockTableShortfall(server(256), 3201)).toMatchObject({ suggested: 320 });
});

test('R-PI-11: half of the table is left to the other sessions; the suggestion is a multiple of 64 that leaves it, never under 256', () => {
  expect(lockTableShortfall(server(64), 800)).toBeUndefined(); // 3,200 of 6,400
  expect(lockTableShortfall(server(64), 801)).toMatchObject({ needed: 3204, capacity: 6400 });
  // 10,000-object dossiers: 40,000 locks at once, 80,000 with the other half: 800 per session → 832
  expect(lockTableShortfall(server(256), 10_000)).toEqual({ needed: 40_000, capacity: 25_600, suggested: 832 });
  // prepared transactions have slots too
  expect(lockTableShortfall(server(64, 50, 50), 801)).toMatchObject({ capacity: 6400 });
  expect(lockTableShortfall(server(10, 20), 30)).toEqual({ needed: 120, capacity: 200, suggested: 256 });
});

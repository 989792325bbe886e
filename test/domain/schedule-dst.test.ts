import { dstHazardText, dstHazards, offsetChanges } from '../../domain/schedule-dst';

/**
 * Temporal's Schedules skip a cron time clocks skip and may fire the hours around a repeated one twice (drill T,
 * 2026-12-04): which nights of the coming year a cron meets that, in any zone's own rules. Pure.
 */

const FROM = Date.parse('2026-12-04T20:00:00Z');
const hazards = (cron: string, zone: string) => dstHazards([cron], zone, FROM).map((h) => `${h.kind} ${h.date} ${h.time} avoid ${h.avoid}`);

test("the zone's offset changes, found to the minute", () => {
  expect(offsetChanges('Europe/Paris', FROM, 400).map((c) => [new Date(c.atMs).toISOString(), c.before, c.after])).toEqual([
    ['2027-03-28T01:00:00.000Z', 60, 120],
    ['2027-10-31T01:00:00.000Z', 120, 60],
  ]);
  expect(offsetChanges('Asia/Kolkata', FROM, 400)).toEqual([]);
  expect(offsetChanges('UTC', FROM, 400)).toEqual([]);
});

test('Europe/Paris: 02:30 is skipped in March and may run twice in October; 01:30 twice; 03:30 and 00:30 are safe', () => {
  expect(hazards('30 2 * * *', 'Europe/Paris')).toEqual(['skipped 2027-03-28 02:30 avoid 02:00–02:59', 'twice 2027-10-31 02:30 avoid 01:00–02:59']);
  expect(hazards('30 1 * * *', 'Europe/Paris')).toEqual(['twice 2027-10-31 01:30 avoid 01:00–02:59']);
  expect(hazards('30 3 * * *', 'Europe/Paris')).toEqual([]);
  expect(hazards('30 0 * * *', 'Europe/Paris')).toEqual([]);
});

test('the day fields count: weekdays only never meet a Sunday change; a Sunday cron, a day of month, a month do', () => {
  expect(hazards('0 2 * * 1-5', 'Europe/Paris')).toEqual([]);
  expect(hazards('0 2 * * SUN', 'Europe/Paris')).toEqual(['skipped 2027-03-28 02:00 avoid 02:00–02:59', 'twice 2027-10-31 02:00 avoid 01:00–02:59']);
  expect(hazards('0 2 * * 7', 'Europe/Paris')).toHaveLength(2); // 7 is Sunday too
  expect(hazards('0 2 28 3 *', 'Europe/Paris')).toEqual(['skipped 2027-03-28 02:00 avoid 02:00–02:59']);
  expect(hazards('0 2 * OCT *', 'Europe/Paris')).toEqual(['twice 2027-10-31 02:00 avoid 01:00–02:59']);
  // cron: a day of month and a day of week both given run on either
  expect(hazards('0 2 1 * SUN', 'Europe/Paris')).toHaveLength(2);
  expect(hazards('*/15 2 * * *', 'Europe/Paris')).toEqual(['skipped 2027-03-28 02:00 avoid 02:00–02:59', 'twice 2027-10-31 02:00 avoid 01:00–02:59']);
});

test('other zones: New York, Sydney, Lord Howe (30 minutes), Santiago (at midnight); none in Kolkata or UTC', () => {
  expect(hazards('30 2 * * *', 'America/New_York')).toEqual(['skipped 2027-03-14 02:30 avoid 02:00–02:59']);
  expect(hazards('30 1 * * *', 'America/New_York')).toEqual(['twice 2027-11-07 01:30 avoid 00:00–01:59']);
  expect(hazards('30 2 * * *', 'Australia/Sydney')).toEqual(['twice 2027-04-04 02:30 avoid 01:00–02:59', 'skipped 2027-10-03 02:30 avoid 02:00–02:59']);
  expect(hazards('0 2 * * *', 'Australia/Lord_Howe')).toEqual(['skipped 2027-10-03 02:00 avoid 02:00–02:29']);
  expect(hazards('0 0 * * *', 'America/Santiago')).toEqual(['skipped 2027-09-05 00:00 avoid 00:00–00:59']);
  expect(hazards('30 2 * * *', 'Asia/Kolkata')).toEqual([]);
  expect(hazards('30 2 * * *', 'UTC')).toEqual([]);
});

test('the warning names the time, the night, the zone and the hours to avoid', () => {
  const [skipped, twice] = dstHazards(['30 2 * * *'], 'Europe/Paris', FROM);
  expect(dstHazardText(skipped!, 'Europe/Paris', 'the backup batch')).toBe(
    "02:30 does not exist in Europe/Paris on 2027-03-28 (clocks go forward): Temporal's Schedule skips the backup batch that night instead of running it an hour later; a time outside 02:00–02:59 runs every night",
  );
  expect(dstHazardText(twice!, 'Europe/Paris', 'the backup batch')).toBe(
    "on 2027-10-31 clocks go back in Europe/Paris: Temporal's Schedule may start the backup batch of 02:30 twice that night, an hour apart; a time outside 01:00–02:59 runs once",
  );
});

test('a cron of every hour is not warned of (drill T: `* * * * *` got two warnings about 02:00): it runs again within the hour', () => {
  expect(hazards('* * * * *', 'Europe/Paris')).toEqual([]);
  expect(hazards('*/15 * * * *', 'Europe/Paris')).toEqual([]);
  expect(dstHazards(['* * * * *', '30 2 * * *'], 'Europe/Paris', FROM).map((h) => h.time)).toEqual(['02:30', '02:30']);
  // every other hour still can miss the one that night
  expect(hazards('0 */2 * * *', 'Europe/Paris')).toEqual(['skipped 2027-03-28 02:00 avoid 02:00–02:59', 'twice 2027-10-31 02:00 avoid 01:00–02:59']);
});

import { cronHorizonDays, cronTimes } from '../../domain/cron-occurrences';

const paris = 'Europe/Paris';
const wall = (d: Date) => new Intl.DateTimeFormat('en-GB', { timeZone: paris, weekday: 'short', day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);

// tester A bug 4: the server's next 10 actions of an hourly cron never reach Saturday's weekly window
test('R-MW-13 R-MW-2: a cron\'s times over a horizon that shows every weekly or monthly pattern, computed from the cron itself', () => {
  expect(cronHorizonDays('15 * * * *')).toBe(35);
  expect(cronHorizonDays('0 22 * * 6')).toBe(35);
  expect(cronHorizonDays('0 3 1 * *')).toBe(366);
  const from = Date.parse('2026-12-07T00:00:00Z'); // a Monday
  const hourly = cronTimes('15 * * * *', paris, from, from + 35 * 86_400_000)!;
  expect(hourly).toHaveLength(35 * 24);
  expect(wall(hourly[0]!)).toBe('Mon 07/12, 01:15');
  const weekly = cronTimes('0 22 * * SAT', paris, from, from + 35 * 86_400_000)!;
  expect(weekly.map(wall)).toEqual(['Sat 12/12, 22:00', 'Sat 19/12, 22:00', 'Sat 26/12, 22:00', 'Sat 02/01, 22:00', 'Sat 09/01, 22:00']);
  // day of month and day of week both given: either (as cron and the server read them); 7 is Sunday too
  expect(cronTimes('0 3 1 * 7', paris, from, from + 14 * 86_400_000)!.map(wall)).toEqual(['Sun 13/12, 03:00', 'Sun 20/12, 03:00']);
  expect(cronTimes('0 3 1 * *', paris, from, from + 366 * 86_400_000)).toHaveLength(12);
  // a time the clocks skip (28 March 2027, 02:00-02:59 in Paris) is skipped, as Temporal's calendar skips it
  const spring = Date.parse('2027-03-27T00:00:00Z');
  expect(cronTimes('30 2 * * *', paris, spring, spring + 3 * 86_400_000)!.map(wall)).toEqual(['Sat 27/03, 02:30', 'Mon 29/03, 02:30']);
  // bounded in count
  expect(cronTimes('* * * * *', paris, from, from + 35 * 86_400_000, 500)).toHaveLength(500);
  expect(cronTimes('not a cron', paris, from, from + 86_400_000)).toBeUndefined();
});

import { announcementText, formatDateTime } from '../../domain/maintenance';
import { operatorDateTime, parseRestoreAt } from '../../domain/retention';

/**
 * The night clocks move back (Europe/Paris, 2027-10-31), 02:30 happens twice (drill T): a time printed without its
 * offset named two instants, a window "from 02:30 to 02:30" read as no time at all, and `backup list`'s time, copied
 * into `restore --at`, was refused as ambiguous. Those times now carry their offset; every other time is unchanged.
 */

const PARIS = 'Europe/Paris';
const first = new Date('2027-10-31T00:30:00Z'); // 02:30 CEST
const second = new Date('2027-10-31T01:30:00Z'); // 02:30 CET

test('R-MW-4: window times in the repeated hour carry their offset, in the CLI lines and the users\' texts alike', () => {
  expect(formatDateTime(first, PARIS)).toEqual({ date: '31/10/2027', time: '02:30 (UTC+02:00)' });
  expect(formatDateTime(second, PARIS)).toEqual({ date: '31/10/2027', time: '02:30 (UTC+01:00)' });
  expect(announcementText('database', first, second, 'ISACOMPTA CONNECT', 'fr', PARIS)).toContain('02:30 (UTC+02:00)');
  // the hour before and after, and any other night: as before
  expect(formatDateTime(new Date('2027-10-30T23:30:00Z'), PARIS).time).toBe('01:30');
  expect(formatDateTime(new Date('2027-10-31T02:30:00Z'), PARIS).time).toBe('03:30');
  expect(formatDateTime(new Date('2027-03-28T01:30:00Z'), PARIS).time).toBe('03:30');
  expect(formatDateTime(new Date('2027-11-07T06:30:00Z'), 'America/New_York').time).toBe('01:30 (UTC-05:00)');
  expect(formatDateTime(new Date('2027-10-31T01:30:00Z'), 'UTC').time).toBe('01:30');
});

test('R-BK-13: a generation time in the repeated hour, as backup list prints it, restores that generation with --at', () => {
  for (const at of [first, second]) {
    const shown = operatorDateTime(new Date(at.getTime() + 5000), PARIS);
    expect(shown).toMatch(/^2027-10-31 02:30:05[+]0[12]:00$/);
    expect(parseRestoreAt(shown, PARIS).at?.getTime()).toBe(at.getTime() + 5999);
  }
  expect(operatorDateTime(new Date('2026-12-02T21:00:05Z'), PARIS)).toBe('2026-12-02 22:00:05');
});

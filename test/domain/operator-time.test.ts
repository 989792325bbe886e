import { canonicalTimeZone, parseOperatorTime } from '../../domain/operator-time';
import { parseRestoreAt } from '../../domain/retention';

/** Times typed by the operator (maintenance --start/--end/--prevent-logins-from), issue 9: luxon, no roll-over. */

const PARIS = 'Europe/Paris';
const iso = (text: string, zone = PARIS) => parseOperatorTime(text, zone).instant?.toISOString();
const problem = (text: string, zone = PARIS) => parseOperatorTime(text, zone).problem;

describe('parseOperatorTime', () => {
  test('valid ISO 8601 date-times with fractional seconds and offsets are read', () => {
    expect(iso('2026-12-03T22:00:00.500Z')).toBe('2026-12-03T22:00:00.500Z');
    expect(iso('2026-12-03T22:00:00.5+01:00')).toBe('2026-12-03T21:00:00.500Z');
    expect(iso('2026-12-03T22:00:00,25-05:00')).toBe('2026-12-04T03:00:00.250Z');
    expect(iso('2026-12-03T22:00:00.123456789Z')).toBe('2026-12-03T22:00:00.123Z');
    expect(iso('2026-12-03T22:00+0100')).toBe('2026-12-03T21:00:00.000Z');
    expect(iso('2026-12-03T22:00+01')).toBe('2026-12-03T21:00:00.000Z');
    expect(iso('2026-12-03t22:00z')).toBe('2026-12-03T22:00:00.000Z');
  });

  test('without an offset, the time is read in the operator zone (winter and summer)', () => {
    expect(iso('2026-12-03T22:00')).toBe('2026-12-03T21:00:00.000Z');
    expect(iso('2026-07-03 22:00:30')).toBe('2026-07-03T20:00:30.000Z');
    expect(iso('2026-07-03T22:00', 'America/Montreal')).toBe('2026-07-04T02:00:00.000Z');
  });

  test.each([
    ['2026-12-03T12:30:75', /second 75 does not exist/],
    ['2026-12-03T10:00:60', /second 60 does not exist/],
    ['2026-12-03T10:60', /minute 60 does not exist/],
    ['2026-12-03T24:00', /hour 24 does not exist/],
    ['2026-12-03T25:00Z', /hour 25 does not exist/],
    ['2027-02-30T10:00', /day 30 does not exist in 2027-02/],
    ['2027-02-29T10:00', /day 29 does not exist/],
    ['2026-13-01T10:00', /month 13 does not exist/],
    ['2026-12-03T22:00+25:00', /offset \+25:00/],
    ['2026-12-03T22:00+01:60', /offset/],
    ['2028-03-26T02:30', /02:30 does not exist in Europe\/Paris/],
    ['2026-12-03', /expected an ISO 8601 date-time/],
    ['03/12/2026 22:00', /expected an ISO 8601 date-time/],
    ['2026-W49-4T22:00', /expected an ISO 8601 date-time/],
    ["2026-01-01'; DROP TABLE nightshift.session; --", /expected/],
    ['2026-12-03T22:00\u001b[2J', /control characters/],
    ['2026-12-03T22:00\n', /control characters/],
  ])('%j is refused, never rolled over', (text, why) => {
    const p = problem(text);
    expect(p).toMatch(why);
    // eslint-disable-next-line no-control-regex
    expect(p).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  test('a local time the clocks go through twice (autumn) is refused without an offset, naming both; with one it is read', () => {
    expect(problem('2026-10-25 02:30')).toBe(
      '"2026-10-25 02:30" is not a date-time: 02:30 occurs twice in Europe/Paris that day (the clocks move back): add the offset, +02:00 for the first or +01:00 for the second',
    );
    expect(problem('2026-11-01T01:15', 'America/Montreal')).toMatch(/01:15 occurs twice in America\/Montreal that day \(the clocks move back\): add the offset, -04:00 for the first or -05:00 for the second/);
    expect(iso('2026-10-25T02:30+02:00')).toBe('2026-10-25T00:30:00.000Z');
    expect(iso('2026-10-25T02:30+01:00')).toBe('2026-10-25T01:30:00.000Z');
    // the hours around it are single
    expect(iso('2026-10-25T01:59')).toBe('2026-10-24T23:59:00.000Z');
    expect(iso('2026-10-25T03:00')).toBe('2026-10-25T02:00:00.000Z');
  });

  test('a whole day a zone skipped (Pacific/Apia crossed the date line: no 2011-12-30) is refused, not moved a day on (drill T)', () => {
    expect(problem('2011-12-30T10:00', 'Pacific/Apia')).toBe('"2011-12-30T10:00" is not a date-time: 2011-12-30 does not exist in Pacific/Apia (the zone skipped that day)');
    expect(iso('2011-12-31T10:00', 'Pacific/Apia')).toBe('2011-12-30T20:00:00.000Z');
    expect(parseRestoreAt('2011-12-30', 'Pacific/Apia')).toEqual({ problem: '"2011-12-30" does not exist in Pacific/Apia (the zone skipped that day)' });
    expect(parseRestoreAt('2011-12-31', 'Pacific/Apia').at?.toISOString()).toBe('2011-12-31T09:59:59.999Z');
  });

  test('a leap day exists in a leap year', () => {
    expect(iso('2028-02-29T10:00Z')).toBe('2028-02-29T10:00:00.000Z');
  });
});

describe('canonicalTimeZone', () => {
  test('IANA names, in their canonical spelling; anything else is undefined', () => {
    expect(canonicalTimeZone('Europe/Paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    for (const z of ['Foo/Bar', 'Mars/Olympus', '', 'CET-1CEST', ':/etc/localtime', 'Europe/Paris\u001b[2J', 'A'.repeat(100)]) expect(canonicalTimeZone(z)).toBeUndefined();
  });
});

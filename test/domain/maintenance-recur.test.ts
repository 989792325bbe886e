import { occurrenceInput, occurrenceStartMs, RECUR_TEMPLATE_START } from '../../domain/maintenance-recur';
import type { MaintenanceWindowInput } from '../../workflows/maintenance-window.api';

/** R-MW-13: an occurrence of a recurring window starts at its cron's wall time, the nights clocks change too (drill W). */

const at = (iso: string) => Date.parse(iso);

test('R-MW-13: announced 2 h ahead at 01:30 in Europe/Paris, the 03:30 window starts at 03:30 the night clocks go forward, go back, and any other night', () => {
  // 28 March 2027: 01:30 CET (00:30Z) + 2 h of wall clock = 03:30 CEST (01:30Z), not 04:30 CEST
  expect(new Date(occurrenceStartMs(at('2027-03-28T00:30:00Z'), 7200, 'Europe/Paris')).toISOString()).toBe('2027-03-28T01:30:00.000Z');
  // 31 October 2027: 01:30 CEST (23:30Z the day before) + 2 h = 03:30 CET (02:30Z), not 02:30 CET
  expect(new Date(occurrenceStartMs(at('2027-10-30T23:30:00Z'), 7200, 'Europe/Paris')).toISOString()).toBe('2027-10-31T02:30:00.000Z');
  // a night without a change: absolute and wall clock agree
  expect(new Date(occurrenceStartMs(at('2027-06-05T23:30:00Z'), 7200, 'Europe/Paris')).toISOString()).toBe('2027-06-06T01:30:00.000Z');
  expect(new Date(occurrenceStartMs(at('2027-03-28T00:30:00Z'), 7200, 'UTC')).toISOString()).toBe('2027-03-28T02:30:00.000Z');
});

test('R-MW-13: the occurrence input moves the template to that start (wall clock), its end a duration later; histories of before keep absolute time', () => {
  const template = {
    target: 'main',
    type: 'database',
    startsAt: RECUR_TEMPLATE_START,
    endsAt: new Date(Date.parse(RECUR_TEMPLATE_START) + 3_600_000).toISOString(),
    displayTimeZone: 'Europe/Paris',
    recurrence: { scheduleId: 'maintenance-recur/main/spring', announceAheadSeconds: 7200 },
  } as unknown as MaintenanceWindowInput;
  const wall = occurrenceInput(template, at('2027-03-28T00:30:00Z'), { wallClock: true });
  expect([wall.startsAt, wall.endsAt]).toEqual(['2027-03-28T01:30:00.000Z', '2027-03-28T02:30:00.000Z']);
  const absolute = occurrenceInput(template, at('2027-03-28T00:30:00Z'));
  expect(absolute.startsAt).toBe('2027-03-28T02:30:00.000Z');
});

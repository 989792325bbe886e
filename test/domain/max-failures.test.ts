import { failureLimit, maxFailuresSchema, maxFailuresText, parseMaxFailures } from '../../domain/patch-input';
import { stoppedNote } from '../../domain/patch';

/** `--max-failures N|P%` (AWS SSM's MaxErrors, Ansible's max_fail_percentage): what is read, and the limit it makes. */

test('a count or a percentage in decimal digits; anything else is refused', () => {
  expect(parseMaxFailures('0')).toEqual({ count: 0 });
  expect(parseMaxFailures('10')).toEqual({ count: 10 });
  expect(parseMaxFailures('5%')).toEqual({ percent: 5 });
  expect(parseMaxFailures('12.5%')).toEqual({ percent: 12.5 });
  expect(parseMaxFailures('100%')).toEqual({ percent: 100 });
  for (const bad of ['', '-1', '1e2', '0x10', '101%', '5 %', '%', '5%%', '1000001', 'ten', '2.5', '12.345%', ' 5']) expect({ bad, parsed: parseMaxFailures(bad) }).toEqual({ bad, parsed: undefined });
  expect(maxFailuresSchema.safeParse({ count: 3, percent: 5 }).success).toBe(false);
  expect(maxFailuresSchema.safeParse({ percent: 101 }).success).toBe(false);
});

test('the limit over the others (more than it stops the run): a percentage rounds down, so 5 % of 19 stops at the first failure', () => {
  expect(failureLimit({ count: 3 }, 100)).toBe(3);
  expect(failureLimit({ percent: 5 }, 100)).toBe(5);
  expect(failureLimit({ percent: 5 }, 19)).toBe(0);
  expect(failureLimit({ percent: 50 }, 9)).toBe(4);
  expect(failureLimit({ percent: 100 }, 7)).toBe(7);
  expect([maxFailuresText({ count: 3 }), maxFailuresText({ percent: 12.5 })]).toEqual(['3', '12.5%']);
  expect(stoppedNote({ failed: 4, limit: 3, maxFailures: '3', notStarted: 90 })).toBe(
    "stopped: 4 dossier(s) failed, more than the 3 that --max-failures 3 allows; 90 dossier(s) not started, left at their level (once the cause is fixed, 'nightshift patch retry' of this run takes them with the failed ones)",
  );
});

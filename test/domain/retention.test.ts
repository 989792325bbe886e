import type { GenerationKind, OffsiteState, VerifyState } from '../../domain/generation';
import {
  DEFAULT_RETENTION,
  DEFAULT_RETENTION_POLICIES,
  type RetentionCandidate,
  type RetentionPolicies,
  type RetentionOptions,
  type RetentionPolicy,
  applyPolicy,
  decideRetention,
  deletionReason,
  keptByLeaseOnly,
  operatorDateTime,
  parseLocalRetention,
  parseRestoreAt,
  parseRetentionPolicy,
  resolveRetention,
  retentionText,
  withKindPolicy,
} from '../../domain/retention';
import { heldText } from '../../workflows/backup-prune.api';

/** Retention of generations (R-BK-11): restic's keep-* semantics in the operator's time zone. */

const PARIS = 'Europe/Paris';
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const all = (p: Partial<RetentionPolicy>): RetentionPolicies => ({ normal: policy(p), EchangePrest: policy(p), Cloture: policy(p) });

let nextId = 1;
function gen(iso: string, o: { kind?: GenerationKind; verify?: VerifyState; id?: number; leasedUntil?: Date; restorePointRun?: string; offsite?: OffsiteState } = {}): RetentionCandidate {
  return { id: o.id ?? nextId++, kind: o.kind ?? 'normal', snapshotAt: new Date(iso), verifyState: o.verify ?? 'unverified', offsiteState: o.offsite ?? 'none', leasedUntil: o.leasedUntil ?? null, restorePointRun: o.restorePointRun ?? null };
}
const kept = (gens: RetentionCandidate[], p: RetentionPolicy | RetentionPolicies, zone = 'UTC', o: RetentionOptions = {}) => {
  const ds = 'last' in p ? applyPolicy(gens, p, zone) : decideRetention(gens, p, zone, o);
  const iso = new Map(gens.map((g) => [g.id, g.snapshotAt.toISOString()]));
  return ds.filter((d) => d.keep).map((d) => iso.get(d.id));
};
const reasonsOf = (gens: RetentionCandidate[], p: RetentionPolicies, zone = 'UTC', o: RetentionOptions = {}) =>
  Object.fromEntries(decideRetention(gens, p, zone, o).map((d) => [gens.find((g) => g.id === d.id)!.snapshotAt.toISOString(), d.reasons]));

/** one generation a day at 21:00 UTC, from `from` for `days` days */
function nightly(from: string, days: number, hourUtc = 21): RetentionCandidate[] {
  const start = new Date(`${from}T${String(hourUtc).padStart(2, '0')}:00:00Z`).getTime();
  return Array.from({ length: days }, (_, i) => gen(new Date(start + i * 86_400_000).toISOString()));
}

describe('R-BK-11: policy rules (restic forget --keep-* semantics)', () => {
  test('last N keeps the N newest, whatever their dates', () => {
    const gens = [gen('2026-12-01T10:00:00Z'), gen('2026-12-01T11:00:00Z'), gen('2026-12-01T12:00:00Z')];
    expect(kept(gens, policy({ last: 2 }))).toEqual(['2026-12-01T12:00:00.000Z', '2026-12-01T11:00:00.000Z']);
  });

  test('daily N keeps the newest of each of the N most recent days that have a generation (empty days do not count)', () => {
    const gens = [
      gen('2026-11-20T21:00:00Z'),
      gen('2026-11-25T08:00:00Z'),
      gen('2026-11-25T21:00:00Z'),
      gen('2026-11-30T21:00:00Z'),
      gen('2026-12-01T06:00:00Z'),
      gen('2026-12-01T21:00:00Z'),
    ];
    // three days with generations: 12-01, 11-30, 11-25 (the gap 11-26..29 does not use up the count)
    expect(kept(gens, policy({ daily: 3 }))).toEqual(['2026-12-01T21:00:00.000Z', '2026-11-30T21:00:00.000Z', '2026-11-25T21:00:00.000Z']);
  });

  test('weekly N: ISO weeks (Monday to Sunday), newest of each', () => {
    // 2026-11-29 is a Sunday (week 48), 2026-11-30 a Monday (week 49)
    const gens = [gen('2026-11-22T21:00:00Z'), gen('2026-11-28T21:00:00Z'), gen('2026-11-29T21:00:00Z'), gen('2026-11-30T21:00:00Z'), gen('2026-12-02T21:00:00Z')];
    const ds = applyPolicy(gens, policy({ weekly: 2 }), 'UTC');
    expect(ds.filter((d) => d.keep).map((d) => d.reasons)).toEqual([['weekly 2026-W49'], ['weekly 2026-W48']]);
    expect(kept(gens, policy({ weekly: 2 }))).toEqual(['2026-12-02T21:00:00.000Z', '2026-11-29T21:00:00.000Z']);
  });

  test('ISO week-year at the turn of the year: 2026-12-31 is in 2026-W53, 2027-01-04 in 2027-W01', () => {
    const gens = [gen('2026-12-28T12:00:00Z'), gen('2027-01-03T12:00:00Z'), gen('2027-01-04T12:00:00Z')];
    const ds = applyPolicy(gens, policy({ weekly: 5 }), 'UTC');
    // 12-28 is W53 too: not its week's newest, kept only as the oldest while weekly 5 is not filled (restic)
    expect(ds.map((d) => d.reasons)).toEqual([['weekly 2027-W01'], ['weekly 2026-W53'], ['oldest, weekly 5 not filled']]);
  });

  test('monthly N keeps the newest of each of the N most recent months with a generation', () => {
    const gens = [gen('2026-08-31T21:00:00Z'), gen('2026-09-15T21:00:00Z'), gen('2026-09-30T21:00:00Z'), gen('2026-11-01T21:00:00Z'), gen('2026-12-01T21:00:00Z')];
    expect(kept(gens, policy({ monthly: 3 }))).toEqual(['2026-12-01T21:00:00.000Z', '2026-11-01T21:00:00.000Z', '2026-09-30T21:00:00.000Z']);
  });

  test('rules add up; one generation can be kept for several reasons, each named', () => {
    const gens = nightly('2026-09-01', 92); // 1 Sep .. 1 Dec 2026
    const ds = applyPolicy(gens, DEFAULT_RETENTION, 'UTC');
    const newest = ds[0]!;
    expect(newest.reasons).toEqual(['last 2', 'daily 2026-12-01', 'weekly 2026-W49', 'monthly 2026-12']);
    expect(ds[1]!.reasons).toEqual(['last 2', 'daily 2026-11-30', 'monthly 2026-11']);
    const keptDays = kept(gens, DEFAULT_RETENTION).map((s) => s!.slice(0, 10));
    expect(keptDays).toEqual([
      '2026-12-01', '2026-11-30', '2026-11-29', '2026-11-28', '2026-11-27', '2026-11-26', '2026-11-25', // daily 7 (and last 2)
      '2026-11-22', '2026-11-15', // weekly: W49 is 12-01, W48 = 11-29 (already daily), W47 = 11-22, W46 = 11-15
      '2026-10-31', // monthly: 12 (12-01), 11 (11-30), 10
    ]);
    expect(ds.filter((d) => !d.keep)).toHaveLength(92 - keptDays.length);
  });

  test('fewer generations than the counts: all kept', () => {
    const gens = nightly('2026-11-28', 3);
    expect(kept(gens, DEFAULT_RETENTION)).toHaveLength(3);
  });

  test('two generations at the same instant: the higher id is the newer (a stable order)', () => {
    const a = gen('2026-12-01T21:00:00Z', { id: 100 });
    const b = gen('2026-12-01T21:00:00Z', { id: 101 });
    const ds = applyPolicy([a, b], policy({ daily: 1 }), 'UTC');
    expect(ds.map((d) => [d.id, d.keep])).toEqual([
      [101, true],
      [100, false],
    ]);
  });

  test('the decision is stable: pruning what it deletes and deciding again deletes nothing more (a retried prune)', () => {
    const gens = nightly('2026-06-01', 184);
    const first = decideRetention(gens, DEFAULT_RETENTION_POLICIES, PARIS);
    const left = gens.filter((g) => first.find((d) => d.id === g.id)!.keep);
    const second = decideRetention(left, DEFAULT_RETENTION_POLICIES, PARIS);
    expect(second.every((d) => d.keep)).toBe(true);
    expect(second.map((d) => d.reasons)).toEqual(first.filter((d) => d.keep).map((d) => d.reasons));
  });
});

describe("R-BK-11: restic's own cases (internal/data/snapshot_policy_test.go and its golden files, doc/060_forget.rst)", () => {
  /** restic's test snapshots (UTC), in its order: among equal times the earlier in the list sorts newer (sort.Stable), so a higher id */
  const RESTIC_TIMES = [
  '2014-09-01 10:20:30', '2014-09-02 10:20:30', '2014-09-05 10:20:30', '2014-09-06 10:20:30', '2014-09-08 10:20:30',
  '2014-09-09 10:20:30', '2014-09-10 10:20:30', '2014-09-11 10:20:30', '2014-09-20 10:20:30', '2014-09-22 10:20:30',
  '2014-08-08 10:20:30', '2014-08-10 10:20:30', '2014-08-12 10:20:30', '2014-08-13 10:20:30', '2014-08-13 10:20:30.1',
  '2014-08-15 10:20:30', '2014-08-18 10:20:30', '2014-08-20 10:20:30', '2014-08-21 10:20:30', '2014-08-22 10:20:30',
  '2014-10-01 10:20:30', '2014-10-02 10:20:30', '2014-10-05 10:20:30', '2014-10-06 10:20:30', '2014-10-08 10:20:30',
  '2014-10-09 10:20:30', '2014-10-10 10:20:30', '2014-10-11 10:20:30', '2014-10-20 10:20:30', '2014-10-22 10:20:30',
  '2014-11-08 10:20:30', '2014-11-10 10:20:30', '2014-11-12 10:20:30', '2014-11-13 10:20:30', '2014-11-13 10:20:30.1',
  '2014-11-15 10:20:30', '2014-11-18 10:20:30', '2014-11-20 10:20:30', '2014-11-21 10:20:30', '2014-11-22 10:20:30',
  '2015-09-01 10:20:30', '2015-09-02 10:20:30', '2015-09-05 10:20:30', '2015-09-06 10:20:30', '2015-09-08 10:20:30',
  '2015-09-09 10:20:30', '2015-09-10 10:20:30', '2015-09-11 10:20:30', '2015-09-20 10:20:30', '2015-09-22 10:20:30',
  '2015-08-08 10:20:30', '2015-08-10 10:20:30', '2015-08-12 10:20:30', '2015-08-13 10:20:30', '2015-08-13 10:20:30.1',
  '2015-08-15 10:20:30', '2015-08-18 10:20:30', '2015-08-20 10:20:30', '2015-08-21 10:20:30', '2015-08-22 10:20:30',
  '2015-10-01 10:20:30', '2015-10-02 10:20:30', '2015-10-05 10:20:30', '2015-10-06 10:20:30', '2015-10-08 10:20:30',
  '2015-10-09 10:20:30', '2015-10-10 10:20:30', '2015-10-11 10:20:30', '2015-10-20 10:20:30', '2015-10-22 10:20:30',
  '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-10-22 10:20:30', '2015-11-08 10:20:30',
  '2015-11-10 10:20:30', '2015-11-12 10:20:30', '2015-11-13 10:20:30', '2015-11-13 10:20:30.1', '2015-11-15 10:20:30',
  '2015-11-18 10:20:30', '2015-11-20 10:20:30', '2015-11-21 10:20:30', '2015-11-22 10:20:30', '2016-01-01 01:02:03',
  '2016-01-01 01:03:03', '2016-01-01 07:08:03', '2016-01-03 07:02:03', '2016-01-04 10:23:03', '2016-01-04 11:23:03',
  '2016-01-04 12:23:03', '2016-01-04 12:24:03', '2016-01-04 12:28:03', '2016-01-04 12:30:03', '2016-01-04 16:23:03',
  '2016-01-05 09:02:03', '2016-01-06 08:02:03', '2016-01-07 10:02:03', '2016-01-08 20:02:03', '2016-01-09 21:02:03',
  '2016-01-12 21:02:03', '2016-01-12 21:08:03', '2016-01-18 12:02:03',
  ];
  const restic = () => RESTIC_TIMES.map((t, i) => gen(`${t.replace(' ', 'T')}Z`, { id: 10_000 - i }));
  const keptTimes = (gens: RetentionCandidate[], p: Partial<RetentionPolicy>) => kept(gens, policy(p)).map((iso) => iso!.replace('T', ' ').replace(/(\.\d*[1-9])?0*Z$/, '$1').replace(/\.$/, ''));

  test.each<[string, Partial<RetentionPolicy>, string[]]>([
    ['daily 3', { daily: 3 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03']],
    ['daily 10', { daily: 10 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03', '2016-01-08 20:02:03', '2016-01-07 10:02:03', '2016-01-06 08:02:03', '2016-01-05 09:02:03', '2016-01-04 16:23:03', '2016-01-03 07:02:03', '2016-01-01 07:08:03']],
    ['last 5, daily 5', { last: 5, daily: 5 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-12 21:02:03', '2016-01-09 21:02:03', '2016-01-08 20:02:03', '2016-01-07 10:02:03']],
    ['last 2, daily 10', { last: 2, daily: 10 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03', '2016-01-08 20:02:03', '2016-01-07 10:02:03', '2016-01-06 08:02:03', '2016-01-05 09:02:03', '2016-01-04 16:23:03', '2016-01-03 07:02:03', '2016-01-01 07:08:03']],
    ['weekly 2', { weekly: 2 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03']],
    ['weekly 4', { weekly: 4 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03', '2016-01-03 07:02:03']],
    ['daily 3, weekly 4', { daily: 3, weekly: 4 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2016-01-09 21:02:03', '2016-01-03 07:02:03']],
    ['monthly 6', { monthly: 6 }, ['2016-01-18 12:02:03', '2015-11-22 10:20:30', '2015-10-22 10:20:30', '2015-09-22 10:20:30', '2015-08-22 10:20:30', '2014-11-22 10:20:30']],
    ['daily 2, weekly 2, monthly 6', { daily: 2, weekly: 2, monthly: 6 }, ['2016-01-18 12:02:03', '2016-01-12 21:08:03', '2015-11-22 10:20:30', '2015-10-22 10:20:30', '2015-09-22 10:20:30', '2015-08-22 10:20:30', '2014-11-22 10:20:30']],
  ])('golden file: %s keeps what restic keeps (counts filled: no oldest)', (_, p, expected) => {
    expect(keptTimes(restic(), p)).toEqual(expected);
  });

  test.each<[string, Partial<RetentionPolicy>, number]>([
    ['last 10', { last: 10 }, 10],
    ['last 15', { last: 15 }, 15],
    ['last 99', { last: 99 }, 99],
    ['last 200', { last: 200 }, 103],
    ['daily 30', { daily: 30 }, 30],
  ])('golden file: %s keeps as many as restic', (_, p, n) => {
    expect(keptTimes(restic(), p)).toHaveLength(n);
  });

  test('monthly 12 over the 9 months of the same snapshots: the newest of each, and the oldest additionally', () => {
    const ds = applyPolicy(restic(), policy({ monthly: 12 }), 'UTC');
    expect(keptTimes(restic(), { monthly: 12 })).toEqual([
      '2016-01-18 12:02:03', '2015-11-22 10:20:30', '2015-10-22 10:20:30', '2015-09-22 10:20:30', '2015-08-22 10:20:30',
      '2014-11-22 10:20:30', '2014-10-22 10:20:30', '2014-09-22 10:20:30', '2014-08-22 10:20:30', '2014-08-08 10:20:30',
    ]);
    expect(ds.at(-1)!.reasons).toEqual(['oldest, monthly 12 not filled']);
  });

  test('doc/060_forget.rst: weekday backups for two weeks, an extra one on Fridays, Wednesday missed: --keep-daily 5 keeps 5', () => {
    const gens = ['2025-04-21 11:00', '2025-04-22 11:00', '2025-04-23 11:00', '2025-04-24 11:00', '2025-04-25 11:00', '2025-04-25 23:00', '2025-04-28 11:00', '2025-04-29 11:00', '2025-05-01 11:00', '2025-05-02 11:00', '2025-05-02 23:00'].map((t) => gen(`${t.replace(' ', 'T')}:00Z`));
    expect(kept(gens, policy({ daily: 5 }))).toEqual(['2025-05-02T23:00:00.000Z', '2025-05-01T11:00:00.000Z', '2025-04-29T11:00:00.000Z', '2025-04-28T11:00:00.000Z', '2025-04-25T23:00:00.000Z']);
  });
});

describe('R-BK-11: a count its periods do not fill keeps the oldest generation too (restic: "the oldest snapshot in the group is kept additionally")', () => {
  test('two backups a day on 3 days, daily 7: the newest of each day and the oldest, 4 (was 3)', () => {
    const gens = ['2026-11-29T09:00:00Z', '2026-11-29T21:00:00Z', '2026-11-30T09:00:00Z', '2026-11-30T21:00:00Z', '2026-12-01T09:00:00Z', '2026-12-01T21:00:00Z'].map((t) => gen(t));
    expect(reasonsOf(gens, all({ daily: 7 }))).toEqual({
      '2026-12-01T21:00:00.000Z': ['daily 2026-12-01'],
      '2026-12-01T09:00:00.000Z': [],
      '2026-11-30T21:00:00.000Z': ['daily 2026-11-30'],
      '2026-11-30T09:00:00.000Z': [],
      '2026-11-29T21:00:00.000Z': ['daily 2026-11-29'],
      '2026-11-29T09:00:00.000Z': ['oldest, daily 7 not filled'],
    });
  });

  test('each rule not filled is named, in one reason (drill D read "oldest" three times); a filled one adds nothing; last N never keeps an oldest', () => {
    const gens = ['2026-11-30T09:00:00Z', '2026-11-30T21:00:00Z', '2026-12-01T09:00:00Z', '2026-12-01T21:00:00Z'].map((t) => gen(t));
    // daily 2: filled (two days); weekly 4 and monthly 3: one week, one month
    expect(reasonsOf(gens, all({ last: 1, daily: 2, weekly: 4, monthly: 3 }))['2026-11-30T09:00:00.000Z']).toEqual(['oldest, weekly 4, monthly 3 not filled']);
    expect(kept(gens, policy({ daily: 2 }))).toEqual(['2026-12-01T21:00:00.000Z', '2026-11-30T21:00:00.000Z']);
    expect(kept(gens, policy({ last: 3 }))).toHaveLength(3);
  });

  test('the oldest that is its period\'s only generation is kept for that period, once', () => {
    const gens = ['2026-11-20T21:00:00Z', '2026-12-01T09:00:00Z', '2026-12-01T21:00:00Z'].map((t) => gen(t));
    expect(reasonsOf(gens, all({ daily: 7 }))['2026-11-20T21:00:00.000Z']).toEqual(['daily 2026-11-20']);
  });

  test('one generation more at most: the oldest, named by every rule it stays for', () => {
    const gens = nightly('2026-11-01', 10).concat(nightly('2026-11-01', 10, 9));
    const ds = applyPolicy(gens, policy({ last: 2, daily: 14, weekly: 8, monthly: 6 }), 'UTC');
    const oldest = ds.at(-1)!;
    expect(oldest.reasons).toEqual(['oldest, daily 14, weekly 8, monthly 6 not filled']);
    // the newest of each of the 10 days, the second newest (last 2), and the oldest
    expect(ds.filter((d) => d.keep)).toHaveLength(10 + 1 + 1);
    expect(ds.filter((d) => d.keep && d.reasons.some((r) => r.startsWith('oldest')))).toEqual([oldest]);
  });

  test('the oldest of what is left: a generation nothing is left of takes no part (decideRetention applies the rules to the others)', () => {
    const gens = [gen('2026-12-01T21:00:00Z'), gen('2026-12-01T09:00:00Z'), gen('2026-11-30T21:00:00Z'), gen('2026-11-30T09:00:00Z', { verify: 'missing' })];
    const r = reasonsOf(gens, all({ daily: 7 }));
    expect(r['2026-11-30T09:00:00.000Z']).toEqual([]);
    expect(r['2026-12-01T09:00:00.000Z']).toEqual([]);
    expect(r['2026-11-30T21:00:00.000Z']).toEqual(['daily 2026-11-30']);
  });
});

describe("R-BK-11: periods in the operator's time zone (config.timeZone)", () => {
  test('a backup at 23:30 UTC belongs to the next day in Paris, to the same day in New York', () => {
    const gens = [gen('2026-12-01T20:00:00Z'), gen('2026-12-01T23:30:00Z')];
    expect(kept(gens, policy({ daily: 2 }), PARIS)).toHaveLength(2);
    expect(reasonsOf(gens, all({ daily: 2 }), PARIS)['2026-12-01T23:30:00.000Z']).toEqual(['daily 2026-12-02']);
    expect(kept(gens, policy({ daily: 1 }), 'America/New_York')).toEqual(['2026-12-01T23:30:00.000Z']);
    // one day in New York: the older is not a day's newest, kept only as the oldest while daily 2 is not filled
    expect(reasonsOf(gens, all({ daily: 2 }), 'America/New_York')).toEqual({ '2026-12-01T23:30:00.000Z': ['daily 2026-12-01'], '2026-12-01T20:00:00.000Z': ['oldest, daily 2 not filled'] });
  });

  test('DST spring forward (Paris, 2026-03-29 02:00 → 03:00): 01:30 CET and 03:30 CEST are one day', () => {
    const gens = [gen('2026-03-28T22:30:00Z'), gen('2026-03-29T00:30:00Z'), gen('2026-03-29T01:30:00Z'), gen('2026-03-29T21:59:00Z'), gen('2026-03-29T22:00:00Z')];
    const r = reasonsOf(gens, all({ daily: 10 }), PARIS);
    // 22:30Z on 28 March is 23:30 CET; 21:59Z on the 29th is 23:59 CEST; 22:00Z is already the 30th
    expect(r['2026-03-28T22:30:00.000Z']).toEqual(['daily 2026-03-28']);
    expect(r['2026-03-29T00:30:00.000Z']).toEqual([]);
    expect(r['2026-03-29T01:30:00.000Z']).toEqual([]);
    expect(r['2026-03-29T21:59:00.000Z']).toEqual(['daily 2026-03-29']);
    expect(r['2026-03-29T22:00:00.000Z']).toEqual(['daily 2026-03-30']);
  });

  test('DST fall back (Paris, 2026-10-25 03:00 → 02:00): the two 02:30 are one day, and the day has 25 hours', () => {
    const gens = [gen('2026-10-24T21:59:00Z'), gen('2026-10-24T22:00:00Z'), gen('2026-10-25T00:30:00Z'), gen('2026-10-25T01:30:00Z'), gen('2026-10-25T22:59:00Z'), gen('2026-10-25T23:00:00Z')];
    const r = reasonsOf(gens, all({ daily: 10 }), PARIS);
    expect(r['2026-10-24T21:59:00.000Z']).toEqual(['daily 2026-10-24']); // 23:59 CEST on the 24th
    expect(r['2026-10-24T22:00:00.000Z']).toEqual([]); // 00:00 CEST on the 25th: the same day as 23:59 CET, 25 hours later
    expect(r['2026-10-25T00:30:00.000Z']).toEqual([]); // 02:30 CEST
    expect(r['2026-10-25T01:30:00.000Z']).toEqual([]); // 02:30 CET
    expect(r['2026-10-25T22:59:00.000Z']).toEqual(['daily 2026-10-25']); // 23:59 CET
    expect(r['2026-10-25T23:00:00.000Z']).toEqual(['daily 2026-10-26']);
  });

  test('weeks and months turn at local midnight: Sunday 23:30 UTC is Monday in Paris; 30 Nov 23:30 UTC is December', () => {
    const sunday = [gen('2026-11-29T12:00:00Z'), gen('2026-11-29T23:30:00Z')];
    expect(reasonsOf(sunday, all({ weekly: 5 }), 'UTC')).toEqual({ '2026-11-29T23:30:00.000Z': ['weekly 2026-W48'], '2026-11-29T12:00:00.000Z': ['oldest, weekly 5 not filled'] });
    expect(kept(sunday, policy({ weekly: 1 }), 'UTC')).toEqual(['2026-11-29T23:30:00.000Z']);
    expect(kept(sunday, policy({ weekly: 5 }), PARIS)).toEqual(['2026-11-29T23:30:00.000Z', '2026-11-29T12:00:00.000Z']);
    const monthEnd = [gen('2026-11-30T12:00:00Z'), gen('2026-11-30T23:30:00Z')];
    expect(reasonsOf(monthEnd, all({ monthly: 5 }), PARIS)).toEqual({ '2026-11-30T23:30:00.000Z': ['monthly 2026-12'], '2026-11-30T12:00:00.000Z': ['monthly 2026-11'] });
    expect(kept(monthEnd, policy({ monthly: 1 }), 'UTC')).toEqual(['2026-11-30T23:30:00.000Z']);
  });

  test('a zone east of UTC by more than 12 hours (Pacific/Kiritimati, +14) and one at a half hour (Asia/Kolkata)', () => {
    const gens = [gen('2026-12-01T09:00:00Z'), gen('2026-12-01T11:00:00Z')];
    expect(reasonsOf(gens, all({ daily: 5 }), 'Pacific/Kiritimati')).toEqual({ '2026-12-01T11:00:00.000Z': ['daily 2026-12-02'], '2026-12-01T09:00:00.000Z': ['daily 2026-12-01'] });
    const kolkata = [gen('2026-12-01T18:29:00Z'), gen('2026-12-01T18:30:00Z')];
    expect(kept(kolkata, policy({ daily: 5 }), 'Asia/Kolkata')).toHaveLength(2);
  });

  test('an unknown zone is an error, not UTC', () => {
    expect(() => applyPolicy([gen('2026-12-01T00:00:00Z')], policy({ daily: 1 }), 'Mars/Olympus')).toThrow(/unknown time zone/);
  });
});

test('R-BK-14: the newest off-site copy stays while the kept generations\' copies failed (drill finding: a night with the storage away took the last copy); copies never made do not hold it', () => {
  const p = all({ last: 1 });
  const failedTonight = [gen('2026-12-03T21:00:00Z', { offsite: 'failed' }), gen('2026-12-02T21:00:00Z', { offsite: 'copied' }), gen('2026-12-01T21:00:00Z', { offsite: 'copied' })];
  expect(reasonsOf(failedTonight, p)).toEqual({
    '2026-12-03T21:00:00.000Z': ['last 1'],
    '2026-12-02T21:00:00.000Z': ['newest off-site copy (the newer copies failed)'],
    '2026-12-01T21:00:00.000Z': [],
  });
  // copied again: the older copy goes
  const copiedAgain = [gen('2026-12-03T21:00:00Z', { offsite: 'copied' }), gen('2026-12-02T21:00:00Z', { offsite: 'copied' })];
  expect(kept(copiedAgain, p)).toEqual(['2026-12-03T21:00:00.000Z']);
  // off-site storage no longer configured: new generations have no copy ('none'), the old copies are pruned as usual
  const noStorage = [gen('2026-12-03T21:00:00Z', { offsite: 'none' }), gen('2026-12-02T21:00:00Z', { offsite: 'copied' })];
  expect(kept(noStorage, p)).toEqual(['2026-12-03T21:00:00.000Z']);
});

describe('R-BK-14: the newest off-site copy while off-site storage is configured', () => {
  const configured: RetentionOptions = { offsiteConfigured: true };

  test('newer generations without a copy (none) hold it (tester finding: `backup dossier BIG0001` then last=1 took the dossier\'s only copy with a bucket configured)', () => {
    const gens = [gen('2026-12-03T10:00:00Z', { offsite: 'none' }), gen('2026-12-02T21:00:00Z', { offsite: 'copied' }), gen('2026-12-01T21:00:00Z', { offsite: 'copied' })];
    expect(reasonsOf(gens, all({ last: 1 }), 'UTC', configured)).toEqual({
      '2026-12-03T10:00:00.000Z': ['last 1'],
      '2026-12-02T21:00:00.000Z': ['newest off-site copy (the newer ones have none)'],
      '2026-12-01T21:00:00.000Z': [],
    });
    // not configured: copies never made do not hold it (today's rule, unchanged)
    expect(kept(gens, all({ last: 1 }))).toEqual(['2026-12-03T10:00:00.000Z']);
  });

  test('kept copies that failed hold it, configured or not; kept ones mixing failed and none say none', () => {
    const failed = [gen('2026-12-03T21:00:00Z', { offsite: 'failed' }), gen('2026-12-02T21:00:00Z', { offsite: 'copied' })];
    expect(reasonsOf(failed, all({ last: 1 }), 'UTC', configured)['2026-12-02T21:00:00.000Z']).toEqual(['newest off-site copy (the newer copies failed)']);
    const mixed = [gen('2026-12-03T21:00:00Z', { offsite: 'none' }), gen('2026-12-03T10:00:00Z', { offsite: 'failed' }), gen('2026-12-02T21:00:00Z', { offsite: 'copied' })];
    expect(reasonsOf(mixed, all({ last: 2 }), 'UTC', configured)['2026-12-02T21:00:00.000Z']).toEqual(['newest off-site copy (the newer ones have none)']);
  });

  test('a kept copy releases the older ones; only the newest copy is held', () => {
    const copiedAgain = [gen('2026-12-03T21:00:00Z', { offsite: 'copied' }), gen('2026-12-02T21:00:00Z', { offsite: 'none' }), gen('2026-12-01T21:00:00Z', { offsite: 'copied' })];
    expect(kept(copiedAgain, all({ last: 1 }), 'UTC', configured)).toEqual(['2026-12-03T21:00:00.000Z']);
    const twoOld = [gen('2026-12-03T21:00:00Z'), gen('2026-12-02T21:00:00Z', { offsite: 'copied' }), gen('2026-12-01T21:00:00Z', { offsite: 'copied' })];
    expect(kept(twoOld, all({ last: 1 }), 'UTC', configured)).toEqual(['2026-12-03T21:00:00.000Z', '2026-12-02T21:00:00.000Z']);
    // no copy ever made: nothing extra
    expect(kept([gen('2026-12-03T21:00:00Z'), gen('2026-12-02T21:00:00Z')], all({ last: 1 }), 'UTC', configured)).toEqual(['2026-12-03T21:00:00.000Z']);
  });

  test('per folder kind: a normal generation\'s copy does not let a Cloture archive\'s copy go', () => {
    const gens = [
      gen('2026-12-03T21:00:00Z', { offsite: 'copied' }),
      gen('2026-12-02T21:00:00Z', { offsite: 'copied' }),
      gen('2026-12-01T10:00:00Z', { kind: 'Cloture', offsite: 'none' }),
      gen('2026-11-01T10:00:00Z', { kind: 'Cloture', offsite: 'copied' }),
      gen('2026-10-01T10:00:00Z', { kind: 'Cloture', offsite: 'copied' }),
    ];
    expect(reasonsOf(gens, all({ last: 1 }), 'UTC', configured)).toEqual({
      '2026-12-03T21:00:00.000Z': ['last 1'],
      '2026-12-02T21:00:00.000Z': [],
      '2026-12-01T10:00:00.000Z': ['last 1'],
      '2026-11-01T10:00:00.000Z': ['newest off-site copy (the newer ones have none)'],
      '2026-10-01T10:00:00.000Z': [],
    });
    // and the failed-copy rule, storage configured or not, is per kind too
    const failedCloture = [gens[0]!, gen('2026-12-01T10:00:00Z', { kind: 'Cloture', offsite: 'failed' }), gens[3]!];
    expect(kept(failedCloture, all({ last: 1 }))).toEqual(['2026-12-03T21:00:00.000Z', '2026-12-01T10:00:00.000Z', '2026-11-01T10:00:00.000Z']);
  });

  test('the only valid generation and the newest copy are one generation: kept once, both reasons', () => {
    const gens = [gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }), gen('2026-12-02T21:00:00Z', { verify: 'missing', offsite: 'copied' }), gen('2026-12-01T21:00:00Z', { offsite: 'copied' })];
    expect(reasonsOf(gens, all({ last: 1 }), 'UTC', configured)).toEqual({
      '2026-12-03T21:00:00.000Z': ['last 1'],
      '2026-12-02T21:00:00.000Z': ['only valid generation'],
      '2026-12-01T21:00:00.000Z': [],
    });
  });
});

describe('R-BK-11: the only valid generation of a dossier and kind is never deleted', () => {
  test('every kept generation corrupt: the newest valid one stays, named', () => {
    const gens = [gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }), gen('2026-12-02T21:00:00Z', { verify: 'corrupt' }), gen('2026-12-01T21:00:00Z', { verify: 'ok' }), gen('2026-11-30T21:00:00Z')];
    const r = reasonsOf(gens, all({ last: 2 }));
    expect(r).toEqual({
      '2026-12-03T21:00:00.000Z': ['last 2'],
      '2026-12-02T21:00:00.000Z': ['last 2'],
      '2026-12-01T21:00:00.000Z': ['only valid generation'],
      '2026-11-30T21:00:00.000Z': [],
    });
  });

  test('R-BK-14: a generation nothing is left of (file missing, no off-site copy) takes no slot and goes; a corrupt one keeps its slot', () => {
    const gens = [
      gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }),
      gen('2026-12-02T21:00:00Z', { verify: 'missing' }),
      gen('2026-12-01T21:00:00Z', { verify: 'missing', offsite: 'failed' }),
      gen('2026-11-30T21:00:00Z', { verify: 'ok' }),
      gen('2026-11-29T21:00:00Z'),
    ];
    expect(reasonsOf(gens, all({ last: 2 }))).toEqual({
      '2026-12-03T21:00:00.000Z': ['last 2'],
      '2026-12-02T21:00:00.000Z': [],
      '2026-12-01T21:00:00.000Z': [],
      '2026-11-30T21:00:00.000Z': ['last 2'],
      '2026-11-29T21:00:00.000Z': [],
    });
    // leased, it stays (a restore or a verification is reading its record)
    const leased = gen('2026-12-04T21:00:00Z', { verify: 'missing', leasedUntil: new Date('2099-01-01T00:00:00Z') });
    expect(reasonsOf([leased, ...gens], all({ last: 2 }))['2026-12-04T21:00:00.000Z']).toEqual(['leased until 2099-01-01 00:00:00 (a restore or a verification is reading it)']);
  });

  test('R-BK-14: a file found missing whose off-site copy remains is restorable: it keeps its slot, and is the one kept when no other can be restored', () => {
    // the disk lost, then backups written without a copy and lost too: the one with a copy is what is left
    const gens = [
      gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }),
      gen('2026-12-02T21:00:00Z', { verify: 'corrupt' }),
      gen('2026-12-01T21:00:00Z', { verify: 'missing', offsite: 'copied' }),
      gen('2026-11-30T21:00:00Z', { verify: 'missing', offsite: 'copied' }),
    ];
    expect(reasonsOf(gens, all({ last: 2 }))).toEqual({
      '2026-12-03T21:00:00.000Z': ['last 2'],
      '2026-12-02T21:00:00.000Z': ['last 2'],
      '2026-12-01T21:00:00.000Z': ['only valid generation'],
      '2026-11-30T21:00:00.000Z': [],
    });
    expect(kept([gen('2026-12-03T21:00:00Z'), gen('2026-12-02T21:00:00Z', { verify: 'missing', offsite: 'copied' })], all({ last: 2 }))).toHaveLength(2);
  });

  test('"unverified" counts as valid: nothing extra is kept', () => {
    const gens = [gen('2026-12-03T21:00:00Z'), gen('2026-12-02T21:00:00Z', { verify: 'ok' })];
    expect(kept(gens, all({ last: 1 }))).toEqual(['2026-12-03T21:00:00.000Z']);
  });

  test('no valid generation at all: nothing extra to keep (the policy alone decides)', () => {
    const gens = [gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }), gen('2026-12-02T21:00:00Z', { verify: 'corrupt' })];
    expect(kept(gens, all({ last: 1 }))).toEqual(['2026-12-03T21:00:00.000Z']);
  });

  test('per folder kind: a valid generation of another kind does not stand in (tester finding: a valid normal one let the prune take the only readable EchangePrest ones)', () => {
    // DEMO0005: its newest EchangePrest archive corrupt (no off-site copy), last=1; its normal generations fine
    const gens = [
      gen('2026-12-03T21:00:00Z'),
      gen('2026-12-02T21:00:00Z', { verify: 'ok' }),
      gen('2026-12-02T10:00:00Z', { kind: 'EchangePrest', verify: 'corrupt' }),
      gen('2026-11-20T10:00:00Z', { kind: 'EchangePrest', verify: 'ok' }),
      gen('2026-11-10T10:00:00Z', { kind: 'EchangePrest' }),
    ];
    expect(reasonsOf(gens, all({ last: 1 }))).toEqual({
      '2026-12-03T21:00:00.000Z': ['last 1'],
      '2026-12-02T21:00:00.000Z': [],
      '2026-12-02T10:00:00.000Z': ['last 1'],
      '2026-11-20T10:00:00.000Z': ['only valid generation'],
      '2026-11-10T10:00:00.000Z': [],
    });
    // the other way round: every normal one kept corrupt, a valid Cloture one does not hold the newest valid normal one
    const normalCorrupt = [gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }), gen('2026-12-02T21:00:00Z', { verify: 'ok' }), gen('2026-11-01T10:00:00Z', { kind: 'Cloture', verify: 'ok' })];
    expect(kept(normalCorrupt, all({ last: 1 }))).toEqual(['2026-12-03T21:00:00.000Z', '2026-12-02T21:00:00.000Z', '2026-11-01T10:00:00.000Z']);
    // a kind whose kept one is valid keeps nothing extra, whatever another kind's state
    const fine = [gen('2026-12-03T21:00:00Z', { verify: 'corrupt' }), gen('2026-12-02T10:00:00Z', { kind: 'Cloture' }), gen('2026-11-02T10:00:00Z', { kind: 'Cloture', verify: 'ok' })];
    expect(reasonsOf(fine, all({ last: 1 }))).toEqual({ '2026-12-03T21:00:00.000Z': ['last 1'], '2026-12-02T10:00:00.000Z': ['last 1'], '2026-11-02T10:00:00.000Z': [] });
  });
});

describe('R-BK-11: per folder kind (normal / EchangePrest / Cloture)', () => {
  test('each kind under its own policy; the counts of one kind never use up another', () => {
    const gens = [...nightly('2026-11-22', 10), gen('2026-11-02T10:00:00Z', { kind: 'Cloture' }), gen('2026-10-02T10:00:00Z', { kind: 'Cloture' }), gen('2026-12-01T08:00:00Z', { kind: 'EchangePrest' })];
    const policies: RetentionPolicies = { normal: policy({ last: 1 }), EchangePrest: policy({ last: 1 }), Cloture: policy({ monthly: 12 }) };
    expect(kept(gens, policies)).toEqual(['2026-12-01T21:00:00.000Z', '2026-12-01T08:00:00.000Z', '2026-11-02T10:00:00.000Z', '2026-10-02T10:00:00.000Z']);
  });
});

describe('R-BK-11: a leased generation is kept while the lease runs', () => {
  test('leased until later: kept with the reason; an expired lease is no reason', () => {
    const now = new Date('2026-12-02T12:00:00Z');
    const gens = [gen('2026-12-02T21:00:00Z'), gen('2026-12-01T21:00:00Z', { leasedUntil: new Date('2026-12-02T12:05:00Z') }), gen('2026-11-30T21:00:00Z', { leasedUntil: new Date('2026-12-02T11:00:00Z') })];
    const ds = decideRetention(gens, all({ last: 1 }), 'UTC', { now });
    expect(ds.map((d) => [d.keep, d.reasons])).toEqual([
      [true, ['last 1']],
      [true, ['leased until 2026-12-02 12:05:00 (a restore or a verification is reading it)']],
      [false, []],
    ]);
  });

  test('drill S: a patch run\'s restore point is said as such (not "a restore or a verification"), its end in the operator zone; keptByLeaseOnly tells both from a policy keep', () => {
    const now = new Date('2026-12-05T06:00:00Z');
    const gens = [
      gen('2026-12-05T05:00:00Z'),
      gen('2026-12-04T21:00:00Z', { leasedUntil: new Date('2027-01-04T05:45:30Z'), restorePointRun: '2' }),
      gen('2026-12-03T21:00:00Z', { leasedUntil: new Date('2026-12-05T06:10:00Z') }),
    ];
    const ds = decideRetention(gens, all({ last: 1 }), 'Europe/Paris', { now });
    expect(ds.map((d) => [d.keep, d.reasons, d.restorePoint ?? false, keptByLeaseOnly(d)])).toEqual([
      [true, ['last 1'], false, false],
      [true, ['leased until 2027-01-04 06:45:30 (restore point of patch run 2, kept for its rollback: R-PI-11)'], true, true],
      [true, ['leased until 2026-12-05 07:10:00 (a restore or a verification is reading it)'], false, true],
    ]);
    expect(heldText(2, 1)).toBe(" (2 held: 1 as patch restore points, kept for a rollback until their lease ends (R-PI-11; 'nightshift backup list CODE' says until when), 1 by a restore or a verification reading them)");
    expect(heldText(7999, 7999)).toBe(" (7999 held as patch restore points, kept for a rollback until their lease ends (R-PI-11; 'nightshift backup list CODE' says until when))");
    expect(heldText(3)).toBe(' (3 held by a restore or a verification reading them)');
    expect(heldText(0)).toBe('');
  });
});

describe('R-BK-9: retention settings (text, precedence local > common > default)', () => {
  test('parse and print', () => {
    expect(parseRetentionPolicy('last=2,daily=7,weekly=4,monthly=3')).toEqual(DEFAULT_RETENTION);
    expect(parseRetentionPolicy(' monthly = 12 , last=1 ')).toEqual(policy({ last: 1, monthly: 12 }));
    expect(retentionText(DEFAULT_RETENTION)).toBe('last=2,daily=7,weekly=4,monthly=3');
  });

  test.each([
    ['', /expected rule=count/],
    ['last', /expected rule=count/],
    ['last=-1', /expected rule=count/],
    ['last=2.5', /expected rule=count/],
    ['yearly=2', /unknown rule "yearly"/],
    ['last=1,last=2', /given twice/],
    ['last=0,daily=0', /keeps nothing/],
    ['daily=20000', /daily: at most 10000/],
    ['last=1000000', /^last: at most 10000$/],
    ['weekly=99999999999999999999999', /^weekly: at most 10000$/],
    ['last=2;daily=3', /expected rule=count/],
    // drill R2, session 36: these read `"": expected …`
    ['daily=7,', /^an empty entry \(a comma too many\?\): expected rule=count/],
    [',daily=7', /^an empty entry \(a comma too many\?\): expected rule=count/],
  ])('refused with a clear message: %j', (text, message) => {
    expect(() => parseRetentionPolicy(text)).toThrow(message);
  });

  test('NIGHTSHIFT_BACKUP_RETENTION: one policy for all kinds, or per kind, a bare one covering the others', () => {
    expect(parseLocalRetention('last=3')).toEqual({ normal: policy({ last: 3 }), EchangePrest: policy({ last: 3 }), Cloture: policy({ last: 3 }) });
    expect(parseLocalRetention('Cloture:monthly=12')).toEqual({ Cloture: policy({ monthly: 12 }) });
    expect(parseLocalRetention('last=3; Cloture:monthly=12')).toEqual({ normal: policy({ last: 3 }), EchangePrest: policy({ last: 3 }), Cloture: policy({ monthly: 12 }) });
    expect(() => parseLocalRetention('Archive:last=1')).toThrow(/unknown folder kind "Archive": expected normal, EchangePrest, Cloture$/);
    // as --kind says it (drill X, session 40)
    expect(() => parseLocalRetention('cloture:last=2')).toThrow('unknown folder kind "cloture": expected normal, EchangePrest, Cloture (kinds are case-sensitive: Cloture?)');
    expect(() => parseLocalRetention('Cloture:last=1;Cloture:last=2')).toThrow(/given twice/);
    expect(() => parseLocalRetention('Cloture:yearly=1')).toThrow(/^Cloture: unknown rule/);
    expect(() => parseLocalRetention('last=1;daily=2')).toThrow(/name the kind/);
  });

  test('per kind: local wins over common, common over default; each with its origin', () => {
    const r = resolveRetention({ Cloture: policy({ monthly: 24 }) }, { normal: { last: 5, daily: 0, weekly: 0, monthly: 0 }, Cloture: { last: 1 } });
    expect(r.details).toEqual([
      { kind: 'normal', policy: policy({ last: 5 }), source: 'common' },
      { kind: 'EchangePrest', policy: DEFAULT_RETENTION, source: 'default' },
      { kind: 'Cloture', policy: policy({ monthly: 24 }), source: 'local' },
    ]);
    expect(r.ignored).toBeUndefined();
  });

  test('a bad common value is ignored as a whole and reported, never half-used', () => {
    const r = resolveRetention(undefined, { normal: { last: 0 }, Cloture: { last: 1 } });
    expect(r.policies).toEqual(DEFAULT_RETENTION_POLICIES);
    expect(r.ignored).toMatch(/normal: a policy that keeps nothing/);
    expect(resolveRetention(undefined, { normal: { last: 1 }, Archive: { last: 1 } }).ignored).toMatch(/Archive|unrecognized/i);
  });

  test('setting one kind keeps the others; removing the last one removes the value', () => {
    const one = withKindPolicy(undefined, 'Cloture', policy({ monthly: 12 }));
    expect(one).toEqual({ Cloture: policy({ monthly: 12 }) });
    const two = withKindPolicy(one, 'normal', policy({ last: 3 }));
    expect(two).toEqual({ Cloture: policy({ monthly: 12 }), normal: policy({ last: 3 }) });
    expect(withKindPolicy(withKindPolicy(two, 'normal', undefined), 'Cloture', undefined)).toBeUndefined();
  });
});

describe('R-BK-11: restore --at DATE in the operator zone', () => {
  test('a date is the end of that day in the zone; a date-time is read in the zone unless it has an offset', () => {
    expect(parseRestoreAt('2026-12-01', PARIS).at?.toISOString()).toBe('2026-12-01T22:59:59.999Z');
    expect(parseRestoreAt('2026-07-01', PARIS).at?.toISOString()).toBe('2026-07-01T21:59:59.999Z');
    expect(parseRestoreAt('2026-12-01T08:30', PARIS).at?.toISOString()).toBe('2026-12-01T07:30:00.000Z');
    expect(parseRestoreAt('2026-12-01T08:30Z', PARIS).at?.toISOString()).toBe('2026-12-01T08:30:00.000Z');
    // the day DST ends has 25 hours: its end is 23:00 UTC
    expect(parseRestoreAt('2026-10-25', PARIS).at?.toISOString()).toBe('2026-10-25T22:59:59.999Z');
  });

  test('a time to the minute is that instant (13:00 is 13:00:00, as PostgreSQL reads a recovery target); to the second, that second (as backup list shows it); with a fraction, its last digit', () => {
    // a generation taken at 23:47:26 is after '23:47': not restored for it (drill finding)
    expect(parseRestoreAt('2026-12-03 23:47', PARIS).at?.toISOString()).toBe('2026-12-03T22:47:00.000Z');
    // a snapshot taken at 08:30:15.639 is listed as 08:30:15: --at '08:30:15' must reach it
    expect(parseRestoreAt('2026-12-01 08:30:15', PARIS).at?.toISOString()).toBe('2026-12-01T07:30:15.999Z');
    expect(parseRestoreAt('2026-12-01T08:30:15.5', PARIS).at?.toISOString()).toBe('2026-12-01T07:30:15.599Z');
    expect(parseRestoreAt('2026-12-01T08:30:15,63', PARIS).at?.toISOString()).toBe('2026-12-01T07:30:15.639Z');
    expect(parseRestoreAt('2026-12-01T08:30:15.639', PARIS).at?.toISOString()).toBe('2026-12-01T07:30:15.639Z');
    expect(parseRestoreAt('2026-12-01T08:30:15.639412+01:00', PARIS).at?.toISOString()).toBe('2026-12-01T07:30:15.639Z');
  });

  test('refused clearly: not a date, a day that does not exist, a skipped hour', () => {
    expect(parseRestoreAt('yesterday', PARIS).problem).toMatch(/not a date-time.*ISO date such as 2026-12-01/);
    // the field by name, not the date library's own wording
    expect(parseRestoreAt('2026-02-30', PARIS).problem).toBe('"2026-02-30" is not a date: day 30 does not exist in 2026-02');
    expect(parseRestoreAt('2026-13-01', PARIS).problem).toBe('"2026-13-01" is not a date: month 13 does not exist');
    expect(parseRestoreAt('2026-03-29T02:30', PARIS).problem).toMatch(/does not exist/);
    // a date-time with a field wrong says that alone (the other form is named only for text that is neither)
    expect(parseRestoreAt('2026-12-03 25:00', PARIS).problem).toBe('"2026-12-03 25:00" is not a date-time: hour 25 does not exist (00-23; write 00:00 of the next day)');
  });

  test('shown in the zone', () => {
    expect(operatorDateTime(new Date('2026-12-01T23:30:00Z'), PARIS)).toBe('2026-12-02 00:30:00');
  });
});

test('R-BK-11 (backup forget): a forgotten generation takes no slot and is deleted, said so; the only one a restore can read stays all the same', () => {
  const newest = gen('2026-12-03T21:00:00Z', { verify: 'corrupt' });
  const older = gen('2026-12-02T21:00:00Z');
  const oldest = gen('2026-12-01T21:00:00Z');
  // last=2: the forgotten newest gives its slot to the oldest
  const ds = decideRetention([{ ...newest, forgottenAt: new Date() }, older, oldest], all({ last: 2 }), 'UTC');
  expect(ds.map((d) => [d.id, d.keep, d.forgotten ?? false])).toEqual([
    [newest.id, false, true],
    [older.id, true, false],
    [oldest.id, true, false],
  ]);
  expect(deletionReason(ds[0]!, 'normal', policy({ last: 2 }))).toBe("forgotten ('nightshift backup forget'): it takes no slot");
  // the only sound one forgotten (the others corrupt): kept as the only valid generation (R-BK-11)
  const sound = gen('2026-12-02T21:00:00Z');
  const d2 = decideRetention([newest, { ...sound, forgottenAt: new Date() }], all({ last: 2 }), 'UTC');
  expect(d2.find((d) => d.id === sound.id)).toMatchObject({ keep: true, reasons: ['only valid generation'] });
});

import crypto from 'node:crypto';
import pg from 'pg';
import { HeartbeatBatcher } from '../../gate/heartbeats';
import { hashToken } from '../../gate/store';
import { createTestStack, type TestStack } from '../helpers/env';
import { setWindowState } from '../../store/windows/set-window-state';
import { withdrawCloseOrders } from '../../store/windows/withdraw-close-orders';
import { eventually } from '../workflows/maintenance-helpers';
import { clearWindow, setWindow } from './gate-helpers';

/**
 * Coalesced heartbeats (gate/heartbeats.ts, store/gate/heartbeat-sessions.ts) on a real database: one
 * statement answers many heartbeats exactly as one UPDATE each would (R-SE-1 liveness and token,
 * R-MW-7 close orders in 15 s, another gate's order kept), and batches of two gates on the same
 * sessions never deadlock.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const TIMEOUT = 30;

beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack?.close();
});
beforeEach(() => clearWindow(pool()));

interface Row {
  id: string;
  token: string;
  tokenHash: string;
}

async function sessions(n: number): Promise<Row[]> {
  const rows = Array.from({ length: n }, () => {
    const token = crypto.randomBytes(32).toString('base64url');
    return { id: crypto.randomUUID(), token, tokenHash: hashToken(token) };
  });
  await pool().query(
    `INSERT INTO nightshift.session (id, user_name, token_hash, expires_at)
     SELECT id, 'u', h, now() + interval '5 s' FROM unnest($1::uuid[], $2::text[]) AS x(id, h)`,
    [rows.map((r) => r.id), rows.map((r) => r.tokenHash)],
  );
  return rows;
}

const expiresIn = async (id: string) =>
  Number((await pool().query<{ s: number }>(`SELECT extract(epoch FROM expires_at - now()) AS s FROM nightshift.session WHERE id = $1`, [id])).rows[0]!.s);

test('R-SE-1: heartbeats arriving together go in one statement; each live session is kept alive for the timeout', async () => {
  const batcher = new HeartbeatBatcher(TIMEOUT);
  const rows = await sessions(50);
  const outcomes = await Promise.all(rows.map((r) => batcher.beat(pool(), r.id, r.tokenHash)));
  expect(batcher.stats).toEqual({ statements: expect.any(Number), calls: 50, retries: 0 });
  // at most maxInFlight (2) statements for one turn of the event loop
  expect(batcher.stats.statements).toBeLessThanOrEqual(2);
  expect(outcomes.every((o) => o !== undefined && o.closeBy === null && o.window === undefined)).toBe(true);
  for (const r of rows.slice(0, 3)) expect(await expiresIn(r.id)).toBeGreaterThan(TIMEOUT - 5);
});

test('R-SE-1: in one batch, a wrong token, an unknown id, a closed and an expired session get nothing and change nothing; the right token next to them is answered', async () => {
  const batcher = new HeartbeatBatcher(TIMEOUT);
  const [good, closed, expired] = await sessions(3);
  await pool().query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE id = $1`, [closed!.id]);
  await pool().query(`UPDATE nightshift.session SET expires_at = now() - interval '1 s' WHERE id = $1`, [expired!.id]);
  const before = (await pool().query(`SELECT * FROM nightshift.session WHERE id <> $1 ORDER BY id`, [good!.id])).rows;
  const [wrong, right, unknown, gone, late] = await Promise.all([
    batcher.beat(pool(), good!.id, hashToken('not-the-token')),
    batcher.beat(pool(), good!.id, good!.tokenHash),
    batcher.beat(pool(), crypto.randomUUID(), good!.tokenHash),
    batcher.beat(pool(), closed!.id, closed!.tokenHash),
    batcher.beat(pool(), expired!.id, expired!.tokenHash),
  ]);
  expect({ wrong, unknown, gone, late }).toEqual({ wrong: undefined, unknown: undefined, gone: undefined, late: undefined });
  expect(right).toMatchObject({ closeRequestedAt: null, closeBy: null });
  expect((await pool().query(`SELECT * FROM nightshift.session WHERE id <> $1 ORDER BY id`, [good!.id])).rows).toEqual(before);
});

test('R-MW-7: once the window is closed at the database clock, the batch writes the close order (15 s) for sessions without one, gives an order not told yet its 15 s from now, and keeps an order already told', async () => {
  const batcher = new HeartbeatBatcher(TIMEOUT);
  const [fresh, ordered, untold] = await sessions(3);
  await pool().query(`UPDATE nightshift.session SET close_requested_at = now() - interval '3 s', close_by = now() + interval '12 s', close_told_at = now() - interval '3 s' WHERE id = $1`, [ordered!.id]);
  // the window's start ordered it 14 s ago, no heartbeat told it yet: its deadline was for a client gone (drill G)
  await pool().query(`UPDATE nightshift.session SET close_requested_at = now() - interval '14 s', close_by = now() + interval '21 s' WHERE id = $1`, [untold!.id]);
  const theirs = (await pool().query<{ close_by: Date }>(`SELECT close_by FROM nightshift.session WHERE id = $1`, [ordered!.id])).rows[0]!.close_by;
  // scheduled, start passed a moment ago: the clock decides, no worker needed
  await setWindow(pool(), { startsAt: new Date(Date.now() - 1000), endsAt: new Date(Date.now() + 3_600_000) });
  const [a, b, c] = await Promise.all([batcher.beat(pool(), fresh!.id, fresh!.tokenHash), batcher.beat(pool(), ordered!.id, ordered!.tokenHash), batcher.beat(pool(), untold!.id, untold!.tokenHash)]);
  expect(c!.closeBy!.getTime() - c!.now.getTime()).toBe(15_000);
  expect(c!.now.getTime() - c!.closeRequestedAt!.getTime()).toBeGreaterThanOrEqual(14_000);
  expect(a!.closeRequestedAt).not.toBeNull();
  expect(a!.closeBy!.getTime() - a!.closeRequestedAt!.getTime()).toBe(15_000);
  expect(a!.closeRequestedAt!.getTime()).toBe(a!.now.getTime());
  expect(b!.closeBy).toEqual(theirs);
  const row = (await pool().query(`SELECT close_requested_at, close_by FROM nightshift.session WHERE id = $1`, [fresh!.id])).rows[0];
  expect(row).toEqual({ close_requested_at: a!.closeRequestedAt, close_by: a!.closeBy });
  // a second beat keeps the first order
  const again = await batcher.beat(pool(), fresh!.id, fresh!.tokenHash);
  expect(again!.closeBy).toEqual(a!.closeBy);
});

test('R-MW-4: while announced, the batch answers with the window and gives no order', async () => {
  const batcher = new HeartbeatBatcher(TIMEOUT);
  const [s] = await sessions(1);
  await setWindow(pool(), { startsAt: new Date(Date.now() + 3_600_000), endsAt: new Date(Date.now() + 7_200_000), message: 'v2' });
  const o = await batcher.beat(pool(), s!.id, s!.tokenHash);
  expect(o).toMatchObject({ closeRequestedAt: null, closeBy: null, window: { state: 'scheduled', message: 'v2' } });
});

test('two gates (two pools) beating the same sessions in opposite orders never deadlock (rows locked in id order); with a bulk order beside them every beat is still answered', async () => {
  const other = new pg.Pool({ connectionString: stack.databaseUrl, max: 4 });
  try {
    const rows = await sessions(200);
    const a = new HeartbeatBatcher(TIMEOUT, { maxBatch: 64 });
    const b = new HeartbeatBatcher(TIMEOUT, { maxBatch: 64 });
    const reversed = [...rows].reverse();
    const round = async (bulkOrder: boolean) => {
      const [x, y] = await Promise.all([
        Promise.all(rows.map((r) => a.beat(pool(), r.id, r.tokenHash))),
        Promise.all(reversed.map((r) => b.beat(other, r.id, r.tokenHash))),
        bulkOrder
          ? pool().query(`UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + interval '15 s' WHERE closed_at IS NULL AND close_requested_at IS NULL`)
          : undefined,
      ]);
      return [...x, ...y].filter((o) => o === undefined).length;
    };
    const unanswered = [];
    for (let i = 0; i < 5; i++) unanswered.push(await Promise.all([round(false), round(false)]));
    expect(unanswered).toEqual(Array.from({ length: 5 }, () => [0, 0]));
    expect(a.stats.retries + b.stats.retries).toBe(0);
    // the workflow's bulk order locks rows in its own order: a deadlock there is retried, never lost
    expect(await Promise.all([round(true), round(false)])).toEqual([0, 0]);
  } finally {
    await other.end();
  }
});

test('a batch never waits holding rows: with a bulk close (another transaction) holding one session and then wanting another, neither deadlocks and every beat is answered', async () => {
  const batcher = new HeartbeatBatcher(TIMEOUT);
  const [low, high] = (await sessions(2)).sort((a, b) => (a.id < b.id ? -1 : 1));
  // the workflow's bulk orders come while its window is in progress (without one, the gate withdraws them)
  await setWindow(pool(), { startsAt: new Date(Date.now() + 60_000), endsAt: new Date(Date.now() + 3_600_000), state: 'in_progress' });
  const bulk = await pool().connect();
  try {
    // the workflow's bulk order locks in its own order: here the higher id first
    await bulk.query('BEGIN');
    await bulk.query(`UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + interval '15 s' WHERE id = $1`, [high!.id]);
    const beats = Promise.all([batcher.beat(pool(), low!.id, low!.tokenHash), batcher.beat(pool(), high!.id, high!.tokenHash)]);
    // the low row is answered (with the gate's own order) while the high one is still held
    const first = await Promise.race([batcher.beat(pool(), low!.id, low!.tokenHash), new Promise((r) => setTimeout(() => r('blocked'), 3000))]);
    expect(first).toMatchObject({ closeBy: expect.any(Date) });
    // then the bulk wants the low row too: it gets it (a batch holding it while waiting for the high one would deadlock here)
    await bulk.query(`UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + interval '15 s' WHERE id = $1`, [low!.id]);
    await bulk.query('COMMIT');
    const [a, b] = await beats;
    expect(a).toBeDefined();
    expect(b!.closeBy).not.toBeNull();
    expect(batcher.stats.retries).toBe(0);
  } finally {
    await bulk.query('ROLLBACK').catch(() => {});
    bulk.release();
  }
});

test('R-MW-12: a heartbeat that read the window just before access came back writes its order after; the next heartbeat withdraws it (nothing stays told to close)', async () => {
  const batcher = new HeartbeatBatcher(TIMEOUT);
  await pool().query('DELETE FROM nightshift.session');
  const [s] = await sessions(1);
  await setWindow(pool(), { startsAt: new Date(Date.now() - 60_000), endsAt: new Date(Date.now() + 3_600_000), state: 'in_progress' });
  expect((await batcher.beat(pool(), s!.id, s!.tokenHash))!.closeBy).not.toBeNull();
  // access back as the window's activity gives it: the row finished and the order withdrawn, one transaction
  const back = await pool().connect();
  try {
    await back.query('BEGIN');
    await setWindowState(back, (await pool().query<{ id: string }>('SELECT id FROM nightshift.maintenance_window')).rows[0]!.id, 'cancelled', 'cancelled');
    expect(await withdrawCloseOrders(back)).toBe(1);
    // a heartbeat starts now: it reads the window still in progress, then waits for the session's row
    const racing = batcher.beat(pool(), s!.id, s!.tokenHash);
    await eventually(
      async () => (await back.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0]!.n,
      (n) => n === 1,
      'the heartbeat waiting for the row lock',
    );
    await back.query('COMMIT');
    // its snapshot saw the window closed: it writes an order after the withdrawal
    expect((await racing)!.closeBy).not.toBeNull();
  } finally {
    await back.query('ROLLBACK').catch(() => {});
    back.release();
  }
  const next = await batcher.beat(pool(), s!.id, s!.tokenHash);
  expect(next).toMatchObject({ closeRequestedAt: null, closeBy: null, window: undefined });
  expect((await pool().query(`SELECT close_requested_at, close_by FROM nightshift.session WHERE id = $1`, [s!.id])).rows[0]).toEqual({ close_requested_at: null, close_by: null });
});

import { createTestStack, type TestStack } from '../helpers/env';
import { sweepExpiredSessions } from '../../gate/store';
import { auth, clearWindow, heartbeat, insertDossier, loginOk, minutesFromNow, setWindow, startTestGate, type TestGate } from './gate-helpers';

/** Sessions through the gate: heartbeats (R-SE-1), close orders (R-MW-7), dossiers in use (R-SE-2), expiry. */

let stack: TestStack;
let gate: TestGate;
const pool = () => stack.pools.get('main');

const CLOSE_FR =
  "Une phase de maintenance commence. Cliquez sur OK pour fermer ISACOMPTA CONNECT proprement ; l'application sera fermée automatiquement dans 15 secondes.";
const CLOSE_EN = 'A maintenance is starting. Please click OK to close ISACOMPTA CONNECT cleanly; it will be closed automatically in 15 seconds.';

beforeAll(async () => {
  stack = await createTestStack({ NIGHTSHIFT_TIMEZONE: 'Europe/Paris', NIGHTSHIFT_SESSION_TIMEOUT_S: '30' });
  gate = await startTestGate(stack);
  await insertDossier(pool(), 'ACME');
  await insertDossier(pool(), 'BETA');
});
afterAll(async () => {
  await gate?.close();
  await stack?.close();
});
beforeEach(() => clearWindow(pool()));

async function sessionRow(id: string) {
  const { rows } = await pool().query(
    `SELECT closed_at, close_reason, close_requested_at, close_by, close_told_at, expires_at, last_seen_at,
            extract(epoch FROM expires_at - now()) AS expires_in
       FROM nightshift.session WHERE id = $1`,
    [id],
  );
  return rows[0];
}

describe('heartbeat (R-SE-1)', () => {
  test('keeps the session alive for the configured timeout and says continue', async () => {
    const s = await loginOk(gate);
    const before = await sessionRow(s.sessionId);
    expect(Number(before.expires_in)).toBeGreaterThan(20);
    expect(Number(before.expires_in)).toBeLessThanOrEqual(30);
    await pool().query(`UPDATE nightshift.session SET expires_at = now() + interval '3 s', last_seen_at = now() - interval '1 min' WHERE id = $1`, [s.sessionId]);
    const res = await heartbeat(gate, s);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ action: 'continue' });
    const after = await sessionRow(s.sessionId);
    expect(Number(after.expires_in)).toBeGreaterThan(20);
    // last_seen_at was set a minute back: the heartbeat brought it to now
    expect(after.last_seen_at.getTime()).toBeGreaterThanOrEqual(before.last_seen_at.getTime());
  });

  test('R-MW-4 while announced, each heartbeat carries the announcement (in the session language)', async () => {
    const s = await loginOk(gate);
    await setWindow(pool(), { startsAt: '2099-09-07T11:00:00Z', endsAt: '2099-09-07T11:45:00Z', type: 'deployment', message: 'Version 2099.1' });
    const res = await heartbeat(gate, s, { 'accept-language': 'en' });
    expect(res.json()).toEqual({
      action: 'continue',
      message: 'A new version will be installed between 07/09/2099 at 13:00 and 07/09/2099 at 13:45. ISACOMPTA CONNECT will therefore be suspended during this period.\nVersion 2099.1',
    });
  });
});

describe('close orders (R-MW-7)', () => {
  test('the gate orders the close itself once the start has passed, once (idempotent)', async () => {
    const s = await loginOk(gate);
    await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(44) });
    const first = await heartbeat(gate, s);
    expect(first.status).toBe(200);
    const body = first.json<{ action: string; message: string; closeBy: string }>();
    expect(body).toMatchObject({ action: 'close', message: CLOSE_FR });
    const row = await sessionRow(s.sessionId);
    expect(row.close_requested_at).not.toBeNull();
    expect(new Date(body.closeBy).getTime()).toBe(row.close_by.getTime());
    expect(row.close_by.getTime() - row.close_requested_at.getTime()).toBe(15_000);
    const second = await heartbeat(gate, s, { 'accept-language': 'en' });
    expect(second.json()).toEqual({ action: 'close', message: CLOSE_EN, closeBy: body.closeBy });
  });

  test("R-MW-7: the workflow's UPDATE orders it; the 15 s run from the heartbeat that tells it, not from the order (drill G: sessions beating 15-20 s after the start were closed untold)", async () => {
    const s = await loginOk(gate);
    // the workflow orders sessions once its window is in progress, with a deadline for a client that never beats again
    await setWindow(pool(), { startsAt: minutesFromNow(1), endsAt: minutesFromNow(44), state: 'in_progress' });
    await pool().query(
      `UPDATE nightshift.session SET close_requested_at = now() - interval '14 s', close_by = now() + interval '21 s'
        WHERE closed_at IS NULL AND expires_at > now() AND close_requested_at IS NULL`,
    );
    const ordered = await sessionRow(s.sessionId);
    const res = await heartbeat(gate, s);
    const told = await sessionRow(s.sessionId);
    expect(told.close_told_at).not.toBeNull();
    expect(told.close_requested_at).toEqual(ordered.close_requested_at);
    expect(told.close_by.getTime() - told.close_told_at.getTime()).toBe(15_000);
    expect(res.json()).toEqual({ action: 'close', message: CLOSE_FR, closeBy: told.close_by.toISOString() });
    // told once: the next answer keeps the deadline
    expect((await heartbeat(gate, s)).json()).toEqual({ action: 'close', message: CLOSE_FR, closeBy: told.close_by.toISOString() });
    // access back: the order is withdrawn with when it was told; a later window tells it again, with 15 s again
    await setWindow(pool(), { startsAt: minutesFromNow(30), endsAt: minutesFromNow(44), state: 'scheduled' });
    expect((await heartbeat(gate, s)).json()).toMatchObject({ action: 'continue' });
    expect(await sessionRow(s.sessionId)).toMatchObject({ close_requested_at: null, close_by: null, close_told_at: null });
  });

  test("R-MW-7 (drill M, session 37): the operator's message follows the close order, as it follows the announcement and the refusal", async () => {
    const s = await loginOk(gate);
    await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(44), state: 'in_progress', message: 'Migration annuelle' });
    expect((await heartbeat(gate, s)).json()).toMatchObject({ action: 'close', message: `${CLOSE_FR}\nMigration annuelle` });
    await clearWindow(pool());
  });

  test('logout after the order is the acknowledgement; afterwards the session is gone (404)', async () => {
    const s = await loginOk(gate);
    await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(44), state: 'in_progress' });
    expect((await heartbeat(gate, s)).json()).toMatchObject({ action: 'close' });
    const out = await gate.call('DELETE', `/v1/sessions/${s.sessionId}`, { headers: auth(s.token) });
    expect(out.status).toBe(200);
    expect(out.json()).toEqual({ closed: true, reason: 'acknowledged' });
    expect(await sessionRow(s.sessionId)).toMatchObject({ close_reason: 'acknowledged' });
    expect((await heartbeat(gate, s)).status).toBe(404);
    expect((await gate.call('DELETE', `/v1/sessions/${s.sessionId}`, { headers: auth(s.token) })).status).toBe(404);
  });

  test('a forced close (as the workflow does after 15 s) makes the next heartbeat 404', async () => {
    const s = await loginOk(gate);
    await pool().query(`UPDATE nightshift.session SET close_requested_at = now(), close_by = now() WHERE id = $1`, [s.sessionId]);
    await pool().query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'forced' WHERE id = $1 AND close_by <= now()`, [s.sessionId]);
    const res = await heartbeat(gate, s);
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ error: 'session closed or expired', field: 'id' });
  });

  test("R-MW-7 kept by the gate (drill C, session 37: Temporal or every worker down): a told session whose 15 s passed more than 10 s ago is closed by force by its own next heartbeat (404), recorded forced; one just past its deadline (the workflow's to force) still hears close", async () => {
    const late = await loginOk(gate);
    const inTime = await loginOk(gate);
    const untold = await loginOk(gate);
    await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(44), state: 'in_progress' });
    expect((await heartbeat(gate, late)).json()).toMatchObject({ action: 'close' });
    expect((await heartbeat(gate, inTime)).json()).toMatchObject({ action: 'close' });
    // no workflow forces them (down): the told deadline of one passed more than 10 s ago (fixture SQL for the 15 s), the
    // other's just now (the window's workflow forces that one at its deadline, and counts it; the gate does not)
    await pool().query(`UPDATE nightshift.session SET close_told_at = now() - interval '26 s', close_by = now() - interval '11 s' WHERE id = $1`, [late.sessionId]);
    await pool().query(`UPDATE nightshift.session SET close_told_at = now() - interval '16 s', close_by = now() - interval '1 s' WHERE id = $1`, [inTime.sessionId]);
    const res = await heartbeat(gate, late);
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ error: 'session closed or expired', field: 'id' });
    expect(await sessionRow(late.sessionId)).toMatchObject({ close_reason: 'forced' });
    expect((await sessionRow(late.sessionId)).closed_at).not.toBeNull();
    expect((await heartbeat(gate, inTime)).json()).toMatchObject({ action: 'close' });
    expect((await sessionRow(inTime.sessionId)).closed_at).toBeNull();
    // an order never told is not the gate's to force (its deadline is for a client that never beats again): told now
    await pool().query(`UPDATE nightshift.session SET close_requested_at = now() - interval '40 s', close_by = now() - interval '5 s' WHERE id = $1`, [untold.sessionId]);
    expect((await heartbeat(gate, untold)).json()).toMatchObject({ action: 'close' });
    expect((await sessionRow(untold.sessionId)).closed_at).toBeNull();
    await clearWindow(pool());
  });

  test('R-MW-12: once no window keeps the target closed (cancelled), an order left on the session is withdrawn: the next heartbeat says continue, a logout is a plain logout', async () => {
    const s = await loginOk(gate);
    await setWindow(pool(), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(44), state: 'in_progress' });
    expect((await heartbeat(gate, s)).json()).toMatchObject({ action: 'close', closeBy: expect.any(String) });
    // the row gives access back and the order is still there (a heartbeat that read the window just before wrote it after)
    await pool().query(`UPDATE nightshift.maintenance_window SET state = 'cancelled', phase = 'cancelled', finished_at = now()`);
    expect(await sessionRow(s.sessionId)).toMatchObject({ close_requested_at: expect.any(Date), close_by: expect.any(Date) });
    expect((await heartbeat(gate, s)).json()).toEqual({ action: 'continue' });
    expect(await sessionRow(s.sessionId)).toMatchObject({ closed_at: null, close_requested_at: null, close_by: null });
    expect((await heartbeat(gate, s)).json()).toEqual({ action: 'continue' });
    const out = await gate.call('DELETE', `/v1/sessions/${s.sessionId}`, { headers: auth(s.token) });
    expect(out.json()).toEqual({ closed: true, reason: 'logout' });
  });

  test('a logout without an order is a plain logout', async () => {
    const s = await loginOk(gate);
    const out = await gate.call('DELETE', `/v1/sessions/${s.sessionId}`, { headers: auth(s.token) });
    expect(out.json()).toEqual({ closed: true, reason: 'logout' });
    expect(await sessionRow(s.sessionId)).toMatchObject({ close_reason: 'logout' });
  });
});

describe('heartbeat batches read the window (gate/heartbeats.ts)', () => {
  test('R-MW-7 an announced window turns into a close order at the start instant, with no worker', async () => {
    const s = await loginOk(gate);
    const startsAt = new Date(Date.now() + 1500);
    await setWindow(pool(), { startsAt, endsAt: minutesFromNow(45) });
    expect((await heartbeat(gate, s)).json()).toMatchObject({ action: 'continue' });
    await new Promise((r) => setTimeout(r, Math.max(0, startsAt.getTime() - Date.now()) + 200));
    expect((await heartbeat(gate, s)).json()).toMatchObject({ action: 'close', message: CLOSE_FR });
  });
});

describe('dossiers in use (R-SE-2, R-BK-3)', () => {
  const inUse = async () =>
    (await pool().query('SELECT dossier_code, session_id FROM nightshift.dossier_in_use ORDER BY dossier_code, session_id')).rows;

  test('open and close show in nightshift.dossier_in_use; a logout releases them', async () => {
    const a = await loginOk(gate, 'alice');
    const b = await loginOk(gate, 'bob');
    const open = await gate.call('POST', `/v1/sessions/${a.sessionId}/dossiers/ACME`, { headers: auth(a.token) });
    expect(open.status).toBe(200);
    expect(open.json()).toEqual({ dossier: 'ACME', open: true });
    // opening twice is harmless
    expect((await gate.call('POST', `/v1/sessions/${a.sessionId}/dossiers/ACME`, { headers: auth(a.token) })).status).toBe(200);
    await gate.call('POST', `/v1/sessions/${b.sessionId}/dossiers/ACME`, { headers: auth(b.token) });
    await gate.call('POST', `/v1/sessions/${b.sessionId}/dossiers/BETA`, { headers: auth(b.token) });
    expect(await inUse()).toEqual(
      [
        { dossier_code: 'ACME', session_id: a.sessionId },
        { dossier_code: 'ACME', session_id: b.sessionId },
        { dossier_code: 'BETA', session_id: b.sessionId },
      ].sort((x, y) => (x.dossier_code + x.session_id < y.dossier_code + y.session_id ? -1 : 1)),
    );
    const closed = await gate.call('DELETE', `/v1/sessions/${a.sessionId}/dossiers/ACME`, { headers: auth(a.token) });
    expect(closed.json()).toEqual({ dossier: 'ACME', open: false });
    await gate.call('DELETE', `/v1/sessions/${b.sessionId}`, { headers: auth(b.token) });
    expect(await inUse()).toEqual([]);
  });

  test('an unknown dossier is 404 naming the code', async () => {
    const a = await loginOk(gate);
    const res = await gate.call('POST', `/v1/sessions/${a.sessionId}/dossiers/NOPE`, { headers: auth(a.token) });
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ error: 'unknown dossier', field: 'code' });
    expect(await inUse()).toEqual([]);
  });
});

describe('expiry (R-SE-1)', () => {
  test('a session that stopped heartbeating no longer counts, gets 404, and the sweep records it as expired', async () => {
    await pool().query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE closed_at IS NULL`);
    const s = await loginOk(gate);
    await gate.call('POST', `/v1/sessions/${s.sessionId}/dossiers/ACME`, { headers: auth(s.token) });
    expect((await gate.call('GET', '/v1/targets/main/status')).json()).toMatchObject({ openSessions: 1 });
    await pool().query(`UPDATE nightshift.session SET expires_at = now() - interval '1 s' WHERE id = $1`, [s.sessionId]);
    expect((await gate.call('GET', '/v1/targets/main/status')).json()).toMatchObject({ openSessions: 0 });
    expect((await pool().query('SELECT count(*)::int AS n FROM nightshift.dossier_in_use')).rows[0].n).toBe(0);
    expect((await heartbeat(gate, s)).status).toBe(404);
    expect((await gate.call('POST', `/v1/sessions/${s.sessionId}/dossiers/BETA`, { headers: auth(s.token) })).status).toBe(404);
    expect(await sweepExpiredSessions(pool())).toBe(1);
    const row = await sessionRow(s.sessionId);
    expect(row.close_reason).toBe('expired');
    expect(row.closed_at.getTime()).toBe(row.expires_at.getTime());
    expect(await sweepExpiredSessions(pool())).toBe(0);
  });
});

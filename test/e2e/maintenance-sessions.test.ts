import { issueKey } from '../../gate/keys';
import { startGate } from '../../gate/server';
import { announcementText, closeOrderText, refusalText } from '../../domain/maintenance';
import { createMailTransport, createTargetPools, type TargetPools } from '../../workers/resources';
import { createActivities } from '../../workers/activities';
import { completeMaintenanceUpdate, maintenanceStatusQuery, type MaintenanceStatus } from '../../workflows/maintenance-window.api';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { freePort } from '../helpers/net';
import { eventually, startSmtp, subjectOf } from '../workflows/maintenance-helpers';
import { GateClient, loginAll, probeLogins, runSession, type LoginAttempt, type SessionTrace } from './session-sim';
import { scheduleWindow, sessionRows, windowInputFor, windowRow, type MaintenanceHandle } from './window';

/**
 * The whole maintenance window end to end, in real time: the Temporal dev server and a worker, a real
 * target database, the gate over HTTP, a real SMTP server. 200 application sessions heartbeat every
 * second (half click OK on the close order, half ignore it) while another user tries to log in every
 * 100 ms. Bounds are wide on purpose (loaded 2-core machine): only orderings and the database's own
 * times are compared tightly.
 */

jest.setTimeout(150_000);

const SESSIONS = 200;
const HEARTBEAT_MS = 1000;
const PROBE_MS = 100;
const GRACE_S = 20;
const ZONE = 'Europe/Paris';
const NOTIFY = 'ops-e2e@example.com';
const TARGET = 'main';

let stack: TestStack;
let gatePools: TargetPools;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let temporal: Awaited<ReturnType<typeof devServerClient>>;

beforeAll(async () => {
  // before the first native connection creates the default (chatty) Runtime
  quietRuntime();
  smtp = await startSmtp();
  stack = await createTestStack({
    NIGHTSHIFT_GATE_HOST: '127.0.0.1',
    NIGHTSHIFT_GATE_PORT: String(await freePort()),
    NIGHTSHIFT_SMTP_PORT: String(smtp.port),
    NIGHTSHIFT_TIMEZONE: ZONE,
    NIGHTSHIFT_LOG_LEVEL: 'warn',
  });
  // the gate has its own pool, as its own process would
  gatePools = createTargetPools(stack.config, 8);
  temporal = await devServerClient();
});

afterAll(async () => {
  await temporal?.close();
  await gatePools?.end();
  await stack?.close();
  await smtp?.close();
});

test('R-MW-4..R-MW-10, R-SE-1..R-SE-3: 200 sessions through the gate, announced, refused from start to restore, told to close, acknowledged or forced at 15 s, work after the grace, logins back, notice e-mail', async () => {
  // R-SE-4: the application's key; R-SE-5 login limits out of the way (the prober logs in every 100 ms from one address)
  const { secret } = await issueKey(gatePools.get(TARGET), 'e2e-app');
  const gate = await startGate(
    { ...stack.config, gate: { ...stack.config.gate, metricsPort: 0, loginRatePerAddress: 1_000_000, loginRatePerKey: 1_000_000 } },
    gatePools,
  );
  const client = new GateClient({ baseUrl: gate.address, apiKey: secret });
  const mail = createMailTransport(stack.config);
  const worker = await createTestWorker(stack, temporal.nativeConnection, {
    activities: createActivities({ config: stack.config, pools: stack.pools, mail }),
  });
  const appName = stack.config.appName;

  let sessionsStopped = false;
  let probeStopped = false;
  let handle: MaintenanceHandle | undefined;
  let runs: Promise<void>[] = [];
  let probe: Promise<LoginAttempt[]> = Promise.resolve([]);
  const attempts: LoginAttempt[] = [];
  try {
    await worker.runUntil(async () => {
      // R-SE-1: 200 users log in, even indexes will click OK on the close order
      const traces = await loginAll(client, TARGET, SESSIONS, (i) => i % 2 === 0);
      runs = traces.map((s, i) =>
        runSession(client, s, {
          intervalMs: HEARTBEAT_MS,
          firstDelayMs: (i * HEARTBEAT_MS) / SESSIONS,
          ackDelayMs: (i * 37) % 2000,
          stop: () => sessionsStopped,
        }),
      );
      probe = probeLogins(client, TARGET, PROBE_MS, () => probeStopped, attempts);

      // R-SE-3: the operator sees the open sessions (the prober may hold one for a moment)
      const before = await client.status(TARGET);
      expect(before.state).toBe('open');
      expect(before.openSessions).toBeGreaterThanOrEqual(SESSIONS);
      expect(before.openSessions).toBeLessThanOrEqual(SESSIONS + 1);

      const startMs = Math.ceil((Date.now() + 8000) / 1000) * 1000;
      const endMs = startMs + 120_000;
      handle = await scheduleWindow(
        temporal.client,
        stack.config.temporal.taskQueue,
        windowInputFor({ target: TARGET, startMs, endMs, graceSeconds: GRACE_S, notify: [NOTIFY], timeZone: ZONE }),
      );
      const h = handle;

      // R-MW-8: the work (payload none) begins only after the grace; then the operator says "complete"
      const working = await eventually(() => h.query(maintenanceStatusQuery), (s) => s.phase === 'working' || s.phase === 'failed', 'phase working', 90_000);
      expect(working.phase).toBe('working');
      const final: MaintenanceStatus = await h.executeUpdate(completeMaintenanceUpdate);
      const restoredAt = Date.now();
      // a few logins after the restore, then everyone stops
      await eventually(async () => attempts.filter((a) => a.sentAt > restoredAt).length, (n) => n >= 5, 'logins after the restore', 30_000);
      probeStopped = true;
      sessionsStopped = true;
      await Promise.all([probe, ...runs]);
      const result = await h.result();

      const rows = await sessionRows(stack.pools.get(TARGET));
      const win = await windowRow(stack.pools.get(TARGET));
      const start = new Date(startMs);
      const end = new Date(endMs);
      const announcement = announcementText('database', start, end, appName, 'fr', ZONE);
      const refusal = refusalText('database', end, 'fr', ZONE);

      // --- R-MW-4: before the start, logins proceed with the announcement; heartbeats carry it too
      const announced = attempts.filter((a) => a.status === 201 && a.announcement !== undefined && a.receivedAt < startMs);
      expect(announced.length).toBeGreaterThan(0);
      const firstAnnounced = announced[0]!.sentAt;
      const beforeStart = attempts.filter((a) => a.receivedAt < startMs);
      expect(beforeStart.filter((a) => a.status !== 201)).toEqual([]);
      expect(beforeStart.filter((a) => a.sentAt >= firstAnnounced && a.announcement !== announcement)).toEqual([]);
      for (const s of traces) {
        const early = s.beats.filter((b) => b.receivedAt < startMs);
        expect(early.filter((b) => b.status !== 200 || b.action !== 'continue')).toEqual([]);
        expect({ user: s.user, announced: early.some((b) => b.message === announcement) }).toEqual({ user: s.user, announced: true });
      }

      // --- R-MW-5/R-MW-6: no login accepted between the start and the restore, each refused with the text
      expect(win.state).toBe('completed');
      const restoreRowAt = win.finished_at!.getTime();
      const during = attempts.filter((a) => a.sentAt >= startMs && a.receivedAt <= restoreRowAt);
      expect(during.length).toBeGreaterThan(20);
      expect(during.filter((a) => a.status !== 423 || a.message !== refusal)).toEqual([]);
      expect(attempts.filter((a) => a.error !== undefined)).toEqual([]);

      // --- R-MW-7: every session is told to close, within 15 s of the order, from the start on
      const order = closeOrderText('fr', appName);
      const bad = (s: SessionTrace, why: string) => `${s.user}: ${why}`;
      const problems: string[] = [];
      for (const s of traces) {
        const row = rows.get(s.sessionId)!;
        if (!s.order) {
          problems.push(bad(s, 'never told to close'));
          continue;
        }
        if (s.order.message !== order) problems.push(bad(s, `order text ${s.order.message}`));
        if (!row.close_by || !row.close_requested_at) {
          problems.push(bad(s, 'no order in the database'));
          continue;
        }
        const closeBy = row.close_by.getTime();
        if (s.order.closeBy !== row.close_by.toISOString()) problems.push(bad(s, `closeBy ${s.order.closeBy} ≠ ${row.close_by.toISOString()}`));
        // R-MW-7: "15 s after it was told": from the heartbeat answer that carried the order (drill G), not from the order
        if (!row.close_told_at || Math.abs(closeBy - row.close_told_at.getTime() - 15_000) > 1) problems.push(bad(s, 'closeBy is not 15 s after it was told'));
        if (row.close_requested_at.getTime() < startMs || row.close_requested_at.getTime() > startMs + 10_000) {
          problems.push(bad(s, `ordered at ${row.close_requested_at.toISOString()}, start ${start.toISOString()}`));
        }
        const margin = closeBy - s.order.receivedAt;
        // every session gets its 15 s, less the answer's way back (before drill G: 15 s less its heartbeat's delay)
        if (margin > 15_001 || margin < 12_000) problems.push(bad(s, `saw the order ${margin} ms before its closeBy`));
        if (s.beats.some((b) => b.status !== 200 && b.status !== 404)) problems.push(bad(s, `heartbeat answers ${s.beats.map((b) => b.status).join(',')}`));
        if (s.beats.some((b) => b.receivedAt > s.order!.receivedAt && b.action === 'continue')) problems.push(bad(s, 'told to continue after the order'));

        if (s.acknowledges) {
          // OK clicked: closed cleanly, before the deadline
          if (s.logout?.status !== 200 || s.logout.reason !== 'acknowledged') problems.push(bad(s, `logout ${JSON.stringify(s.logout)}`));
          if (row.close_reason !== 'acknowledged' || !row.closed_at || row.closed_at.getTime() > closeBy) {
            problems.push(bad(s, `closed ${row.close_reason} at ${row.closed_at?.toISOString()}`));
          }
        } else {
          // ignored: closed by force no earlier than closeBy and soon after it; the gate then answers 404
          const closedAt = row.closed_at?.getTime() ?? NaN;
          if (row.close_reason !== 'forced' || !(closedAt >= closeBy && closedAt <= closeBy + 10_000)) {
            problems.push(bad(s, `closed ${row.close_reason} at ${row.closed_at?.toISOString()}, closeBy ${row.close_by.toISOString()}`));
          }
          if (s.goneAt === undefined || s.goneAt < Math.floor(closedAt)) problems.push(bad(s, `404 at ${s.goneAt}`));
          if (s.beats.some((b) => b.status === 404 && b.receivedAt < closeBy)) problems.push(bad(s, '404 before its closeBy'));
        }
      }
      expect(problems).toEqual([]);
      const forcedUsers = [...rows.values()].filter((r) => r.close_reason === 'forced').map((r) => r.user_name).sort();
      expect(forcedUsers).toEqual(traces.filter((s) => !s.acknowledges).map((s) => s.user).sort());
      expect(working.forcedSessions).toBe(SESSIONS / 2);
      // R-MW-11/R-SE-3: the operator's view at the work: nobody left
      expect(working.openSessions).toBe(0);
      expect(working.sessionsToClose).toBe(0);

      // a forced session stays closed after the restore
      const ignored = traces.find((s) => !s.acknowledges)!;
      await expect(client.heartbeat(ignored)).rejects.toMatchObject({ status: 404 });

      // --- R-MW-8: the window closed at the start and the work began no earlier than start + grace
      const at = (phase: string) => Date.parse(final.phases.find((p) => p.phase === phase)?.at ?? 'NaN');
      expect(at('closing_sessions')).toBeGreaterThanOrEqual(startMs);
      expect(at('working')).toBeGreaterThanOrEqual(startMs + GRACE_S * 1000);

      // --- R-MW-10: access back, logins accepted again without a notice, the e-mail sent
      expect(final.state).toBe('completed');
      expect(result.status.phase).toBe('completed');
      const after = attempts.filter((a) => a.sentAt > restoredAt);
      expect(after.length).toBeGreaterThanOrEqual(5);
      expect(after.filter((a) => a.status !== 201 || a.announcement !== undefined)).toEqual([]);
      const status = await client.status(TARGET);
      expect(status).toMatchObject({ state: 'open', openSessions: 0 });
      expect(result.mailSent).toBe(true);
      const mails = await eventually(async () => smtp.messages.filter((m) => m.to.includes(NOTIFY)), (m) => m.length === 1, 'the notice e-mail');
      expect(subjectOf(mails[0]!.raw)).toContain('Maintenance terminée');
    });
  } finally {
    probeStopped = true;
    sessionsStopped = true;
    await Promise.allSettled([probe, ...runs]);
    if (handle) {
      const d = await handle.describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') await handle.terminate('test over').catch(() => {});
    }
    client.close();
    mail.close();
    await gate.close();
  }
});

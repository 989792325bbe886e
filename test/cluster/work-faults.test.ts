import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import type { PatchRunResult } from '../../workflows/patch-integration.api';
import { scheduleWindow, windowInputFor } from '../e2e/window';
import { blockablePatches, closeWindows, demoDossiers, markAllBackedUp, openWindow, startRun } from '../workflows/patch-helpers';
import { describeCluster, heartbeat, login, report, sleep, stallOf, until, useCluster, workersHolding, type ClusterContext } from './helpers';

/**
 * A patch run and a maintenance window on the production-like cluster (issue 10), with the faults that
 * hit them: a worker SIGKILLed mid-patch and mid-drain, PostgreSQL restarted mid-patch and down during a
 * window's drain (the gate, through HAProxy, fails closed for logins inside the window and answers 503
 * outside one while the database is down, and recovers by itself). Every patch is applied exactly once
 * per dossier (each application logs a row in the dossier's applylog).
 */

const DOSSIERS = 30;
/** per patch and dossier, so that a fault lands mid-run */
const PATCH_SLEEP = 'SELECT pg_sleep(0.15);\n';

/**
 * After PostgreSQL comes back, Temporal's frontend answers "namespace not found" until its namespace
 * cache refreshes: a client retries, as the workers' pollers do. Returns how long that lasted (s).
 */
async function untilTemporalServes(c: ClusterContext): Promise<number> {
  const t0 = Date.now();
  await until('Temporal to know the namespace again', async () => {
    try {
      await c.client.workflowService.describeNamespace({ namespace: c.cluster.config.temporal.namespace });
      await c.client.workflow.count();
      return true;
    } catch {
      return false;
    }
  }, 120_000, 500);
  return Math.round((Date.now() - t0) / 100) / 10;
}

describeCluster('patch runs and maintenance windows on the cluster, under faults', () => {
  const ctx = useCluster();
  let codes: string[] = [];
  let patchDir = '';
  let nextPatch = 1;

  beforeAll(async () => {
    const pool = ctx.stack.pools.get('main');
    codes = await demoDossiers(ctx.stack, DOSSIERS);
    await markAllBackedUp(pool);
    // under the shared backup folder: every worker host sees it (shared-store/marker.ts)
    patchDir = path.join(ctx.cluster.config.backupDir, 'patches', 'cluster');
    fs.mkdirSync(patchDir, { recursive: true });
  }, 120_000);

  /** Patches n..n+count-1 added to the package folder (the earlier ones stay: already applied, skipped). */
  async function nextPatches(count: number): Promise<number[]> {
    const numbers = Array.from({ length: count }, (_, i) => nextPatch + i);
    nextPatch += count;
    await blockablePatches(patchDir, numbers, () => PATCH_SLEEP);
    return numbers;
  }

  /** applylog rows of these patches, per dossier: one row per (dossier, patch) when each was applied once. */
  async function applications(pool: pg.Pool, numbers: number[]): Promise<{ code: string; n: number; count: number; last: number }[]> {
    const out: { code: string; n: number; count: number; last: number }[] = [];
    for (const code of codes) {
      const table = qualified(schemaNameFor(code), 'applylog');
      const exists = (await pool.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table])).rows[0]!.ok;
      if (!exists) continue;
      const { rows } = await pool.query<{ n: number; count: number; last: Date }>(
        `SELECT n, count(*)::int AS count, max(at) AS last FROM ${table} WHERE n = ANY($1::int[]) GROUP BY n`,
        [numbers],
      );
      for (const r of rows) out.push({ code, n: r.n, count: r.count, last: r.last.getTime() });
    }
    return out;
  }

  async function runPatchUnderFault(fault: string, inject: (c: ClusterContext, workflowId: string) => Promise<void>): Promise<void> {
    const pool = ctx.stack.pools.get('main');
    const numbers = await nextPatches(2);
    await openWindow(pool);
    try {
      const startedAt = Date.now();
      const handle = await startRun(ctx.client, ctx.stack, { mode: 'integrate', dir: patchDir });
      let ended: unknown;
      void handle.result().then((r) => (ended = r), (e: unknown) => (ended = e));
      await until('a few dossiers patched', async () => {
        if (ended !== undefined) throw new Error(`the patch run ended before the fault: ${ended instanceof Error ? ended.message : JSON.stringify(ended).slice(0, 600)}`);
        return (await applications(pool, numbers)).length >= 8;
      }, 120_000);
      const faultAt = Date.now();
      await inject(ctx, handle.workflowId);
      const r = (await handle.result()) as PatchRunResult;
      expect(r).toMatchObject({ state: 'completed', failed: 0 });
      expect(r.done).toBe(r.total);
      const apps = await applications(pool, numbers);
      // exactly one application per dossier and patch, and every dossier that reached the patches has both
      expect(apps.filter((a) => a.count !== 1)).toEqual([]);
      const byCode = new Map<string, number>();
      for (const a of apps) byCode.set(a.code, (byCode.get(a.code) ?? 0) + 1);
      expect([...byCode.values()].filter((k) => k !== numbers.length)).toEqual([]);
      expect(byCode.size).toBeGreaterThanOrEqual(DOSSIERS - 2);
      // the ledger: one row per dossier and patch
      for (const code of byCode.keys()) {
        const { rows } = await pool.query<{ number: number; n: number }>(
          `SELECT number, count(*)::int AS n FROM ${qualified(schemaNameFor(code), 'apatch')} WHERE number = ANY($1::int[]) GROUP BY number`,
          [numbers],
        );
        expect({ code, rows: rows.map((x) => [x.number, x.n]).sort() }).toEqual({ code, rows: numbers.map((n) => [n, 1]) });
      }
      const figures = stallOf(apps.map((a) => a.last).sort((a, b) => a - b), startedAt, faultAt);
      report(fault, { dossiers: byCode.size, stall_s: figures.stallS, next_done_s: figures.nextDoneS, total_s: figures.totalS });
    } finally {
      await closeWindows(pool);
    }
  }

  test('R-PI-8 a patch run on the cluster under no fault: every dossier patched once', async () => {
    await runPatchUnderFault('none (patch baseline)', async () => {});
  }, 240_000);

  test('R-PI-8 SIGKILL of the worker holding the patch work mid-run, restarted: each patch applied once per dossier', async () => {
    await runPatchUnderFault('SIGKILL worker mid-patch', async (c, workflowId) => {
      const holders = await workersHolding(c, workflowId);
      const victim = holders[0] ?? c.cluster.workers[0]!;
      await c.cluster.proc(victim).kill();
      await c.cluster.proc(victim).start();
    });
  }, 300_000);

  test('R-PI-8 PostgreSQL restarted mid-patch: each patch applied once per dossier', async () => {
    await runPatchUnderFault('PostgreSQL restarted mid-patch', async (c) => {
      await c.cluster.postgres.restart();
    });
  }, 300_000);

  /** A window starting in `inS` seconds with `graceS` of drain, sessions logged in through HAProxy (both gates). */
  /** A window `lengthS` long (40 s: the 20-s drain grace, the fault's recovery, and the work phase before the end). */
  async function windowWithSessions(inS: number, graceS: number, lengthS: number) {
    const pool = ctx.stack.pools.get('main');
    await pool.query(`DELETE FROM nightshift.maintenance_window WHERE state <> 'in_progress'`);
    const sessions: { id: string; token: string; gate?: string }[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await login(ctx.cluster, `user${i}`);
      expect(r.status).toBe(201);
      sessions.push({ id: String(r.body.sessionId), token: String(r.body.token), gate: r.gate });
    }
    // HAProxy spreads the logins over both gates
    expect(new Set(sessions.map((s) => s.gate))).toEqual(new Set(ctx.cluster.gates));
    const startMs = Math.ceil((Date.now() + inS * 1000) / 1000) * 1000;
    const endMs = startMs + lengthS * 1000;
    const handle = await scheduleWindow(
      ctx.client,
      ctx.cluster.config.temporal.taskQueue,
      windowInputFor({ target: 'main', startMs, endMs, graceSeconds: graceS, timeZone: 'Europe/Paris' }),
    );
    let stopBeats = false;
    const beats = sessions.map(async (s) => {
      while (!stopBeats) {
        const r = await heartbeat(ctx.cluster, s.id, s.token);
        if (r.status === 404) return;
        await sleep(1000);
      }
    });
    const phases = new Map<string, number>();
    let stopWatch = false;
    const watch = (async () => {
      while (!stopWatch) {
        const { rows } = await pool.query<{ phase: string }>('SELECT phase FROM nightshift.maintenance_window WHERE workflow_id = $1', [handle.workflowId]).catch(() => ({ rows: [] as { phase: string }[] }));
        if (rows[0] && !phases.has(rows[0].phase)) phases.set(rows[0].phase, Date.now());
        await sleep(200);
      }
    })();
    return {
      handle,
      startMs,
      endMs,
      phases,
      async finish() {
        const result = await handle.result();
        stopBeats = true;
        stopWatch = true;
        await Promise.all([...beats, watch]);
        return result;
      },
    };
  }

  test('R-MW-7 a window drained through both gates while the worker holding it is SIGKILLed and restarted', async () => {
    const graceS = 20;
    const w = await windowWithSessions(8, graceS, 40);
    await until('the drain', () => w.phases.has('closing_sessions'), 60_000);
    const holders = await workersHolding(ctx, w.handle.workflowId);
    const victim = holders[0] ?? ctx.cluster.workers[0]!;
    await sleep(3000);
    await ctx.cluster.proc(victim).kill();
    await ctx.cluster.proc(victim).start();
    // inside the window: logins refused (423) by whichever gate answers
    await until('working', () => w.phases.has('working'), 120_000);
    const inside = await login(ctx.cluster, 'late-user');
    expect(inside.status).toBe(423);
    const result = await w.finish();
    expect(result.status.phase).toBe('completed');
    const after = await login(ctx.cluster, 'after-user');
    expect(after.status).toBe(201);
    const lateWorking = (w.phases.get('working')! - (w.startMs + graceS * 1000)) / 1000;
    const lateEnd = ((w.phases.get('completed') ?? Date.now()) - w.endMs) / 1000;
    report(`SIGKILL ${victim} mid-drain`, { working_late_s: lateWorking.toFixed(1), completed_late_s: lateEnd.toFixed(1) });
    expect(lateWorking).toBeGreaterThanOrEqual(-1);
  }, 300_000);

  test('R-MW-7 PostgreSQL down during a window\'s drain: the gate fails closed inside the window, 503 outside, and recovers by itself', async () => {
    // outside any window, the database down: 503 from the gates (through HAProxy), then recovery
    await ctx.cluster.postgres.stop();
    try {
      const outside = await login(ctx.cluster, 'no-db-user');
      expect(outside.status).toBe(503);
    } finally {
      await ctx.cluster.postgres.start();
    }
    await until('the gate answers again', async () => (await login(ctx.cluster, 'back-user')).status === 201, 60_000);
    const namespaceLostS = await untilTemporalServes(ctx);

    const graceS = 20;
    const w = await windowWithSessions(8, graceS, 40);
    await until('the drain', () => w.phases.has('closing_sessions'), 60_000);
    const downAt = Date.now();
    await ctx.cluster.postgres.stop();
    const during: number[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        during.push((await login(ctx.cluster, `drain-user${i}`)).status);
        await sleep(2000);
      }
    } finally {
      await ctx.cluster.postgres.start();
    }
    const downS = (Date.now() - downAt) / 1000;
    // fail closed: no login accepted while the database is down inside the window
    expect(during.filter((s) => s === 201)).toEqual([]);
    expect(during.filter((s) => s !== 503 && s !== 423)).toEqual([]);
    await until('working', () => w.phases.has('working'), 180_000);
    expect((await login(ctx.cluster, 'inside-user')).status).toBe(423);
    const result = await w.finish();
    expect(result.status.phase).toBe('completed');
    expect((await login(ctx.cluster, 'after-user2')).status).toBe(201);
    const lateWorking = (w.phases.get('working')! - (w.startMs + graceS * 1000)) / 1000;
    const lateEnd = ((w.phases.get('completed') ?? Date.now()) - w.endMs) / 1000;
    report('PostgreSQL down during the drain', { namespace_unknown_after_restart_s: namespaceLostS, down_s: downS.toFixed(1), logins_during: during.join('/'), working_late_s: lateWorking.toFixed(1), completed_late_s: lateEnd.toFixed(1) });
  }, 360_000);
});

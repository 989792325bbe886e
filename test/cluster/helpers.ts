import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { verifyArchive } from '../../archive/engine';
import { loadBackupKeyring } from '../../archive/keys';
import { PROJECT_ROOT } from '../../config/config';
import { startCluster, type Cluster, type ClusterOptions } from '../../cluster/cluster';
import { haproxyBinary } from '../../cluster/haproxy';
import { temporalBinaries } from '../../cluster/temporal-server';
import { createTargetPools } from '../../workers/resources';
import type { BackupBatchInput, BackupBatchResult } from '../../workflows/backup-batch.api';
import { requireEnv, tempDir, type TestStack } from '../helpers/env';
import { createDossiers, modify } from '../workflows/backup-batch-helpers';
import { startBackupBatch } from '../../starts';

/**
 * The cluster suite's scenarios: a cluster per test file (cluster/cluster.ts, every process real), work
 * started through its Temporal frontend and gates, faults injected into its processes, and the checks
 * every scenario ends with (R-BK-1: each dossier once, one verified archive each, no temporary file).
 */

/** Why the suite cannot run here (no Temporal server build, no HAProxy), or undefined. */
export function clusterUnavailable(): string | undefined {
  try {
    temporalBinaries();
  } catch (err) {
    return (err as Error).message;
  }
  if (!haproxyBinary()) return 'haproxy is not installed (apt-get install haproxy, as root)';
  return undefined;
}

export const describeCluster = (name: string, fn: () => void): void => {
  const why = clusterUnavailable();
  if (why) {
    console.warn(`cluster suite skipped: ${why}`);
    describe.skip(name, fn);
  } else describe(name, fn);
};

/** Every process whose command line or environment names `dir` (what a stopped cluster must not leave). */
export function processesUsing(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let environ = '';
      try {
        environ = fs.readFileSync(`/proc/${entry}/environ`, 'utf8');
      } catch {
        /* not readable */
      }
      if (cmd.includes(dir) || environ.includes(`NIGHTSHIFT_DATA_DIR=${dir}\0`)) found.push({ pid: Number(entry), cmd: cmd.slice(0, 200) });
    } catch {
      /* gone */
    }
  }
  return found;
}

/** The slowed worker of test/workflows/fixtures: the real runWorker, the suite's pre-built bundle, each dossier of a batch slowed so a fault lands mid-batch. */
export function slowWorker(delayMs: number): ClusterOptions['workerCommand'] {
  return () => ({
    command: process.execPath,
    args: [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/workflows/fixtures/backup-batch-worker.ts'],
    env: { NS_TEST_DOSSIER_DELAY_MS: String(delayMs), NS_TEST_WORKFLOW_BUNDLE: requireEnv('NS_TEST_WORKFLOW_BUNDLE'), NIGHTSHIFT_LOG_LEVEL: 'info' },
  });
}

export interface ClusterContext {
  cluster: Cluster;
  stack: TestStack;
  client: Client;
  connection: Connection;
}

/**
 * One cluster for a test file: started before its tests, stopped after them, and checked to leave no
 * process behind. The stack is what the shared workflow helpers expect (config + pools of the target).
 */
export function useCluster(options: Omit<ClusterOptions, 'dataDir'> = {}): ClusterContext {
  const ctx = {} as ClusterContext;
  let dataDir = '';
  beforeAll(async () => {
    dataDir = tempDir('cluster');
    fs.chmodSync(dataDir, 0o755);
    const t0 = Date.now();
    ctx.cluster = await startCluster({ ...options, dataDir, env: { NIGHTSHIFT_LOG_LEVEL: 'info', ...options.env } });
    console.log(`cluster started in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${ctx.cluster.processes().map((p) => `${p.name}=${p.pid}`).join(' ')}`);
    const pools = createTargetPools(ctx.cluster.config, 6);
    ctx.stack = {
      config: ctx.cluster.config,
      pools,
      dataDir,
      databaseUrl: ctx.cluster.config.targets[0]!.databaseUrl,
      close: () => pools.end(),
    };
    ctx.connection = await Connection.connect({ address: ctx.cluster.temporalAddress });
    ctx.client = new Client({ connection: ctx.connection, namespace: ctx.cluster.config.temporal.namespace });
  }, 300_000);
  afterAll(async () => {
    await ctx.connection?.close().catch(() => {});
    await ctx.stack?.close().catch(() => {});
    await ctx.cluster?.stop();
    if (dataDir) expect(processesUsing(dataDir)).toEqual([]);
  }, 180_000);
  return ctx;
}

// ---------------------------------------------------------------- backup batches

export async function backupDossiers(stack: TestStack, prefix: string, n: number): Promise<string[]> {
  const codes = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
  await createDossiers(stack, codes.map((code) => ({ code })));
  return codes;
}

export interface RunningBatch {
  workflowId: string;
  startedAt: number;
  result(): Promise<BackupBatchResult>;
}

/** Starts a batch on the cluster; every dossier is modified first, so the batch takes all of them (R-BK-2 modified-only). */
export async function startBatch(ctx: ClusterContext, codes: string[], tuning: BackupBatchInput['tuning'] = { chunkSize: 6, window: 2, concurrency: 2 }): Promise<RunningBatch> {
  const pool = ctx.stack.pools.get('main');
  for (const c of codes) await modify(pool, c);
  const workflowId = `backup/main/cluster-${crypto.randomUUID()}`;
  const startedAt = Date.now();
  const handle = await startBackupBatch(ctx.client, { target: 'main', tuning } satisfies BackupBatchInput, { taskQueue: ctx.cluster.config.temporal.taskQueue, workflowId });
  return { workflowId, startedAt, result: () => handle.result() as Promise<BackupBatchResult> };
}

/** Ledger rows of the batch's run (once the run is claimed). */
export async function batchItems(ctx: ClusterContext, workflowId: string): Promise<{ code: string; status: string; finished: number }[]> {
  const { rows } = await ctx.stack.pools.get('main').query<{ code: string; status: string; finished: Date }>(
    `SELECT i.code, i.status, i.finished_at AS finished FROM nightshift.backup_run_item i JOIN nightshift.backup_run r ON r.id = i.run_id
      WHERE r.workflow_id = $1 ORDER BY i.seq`,
    [workflowId],
  );
  return rows.map((r) => ({ code: r.code, status: r.status, finished: r.finished.getTime() }));
}

export async function untilBatchDone(ctx: ClusterContext, batch: RunningBatch, k: number, timeoutMs = 120_000): Promise<void> {
  await until(`${k} dossiers of ${batch.workflowId} done`, async () => (await batchItems(ctx, batch.workflowId).catch(() => [])).length >= k, timeoutMs);
}

/**
 * R-BK-1 after a fault: the batch completed without a manual step, each dossier reported once, each
 * with exactly one archive that verifies and was written by this batch, no temporary file anywhere in
 * the backup folder. Returns what the fault cost (stallOf).
 */
export async function expectBatchComplete(ctx: ClusterContext, batch: RunningBatch, codes: string[], faultAt?: number): Promise<{ stallS: number; nextDoneS: number; totalS: number }> {
  const result = await batch.result();
  expect(result).toMatchObject({ state: 'completed', total: codes.length, ok: codes.length, failed: 0 });
  const items = await batchItems(ctx, batch.workflowId);
  expect(items.map((i) => i.code).sort()).toEqual([...codes].sort());
  expect(items.filter((i) => i.status !== 'ok')).toEqual([]);
  const dir = ctx.cluster.config.backupDir;
  // a worker that was frozen (SIGSTOP) resumes in the middle of dossiers another worker has since done: its stale
  // attempt learns it was cancelled only once its connection to Temporal is back and a heartbeat is answered (on a
  // loaded machine, tens of seconds), then removes its temporary file; give it that time
  const temporary = () => listFiles(dir).filter((f) => /\.tmp$|\.partial$/.test(f));
  for (const until = Date.now() + 90_000; temporary().length && Date.now() < until; ) await sleep(500);
  expect(temporary()).toEqual([]);
  const all = listFiles(dir);
  for (const code of codes) {
    const archives = all.filter((f) => path.basename(f) === `B${code}.SVG`);
    expect({ code, archives: archives.length }).toEqual({ code, archives: 1 });
    expect(fs.statSync(archives[0]!).mtimeMs).toBeGreaterThanOrEqual(batch.startedAt - 1000);
    expect((await verifyArchive(archives[0]!, loadBackupKeyring(ctx.cluster.config.backupKeys))).code).toBe(code);
  }
  const report = fs.readFileSync(result.reportPath!, 'latin1').split('\r\n');
  for (const code of codes) expect({ code, lines: report.filter((l) => l.startsWith('Dossier ') && l.includes(code)).length }).toEqual({ code, lines: 1 });
  const finished = items.map((i) => i.finished).sort((a, b) => a - b);
  return stallOf(finished, batch.startedAt, faultAt);
}

/** stallS: the longest time without a dossier done; nextDoneS: from the fault to the next dossier done (by any worker). */
export function stallOf(finished: number[], startedAt: number, faultAt?: number): { stallS: number; nextDoneS: number; totalS: number } {
  let maxGap = 0;
  for (let i = 1; i < finished.length; i++) maxGap = Math.max(maxGap, finished[i]! - finished[i - 1]!);
  const after = faultAt === undefined ? undefined : finished.find((t) => t > faultAt);
  return {
    stallS: round(maxGap / 1000),
    nextDoneS: after === undefined || faultAt === undefined ? 0 : round((after - faultAt) / 1000),
    totalS: round(((finished[finished.length - 1] ?? startedAt) - startedAt) / 1000),
  };
}

const round = (s: number) => Math.round(s * 10) / 10;

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

// ---------------------------------------------------------------- which worker holds the work

/** Workers (by cluster process name) that have an activity of this workflow or its children in flight. */
export async function workersHolding(ctx: ClusterContext, workflowId: string): Promise<string[]> {
  const pids = new Map(ctx.cluster.workers.map((w) => [ctx.cluster.proc(w).pid, w]));
  const holders = new Set<string>();
  const ids = [workflowId];
  for await (const wf of ctx.client.workflow.list({ query: `ExecutionStatus = "Running"` })) {
    if (wf.workflowId.startsWith(`${workflowId}/`)) ids.push(wf.workflowId);
  }
  for (const id of ids) {
    try {
      const d = await ctx.client.workflow.getHandle(id).describe();
      for (const a of d.raw.pendingActivities ?? []) {
        const pid = Number((a.lastWorkerIdentity ?? '').split('@')[0]);
        const name = pids.get(pid);
        if (name) holders.add(name);
      }
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }
  return [...holders];
}

// ---------------------------------------------------------------- gate

export interface GateAnswer {
  status: number;
  body: Record<string, unknown>;
  /** which gate answered (HAProxy's X-Nightshift-Gate header) */
  gate?: string;
}

export async function gateCall(cluster: Cluster, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, token?: string): Promise<GateAnswer> {
  const headers: Record<string, string> = { [cluster.apiKeyHeader]: cluster.apiKey };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const r = await fetch(`${cluster.gateUrl}${url}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    const text = await r.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: r.status, body: parsed, gate: r.headers.get('x-nightshift-gate') ?? undefined };
  } catch (err) {
    return { status: 0, body: { error: String(err) } };
  }
}

export const login = (cluster: Cluster, user: string) => gateCall(cluster, 'POST', '/v1/targets/main/sessions', { user, client: 'cluster-test' });
export const heartbeat = (cluster: Cluster, id: string, token: string) => gateCall(cluster, 'POST', `/v1/sessions/${id}/heartbeat`, {}, token);

// ---------------------------------------------------------------- waiting

export async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 60_000, everyMs = 200): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One line per fault, greppable in the CI log: what was done and what it cost. */
export function report(fault: string, figures: Record<string, number | string>): void {
  console.log(`[cluster fault] ${fault}: ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

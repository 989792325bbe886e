import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ROOT, cleanEnv, freePorts } from './helpers';
import { requireEnv } from '../helpers/env';

/** A Node process the stack tests start (`nightshift dev`, a probe): its output as it comes, and its end. */
export interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr as they came, interleaved */
  out(): string;
  /** resolves once `text` is in the output; fails after `ms`, or if the process ends without it */
  waitFor(text: string, ms: number): Promise<void>;
  /** the exit code, once its output is closed */
  exited: Promise<number | null>;
}

/** `node …args`; with `detached`, in a process group of its own, as a terminal runs it (see ctrlC). */
export function startProcess(args: string[], env: NodeJS.ProcessEnv, o: { cwd?: string; detached?: boolean } = {}): Proc {
  const child = spawn(process.execPath, args, { cwd: o.cwd ?? ROOT, env, detached: o.detached ?? false });
  let stdout = '';
  let stderr = '';
  let out = '';
  const waiters: (() => void)[] = [];
  const take = (to: 'stdout' | 'stderr') => (d: Buffer) => {
    const s = d.toString();
    if (to === 'stdout') stdout += s;
    else stderr += s;
    out += s;
    waiters.forEach((w) => w());
  };
  child.stdout.on('data', take('stdout'));
  child.stderr.on('data', take('stderr'));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    out: () => out,
    exited,
    waitFor: (text, ms) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms; output:\n${out}`)), ms);
        const check = () => {
          if (out.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        waiters.push(check);
        void exited.then((code) => {
          clearTimeout(timer);
          if (!out.includes(text)) reject(new Error(`exited (${code}) before "${text}"; output:\n${out}`));
        });
        check();
      }),
  };
}

/** `nightshift dev` of this checkout (or `cwd`'s). */
export function startDev(env: NodeJS.ProcessEnv, o: { cwd?: string; detached?: boolean } = {}): Proc {
  return startProcess([path.join(o.cwd ?? ROOT, 'bin', 'nightshift.js'), 'dev'], env, o);
}

async function stopped(p: Proc): Promise<number | null> {
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGINT to the process alone; its exit code (SIGKILL after 60 s). */
export async function interrupt(p: Proc): Promise<number | null> {
  p.child.kill('SIGINT');
  return stopped(p);
}

/** Ctrl-C as a terminal sends it: SIGINT to the process group of a `detached` process. */
export async function ctrlC(p: Proc): Promise<number | null> {
  process.kill(-p.child.pid!, 'SIGINT');
  return stopped(p);
}

/** Pids of the processes whose command line mentions `needle` (a test's data dir): what a stopped stack must not leave. */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** The environment of a dev stack of its own: free ports for every server, 2 worker slots, the test's Temporal binaries. */
export async function devEnv(o: { dataDir?: string; extra?: Record<string, string> } = {}): Promise<{
  env: NodeJS.ProcessEnv;
  ports: number[];
  port: { pg: number; temporal: number; ui: number; metrics: number; smtp: number; gate: number };
}> {
  const ports = await freePorts(6);
  const [pg, temporal, ui, metrics, smtp, gate] = ports as [number, number, number, number, number, number];
  const env = cleanEnv({
    ...(o.dataDir ? { NIGHTSHIFT_DATA_DIR: o.dataDir } : {}),
    NIGHTSHIFT_PG_PORT: String(pg),
    NIGHTSHIFT_TEMPORAL_PORT: String(temporal),
    NIGHTSHIFT_UI_PORT: String(ui),
    NIGHTSHIFT_METRICS_PORT: String(metrics),
    NIGHTSHIFT_SMTP_PORT: String(smtp),
    NIGHTSHIFT_GATE_PORT: String(gate),
    NIGHTSHIFT_WORKER_CONCURRENCY: '2',
    TEMPORAL_CLI: requireEnv('NS_TEST_TEMPORAL_CLI'),
    TEMPORAL_TEST_SERVER: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER'),
    ...o.extra,
  });
  return { env, ports, port: { pg, temporal, ui, metrics, smtp, gate } };
}

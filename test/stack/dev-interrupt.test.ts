import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireEnv, tempDir } from '../helpers/env';
import { ROOT, cleanEnv, freePorts, portFree } from './helpers';

/**
 * Ctrl-C while `nightshift dev` starts reaches the whole process group: initdb, the workflow bundler and PostgreSQL
 * die of it. What dev says then is that the operator interrupted it, in one line, exit 0 as any Ctrl-C: not the
 * dead child's error (a bundler's inline script, initdb's permission advice).
 */

const READY_LINE = 'Nightshift dev stack ready';
/** what cli/commands/stack.ts prints on the first stop signal */
const ACK = 'SIGINT: stopping gracefully (again to force)';

interface Dev {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  waitFor(text: string, ms: number): Promise<void>;
  exited: Promise<number | null>;
}

/** dev in its own process group, as a terminal runs it, so that the test's Ctrl-C reaches its children too. */
function startDev(env: NodeJS.ProcessEnv): Dev {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'nightshift.js'), 'dev'], { cwd: ROOT, env, detached: true });
  let stdout = '';
  let stderr = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    waiters.forEach((w) => w());
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: (text, ms) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms; output:\n${stdout}\n${stderr}`)), ms);
        const check = () => {
          if (stdout.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        waiters.push(check);
        void exited.then((code) => {
          clearTimeout(timer);
          if (!stdout.includes(text)) reject(new Error(`exited (${code}) before "${text}"; output:\n${stdout}\n${stderr}`));
        });
        check();
      }),
  };
}

/** Ctrl-C as a terminal sends it: to the process group. */
async function ctrlC(dev: Dev): Promise<number | null> {
  process.kill(-dev.child.pid!, 'SIGINT');
  const timer = setTimeout(() => dev.child.kill('SIGKILL'), 60_000);
  try {
    return await dev.exited;
  } finally {
    clearTimeout(timer);
  }
}

async function devEnv(): Promise<{ env: NodeJS.ProcessEnv; ports: number[]; dataDir: string }> {
  const dataDir = tempDir('dev-interrupt');
  const ports = await freePorts(6);
  const [pg, temporal, ui, metrics, smtp, gate] = ports.map(String);
  const env = cleanEnv({
    NIGHTSHIFT_DATA_DIR: dataDir,
    NIGHTSHIFT_PG_PORT: pg!,
    NIGHTSHIFT_TEMPORAL_PORT: temporal!,
    NIGHTSHIFT_UI_PORT: ui!,
    NIGHTSHIFT_METRICS_PORT: metrics!,
    NIGHTSHIFT_SMTP_PORT: smtp!,
    NIGHTSHIFT_GATE_PORT: gate!,
    NIGHTSHIFT_WORKER_CONCURRENCY: '2',
    TEMPORAL_CLI: requireEnv('NS_TEST_TEMPORAL_CLI'),
    TEMPORAL_TEST_SERVER: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER'),
  });
  return { env, ports, dataDir };
}

/** Pids of the processes whose command line mentions `needle` (this test's data dir). */
function processesMentioning(needle: string): number[] {
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

const running: Dev[] = [];
afterAll(() => {
  for (const d of running) if (d.child.exitCode === null) process.kill(-d.child.pid!, 'SIGKILL');
});

async function expectStoppedClean(dev: Dev, dataDir: string, ports: number[]): Promise<void> {
  expect(processesMentioning(dataDir)).toEqual([]);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
  expect(fs.existsSync(path.join(dataDir, 'dev.lock'))).toBe(false);
  expect(`${dev.stdout()}${dev.stderr()}`).not.toMatch(/^\s+at |Command failed|process\.argv/m);
}

test('Ctrl-C while the worker bundles the workflows: one line saying the start was interrupted, exit 0, every child stopped', async () => {
  const { env, ports, dataDir } = await devEnv();
  const dev = startDev(env);
  running.push(dev);
  await dev.waitFor('starting the worker', 180_000);
  await sleep(1000); // the bundler child is running by now (it takes several seconds)
  const code = await ctrlC(dev);

  expect(dev.stdout()).not.toContain(READY_LINE);
  expect(code).toBe(0);
  const lines = dev.stderr().split('\n').filter((l) => l.trim());
  expect(lines).toEqual([
    ACK,
    `nightshift: start interrupted (SIGINT): stopped gate, SMTP catcher, Temporal dev server, PostgreSQL; state kept in ${dataDir}`,
  ]);
  expect(dev.stdout()).toContain('start interrupted, stopping: gate, SMTP catcher, Temporal dev server, PostgreSQL');
  await expectStoppedClean(dev, dataDir, ports);
}, 300_000);

test('Ctrl-C during initdb: one line saying the start was interrupted, no permission advice, exit 0; the next start initialises again', async () => {
  const { env, ports, dataDir } = await devEnv();
  const dev = startDev(env);
  running.push(dev);
  await dev.waitFor('initialising PostgreSQL', 60_000);
  await sleep(300);
  const code = await ctrlC(dev);

  expect(code).toBe(0);
  const lines = dev.stderr().split('\n').filter((l) => l.trim());
  expect(lines).toHaveLength(2);
  expect(lines[0]).toBe(ACK);
  expect(lines[1]).toMatch(new RegExp(`^nightshift: start interrupted \\(SIGINT\\): (stopped [A-Za-z ,]+|nothing was running yet); state kept in ${dataDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
  expect(dev.stderr()).not.toMatch(/permission|chmod|non-root/);
  await expectStoppedClean(dev, dataDir, ports);

  // no half-made cluster stands in the way of the next start
  const again = startDev(env);
  running.push(again);
  await again.waitFor(READY_LINE, 240_000);
  // PostgreSQL and Temporal are out of the terminal's process group: its Ctrl-C stops the worker first, and the
  // database stays up for the work it finishes or hands back (a drill found PostgreSQL shut down at once)
  const groupOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
  const pgPid = Number(fs.readFileSync(path.join(fs.realpathSync(path.join(dataDir, 'pg')), 'postmaster.pid'), 'utf8').split('\n')[0]);
  expect(groupOf(pgPid)).not.toBe(again.child.pid);
  expect(await ctrlC(again)).toBe(0);
  expect(fs.readFileSync(path.join(dataDir, 'logs', 'postgres.log'), 'utf8').match(/received fast shutdown request/g)).toHaveLength(1);
  expect(again.stderr().split('\n').filter((l) => l.trim())).toEqual([ACK]);
}, 420_000);

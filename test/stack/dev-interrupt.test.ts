import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../helpers/env';
import { portFree } from './helpers';
import { type Proc, ctrlC, devEnv, processesMentioning, startDev } from './process';

/**
 * Ctrl-C while `nightshift dev` starts reaches the whole process group: initdb, the workflow bundler and PostgreSQL
 * die of it. What dev says then is that the operator interrupted it, in one line, exit 0 as any Ctrl-C: not the
 * dead child's error (a bundler's inline script, initdb's permission advice).
 */

const READY_LINE = 'Nightshift dev stack ready';
/** what cli/commands/stack.ts prints on the first stop signal */
const ACK = 'SIGINT: stopping gracefully (again to force)';

async function freshDev(): Promise<{ env: NodeJS.ProcessEnv; ports: number[]; dataDir: string }> {
  const dataDir = tempDir('dev-interrupt');
  return { ...(await devEnv({ dataDir })), dataDir };
}

const running: Proc[] = [];
afterAll(async () => {
  // a failed test must not leave a stack behind: stopped as a person would (PostgreSQL and Temporal are in groups of
  // their own, a SIGKILL of dev would leave them running)
  for (const d of running) if (d.child.exitCode === null) await ctrlC(d);
});

async function expectStoppedClean(dev: Proc, dataDir: string, ports: number[]): Promise<void> {
  expect(processesMentioning(dataDir)).toEqual([]);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
  expect(fs.existsSync(path.join(dataDir, 'dev.lock'))).toBe(false);
  expect(`${dev.stdout()}${dev.stderr()}`).not.toMatch(/^\s+at |Command failed|process\.argv/m);
}

test('Ctrl-C while the worker bundles the workflows: one line saying the start was interrupted, exit 0, every child stopped', async () => {
  const { env, ports, dataDir } = await freshDev();
  const dev = startDev(env, { detached: true });
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
  const { env, ports, dataDir } = await freshDev();
  const dev = startDev(env, { detached: true });
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

  // no half-made cluster stands in the way of the next start; the log is appended to, and the interrupted start may
  // already have stopped a PostgreSQL it had started (Ctrl-C just after initdb): only the next start's lines count
  const logFile = path.join(dataDir, 'logs', 'postgres.log');
  const logBefore = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const again = startDev(env, { detached: true });
  running.push(again);
  await again.waitFor(READY_LINE, 240_000);
  // PostgreSQL and Temporal are out of the terminal's process group: its Ctrl-C stops the worker first, and the
  // database stays up for the work it finishes or hands back (a drill found PostgreSQL shut down at once)
  const groupOf = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
  const pgPid = Number(fs.readFileSync(path.join(fs.realpathSync(path.join(dataDir, 'pg')), 'postmaster.pid'), 'utf8').split('\n')[0]);
  expect(groupOf(pgPid)).not.toBe(again.child.pid);
  expect(await ctrlC(again)).toBe(0);
  expect(fs.readFileSync(logFile).subarray(logBefore).toString('utf8').match(/received fast shutdown request/g)).toHaveLength(1);
  expect(again.stderr().split('\n').filter((l) => l.trim())).toEqual([ACK]);
}, 420_000);

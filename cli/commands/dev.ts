import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import pino from 'pino';
import { Connection } from '@temporalio/client';
import { PROJECT_ROOT, UsageError, toolPaths, type Config } from '../../config/config';
import { makeNewStackBackupKey } from '../../archive/new-stack-key';
import { migrate } from '../../db/migrate';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedPostgres } from '../../db/embedded-postgres';
import { generateDemoDossiers } from '../../registry/demo';
import { searchAttributeArgs } from '../../workflows/search-attributes';
import { createTargetPools } from '../../workers/resources';
import { createLogger } from '../../workers/logger';
import { runWorker } from '../../workers/main';
import { startSmtpCatcher } from '../../workers/smtp-catcher';
import { startGate, type StartGateOptions } from '../../gate/server';
import { devGateHint, ensureDevKey } from '../../gate/dev-key';
import { redactUrl } from '../../domain/redact';
import { exampleDossierCode } from '../../store/dossiers/example-dossier';
import { listDossiers } from '../../store/dossiers/list-dossiers';
import type { Dossier } from '../../domain/dossier';
import { oneLine } from '../../domain/run-details';
import { createDatabase } from '../../store/server/create-database';
import { databaseExists } from '../../store/server/database-exists';
import { alive, runs } from '../../cluster/pids';

/**
 * One line for the dev terminal from a worker log record (pino JSON): level, message, workflow id, the innermost error
 * message, and where the whole record is; a line that is not JSON is passed on as it is.
 */
export function terminalLogLine(record: string, logFile: string): string {
  let r: { level?: number; msg?: string; workflowId?: string; activityType?: string; err?: { message?: string }; error?: { message?: string } | string };
  try {
    r = JSON.parse(record) as typeof r;
  } catch {
    return record.endsWith('\n') ? record : `${record}\n`;
  }
  const level = (r.level ?? 40) >= 50 ? 'ERROR' : 'WARN';
  const why = typeof r.error === 'string' ? r.error : (r.err?.message ?? r.error?.message);
  const where = r.workflowId ? ` (${r.workflowId}${r.activityType ? `, ${r.activityType}` : ''})` : '';
  const reason = why ? `: ${oneLine(why, 300)}` : '';
  return `worker ${level} ${r.msg ?? ''}${where}${reason} [${path.basename(logFile)}]\n`;
}

/**
 * `nightshift dev`: the whole stack on this machine, everything under config.dataDir — embedded
 * PostgreSQL, the Temporal dev server (child process, SQLite file), an SMTP catcher, the worker in
 * this process — started in order, and stopped in reverse order on Ctrl-C / SIGTERM so that the next
 * `dev` finds the same dossiers and the same workflow history.
 */

export const DEMO_COUNT = 12;
export const DEMO_SIZE_KB = 40;
export const READY_LINE = 'Nightshift dev stack ready';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export interface DevPaths {
  dataDir: string;
  pgDir: string;
  logsDir: string;
  mailDir: string;
  lockFile: string;
  demoMarker: string;
  temporalDb: string;
}

export function devPaths(config: Config): DevPaths {
  const d = config.dataDir;
  return {
    dataDir: d,
    pgDir: path.join(d, 'pg'),
    logsDir: path.join(d, 'logs'),
    mailDir: path.join(d, 'mail'),
    lockFile: path.join(d, 'dev.lock'),
    demoMarker: path.join(d, 'demo-loaded.json'),
    temporalDb: path.join(d, 'temporal.db'),
  };
}

export class DevError extends Error {
  override name = 'DevError';
}

export function usesLocalTemporal(config: Config): boolean {
  return config.temporal.address === `127.0.0.1:${config.temporal.devPort}`;
}

export function usesSmtpCatcher(config: Config): boolean {
  return LOOPBACK.has(config.smtp.host);
}

// ---------------------------------------------------------------- lock: one dev per data dir

interface LockContent {
  pid: number;
  startedAt: string;
  temporalPid?: number;
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await sleep(100);
  }
  return !alive(pid);
}

/** A dev killed with -9 leaves its children: stop them, so their ports and files are free again. */
async function reapOrphans(paths: DevPaths, lock: Partial<LockContent>, say: (s: string) => void): Promise<void> {
  if (lock.temporalPid && runs(lock.temporalPid, 'temporal')) {
    say(`stopping the Temporal dev server left running by a previous dev (pid ${lock.temporalPid})`);
    try {
      process.kill(-lock.temporalPid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    if (!(await waitGone(lock.temporalPid, 10_000))) process.kill(-lock.temporalPid, 'SIGKILL');
  }
  const pidFile = path.join(paths.pgDir, 'postmaster.pid');
  const pgPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
  if (pgPid > 0 && runs(pgPid, 'postgres')) {
    say(`stopping the PostgreSQL left running by a previous dev (pid ${pgPid})`);
    // fast shutdown: clean, no recovery needed at next start
    await stopPostmaster(pgPid, paths.pgDir);
  }
}

async function acquireLock(paths: DevPaths, say: (s: string) => void): Promise<{ update(c: Partial<LockContent>): void; release(): void }> {
  const content: LockContent = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(paths.lockFile, JSON.stringify(content), { flag: 'wx' });
      return {
        update(c) {
          Object.assign(content, c);
          fs.writeFileSync(paths.lockFile, JSON.stringify(content));
        },
        release() {
          fs.rmSync(paths.lockFile, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let previous: Partial<LockContent> = {};
    try {
      previous = JSON.parse(fs.readFileSync(paths.lockFile, 'utf8')) as Partial<LockContent>;
    } catch {
      /* unreadable: treated as stale */
    }
    if (previous.pid && previous.pid !== process.pid && alive(previous.pid)) {
      throw new DevError(
        `another \`nightshift dev\` (pid ${previous.pid}) already runs on ${paths.dataDir}: stop it (Ctrl-C), or set NIGHTSHIFT_DATA_DIR (and the NIGHTSHIFT_*_PORT variables) for a second stack`,
      );
    }
    await reapOrphans(paths, previous, say);
    fs.rmSync(paths.lockFile, { force: true });
  }
  throw new DevError(`cannot take the lock ${paths.lockFile}`);
}

// ---------------------------------------------------------------- ports

export async function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Every port this dev will bind, checked before anything starts, so the message names the variable to change. */
export async function checkPorts(config: Config): Promise<void> {
  const wanted: { port: number; variable: string }[] = [];
  if (config.embeddedPostgres) wanted.push({ port: config.pg.port, variable: 'NIGHTSHIFT_PG_PORT' });
  if (usesLocalTemporal(config)) {
    wanted.push({ port: config.temporal.devPort, variable: 'NIGHTSHIFT_TEMPORAL_PORT' }, { port: config.temporal.uiPort, variable: 'NIGHTSHIFT_UI_PORT' });
  }
  wanted.push({ port: config.metricsPort, variable: 'NIGHTSHIFT_METRICS_PORT' }, { port: config.gatePort, variable: 'NIGHTSHIFT_GATE_PORT' });
  if (config.gate.metricsPortGiven) wanted.push({ port: config.gate.metricsPort, variable: 'NIGHTSHIFT_GATE_METRICS_PORT' });
  if (usesSmtpCatcher(config)) wanted.push({ port: config.smtp.port, variable: 'NIGHTSHIFT_SMTP_PORT' });

  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const w of wanted) {
    const other = seen.get(w.port);
    if (other) problems.push(`${other} and ${w.variable} are both ${w.port}: give each its own port`);
    seen.set(w.port, w.variable);
  }
  const busy = await Promise.all(wanted.map(async (w) => ((await portFree(w.port, '127.0.0.1')) ? undefined : w)));
  for (const w of busy) {
    if (w) problems.push(`port ${w.port} is already in use: set ${w.variable} to a free port (or stop what uses it)`);
  }
  if (problems.length) throw new DevError(problems.join('; '));
}

// ---------------------------------------------------------------- PostgreSQL

/** The last line of a log, for a one-line error. */
function lastLine(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').pop()!.replace(/\s+/g, ' ').trim();
  } catch {
    return '';
  }
}

interface Stoppable {
  stop(): Promise<void>;
}

/** The pid a cluster's postmaster.pid names when that process is a running postgres, else 0. */
function runningPostmaster(pgDir: string): number {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    return pid > 0 && runs(pid, 'postgres') ? pid : 0;
  } catch {
    return 0;
  }
}

/** Fast shutdown of a postgres this dev did not start (SIGINT: clean, no recovery at the next start), waiting for it. */
async function stopPostmaster(pid: number, pgDir: string): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  if (!(await waitGone(pid, 15_000))) throw new DevError(`PostgreSQL pid ${pid} (${pgDir}) does not stop: stop it by hand`);
}

/**
 * A PostgreSQL running on this data folder while no dev holds the lock (this one has it now): left by a dev killed with
 * -9 (reapOrphans), or started by hand (pg_ctl) after dev's own died: stopped, so that this dev starts its own (drill K,
 * session 39: the port was said "already in use: set NIGHTSHIFT_PG_PORT to a free port", for the stack's own cluster).
 */
async function stopLeftPostgres(paths: DevPaths, say: (s: string) => void): Promise<void> {
  const pid = runningPostmaster(paths.pgDir);
  if (!pid) return;
  say(`stopping the PostgreSQL of this data folder left running (pid ${pid}, by an earlier dev or started by hand)`);
  await stopPostmaster(pid, paths.pgDir);
}

/** How long dev waits between two tries to bring its PostgreSQL back (a killed postmaster's backends must exit first). */
const PG_RESTART_DELAY_MS = 2_000;

export async function startPostgres(config: Config, paths: DevPaths, say: (s: string) => void): Promise<Stoppable> {
  const logFile = path.join(paths.logsDir, 'postgres.log');
  if (!fs.existsSync(paths.pgDir) || !fs.readdirSync(paths.pgDir).length) say(`initialising PostgreSQL in ${paths.pgDir} (first start)`);
  const start = () =>
    startEmbeddedPostgres({
      dataDir: paths.pgDir,
      port: config.pg.port,
      user: config.pg.user,
      password: config.pg.password,
      persistent: true,
      log: (line) => fs.appendFileSync(logFile, line),
    });
  let server: EmbeddedPostgres;
  try {
    server = await start();
  } catch (err) {
    if (err instanceof EmbeddedPostgresError) throw new DevError(`${err.message} (log: ${logFile})`);
    throw err;
  }
  // As a service manager would (systemd's Restart=on-failure): a PostgreSQL that dies under the stack (killed, a crash)
  // is started again, said in the terminal; one started by hand meanwhile on this folder is kept, and stopped at the
  // end (drill K, session 39: dev went on without it, the CLI advised `npm run dev`, which refused: dev already ran)
  let stopping = false;
  let adopted = 0;
  const pause = () => new Promise((r) => setTimeout(r, PG_RESTART_DELAY_MS));
  // one started outside dev has no child to wait for: its pid is looked at (drill F, session 39: once taken over, it was
  // watched no more, and the CLI's hint still said dev would start it again)
  const outsideGone = async (pid: number): Promise<string> => {
    while (!stopping && runs(pid, 'postgres')) await new Promise((r) => setTimeout(r, 1_000));
    // a killed postmaster stays a zombie until its parent (init) reaps it, and PostgreSQL's lock file check still sees
    // its pid alive (drill G, session 39: the first start again failed on "postmaster.pid already exists"): a while
    for (let waited = 0; !stopping && alive(pid) && waited < 10_000; waited += 200) await new Promise((r) => setTimeout(r, 200));
    return 'it exited';
  };
  const supervised = (async () => {
    while (!stopping) {
      const was = adopted || server.pid;
      const how = adopted ? await outsideGone(adopted) : await server.done;
      if (stopping) return;
      adopted = 0;
      say(`PostgreSQL (pid ${was}) stopped unexpectedly (${how}): starting it again (log: ${logFile})`);
      for (let attempt = 1; !stopping; attempt++) {
        adopted = runningPostmaster(paths.pgDir);
        if (adopted) {
          say(`PostgreSQL was started again outside dev (pid ${adopted}): dev keeps it as it is, watches it and stops it with the stack`);
          break;
        }
        try {
          server = await start();
          if (stopping) await server.stop();
          else say(`PostgreSQL is back (pid ${server.pid}, after ${attempt} tr${attempt === 1 ? 'y' : 'ies'})`);
          break;
        } catch (err) {
          // one started by hand at the same moment holds the lock file: taken over at the next look, not said as a failure
          // said from the second failure (the first may be the old postmaster's last moments)
          if (!runningPostmaster(paths.pgDir) && (attempt === 2 || attempt % 15 === 0)) {
            say(`PostgreSQL did not start again (${err instanceof Error ? err.message : String(err)}): trying again every ${PG_RESTART_DELAY_MS / 1000} s`);
          }
          await pause();
        }
      }
    }
  })();
  // PostgreSQL runs in its own process group (the terminal's Ctrl-C does not reach it): stopped last, here.
  const stop = async () => {
    stopping = true;
    if (adopted) await stopPostmaster(adopted, paths.pgDir);
    else await server.stop();
    await supervised;
  };
  try {
    const admin = new pg.Client({ host: '127.0.0.1', port: config.pg.port, user: config.pg.user, password: config.pg.password, database: 'postgres' });
    await admin.connect();
    try {
      if (!(await databaseExists(admin, config.pg.database))) await createDatabase(admin, config.pg.database);
    } finally {
      await admin.end();
    }
  } catch (err) {
    await stop();
    const hint = (err as { code?: string }).code === '28P01' ? ': NIGHTSHIFT_PG_PASSWORD differs from the one this cluster was created with' : '';
    throw new DevError(`cannot prepare database ${config.pg.database}: ${err instanceof Error ? err.message : String(err)}${hint}`);
  }
  return { stop };
}

// ---------------------------------------------------------------- Temporal dev server

async function temporalAnswers(config: Config): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address: config.temporal.address, connectTimeout: 1000 });
    await connection.withDeadline(Date.now() + 2000, () => connection!.workflowService.describeNamespace({ namespace: config.temporal.namespace }));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

async function startTemporal(config: Config, paths: DevPaths, onPid: (pid: number) => void, abandon?: AbortSignal): Promise<Stoppable> {
  const { temporal } = toolPaths(config, PROJECT_ROOT);
  if (!fs.existsSync(temporal)) throw new DevError(`the Temporal CLI is missing at ${temporal}: run \`npm run tools\` (or set TEMPORAL_CLI)`);
  const logFile = path.join(paths.logsDir, 'temporal.log');
  const out = fs.openSync(logFile, 'a');
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(config.temporal.devPort),
    '--ui-port', String(config.temporal.uiPort),
    '--db-filename', paths.temporalDb,
    '--namespace', config.temporal.namespace,
    '--log-level', 'warn',
    ...searchAttributeArgs(),
  ];
  // Own process group: the terminal's Ctrl-C must not stop Temporal before the worker has handed its work back.
  const child = spawn(temporal, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  // A binary that cannot run (EACCES, ENOENT) is reported, never an unhandled 'error' event.
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      spawnError = err;
      resolve();
    });
  });
  if (child.pid) onPid(child.pid);

  const stop = async () => {
    if (spawnError || child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    const group = -child.pid;
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      return;
    }
    const done = await Promise.race([exited.then(() => true), sleep(15_000, false, { ref: false })]);
    if (!done) {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
      await exited;
    }
  };

  const deadline = Date.now() + 60_000;
  while (!(await temporalAnswers(config))) {
    // PostgreSQL failed: no reason to wait for a server the caller is about to stop
    if (abandon?.aborted) return { stop };
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      throw new DevError(`the Temporal dev server exited (${spawnError?.message ?? child.exitCode ?? child.signalCode}): ${lastLine(logFile) || 'no output'} (log: ${logFile})`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new DevError(`the Temporal dev server did not answer on ${config.temporal.address} within 60 s; see ${logFile}`);
    }
    await sleep(250);
  }
  return { stop };
}

// ---------------------------------------------------------------- demo data

interface DemoMarker {
  target: string;
  codes: string[];
  loadedAt: string;
}

function readDemoMarker(paths: DevPaths): DemoMarker | undefined {
  try {
    return JSON.parse(fs.readFileSync(paths.demoMarker, 'utf8')) as DemoMarker;
  } catch {
    return undefined;
  }
}

/** Demo dossiers go into the embedded database only, once: an external database is nobody's playground. */
async function loadDemoOnce(config: Config, paths: DevPaths, say: (s: string) => void): Promise<DemoMarker | undefined> {
  const marker = readDemoMarker(paths);
  if (marker || !config.embeddedPostgres) return marker;
  const target = config.targets[0]!.name;
  say(`loading ${DEMO_COUNT} demo dossiers into target ${target} (first start only)`);
  const pools = createTargetPools(config, 4);
  try {
    const codes = await generateDemoDossiers(pools.get(target), { target, count: DEMO_COUNT, sizeKb: DEMO_SIZE_KB, seed: 1, documentsDir: config.documentsDir });
    const loaded: DemoMarker = { target, codes, loadedAt: new Date().toISOString() };
    fs.writeFileSync(paths.demoMarker, `${JSON.stringify(loaded, null, 2)}\n`);
    return loaded;
  } finally {
    await pools.end();
  }
}

/** What the target holds now (not what the first start loaded), and a dossier the example backup command can use. */
interface DossierSummary {
  total: number;
  /** the first start's demo dossiers still there */
  demo: string[];
  /** a plain original, as the batch would pick it (R-BK-2): a demo one when there is one */
  example?: string;
}

const plainOriginal = (d: Dossier) => d.role === 'regular' && !d.flags.template && !d.flags.test && d.flags.transferable;

async function summariseDossiers(config: Config, demo: DemoMarker | undefined): Promise<DossierSummary | undefined> {
  const client = new pg.Client({ connectionString: config.targets[0]!.databaseUrl });
  try {
    await client.connect();
    const all = await listDossiers(client);
    const loaded = new Set(demo?.codes ?? []);
    const demoNow = all.filter((d) => loaded.has(d.code));
    const example = demoNow.find(plainOriginal)?.code ?? (await exampleDossierCode(client));
    return { total: all.length, demo: demoNow.map((d) => d.code).sort(), ...(example !== undefined && { example }) };
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

// ---------------------------------------------------------------- the stack

export interface DevOptions {
  signal: AbortSignal;
  /** progress and the banner (default: stdout) */
  say?: (line: string) => void;
  /** the one line of a start interrupted by a stop signal (default: stderr, as `nightshift: …`) */
  report?: (line: string) => void;
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * The name of the first stop signal, for the line of an interrupted start. Listens only where the caller already
 * handles the signal (the CLI aborts `signal` on it): a listener of ours must not cancel Node's default exit.
 */
function heardSignal(): { name(): NodeJS.Signals | undefined; dispose(): void } {
  let heard: NodeJS.Signals | undefined;
  const note = (sig: NodeJS.Signals) => {
    heard ??= sig;
  };
  const handled = STOP_SIGNALS.filter((s) => process.listenerCount(s) > 0);
  for (const s of handled) process.on(s, note);
  return { name: () => heard, dispose: () => handled.forEach((s) => process.off(s, note)) };
}

const DATA_FOLDER_CAUSES: Record<string, string> = {
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of that path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
  EEXIST: 'a file of that name is in the way',
};

/** The stack's folder, or one line naming NIGHTSHIFT_DATA_DIR, the cause and what to do (not a raw errno). */
function makeDataFolder(dir: string, mode?: number): void {
  // the first missing level alone first: Node's recursive mkdir loops forever where a file system answers ENOENT
  // for a new entry under a folder that exists (/proc)
  let first = path.resolve(dir);
  while (!fs.existsSync(path.dirname(first)) && path.dirname(first) !== first) first = path.dirname(first);
  try {
    if (!fs.existsSync(first)) fs.mkdirSync(first, { ...(mode !== undefined && { mode }) });
    fs.mkdirSync(dir, { recursive: true, ...(mode !== undefined && { mode }) });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    // a read-only mount can answer ENOENT for a new folder under an existing one
    const readOnly = code === 'ENOENT' && fs.existsSync(path.dirname(first));
    const cause = readOnly ? 'the folder above it cannot take a new entry (a read-only file system?)' : (DATA_FOLDER_CAUSES[code] ?? code);
    throw new UsageError(`cannot make the stack's folder ${dir} (NIGHTSHIFT_DATA_DIR): ${cause} (${code}); set NIGHTSHIFT_DATA_DIR to a folder this user can write`);
  }
}

export async function runDev(config: Config, options: DevOptions): Promise<void> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const report = options.report ?? ((line: string) => process.stderr.write(`nightshift: ${line}\n`));
  const { signal } = options;
  const paths = devPaths(config);
  // 0755: as root, PostgreSQL runs as another user; the cluster stays in pg/ when that user can enter it.
  makeDataFolder(paths.dataDir, 0o755);
  makeDataFolder(paths.logsDir);
  const lock = await acquireLock(paths, say);
  const started: { name: string; stop(): Promise<void> }[] = [];
  let failure: unknown;
  let ready = false;
  const heard = heardSignal();
  try {
    if (config.embeddedPostgres) await stopLeftPostgres(paths, say);
    await checkPorts(config);
    const pgFailed = new AbortController();
    const [pgStart, temporalStart] = await Promise.allSettled([
      config.embeddedPostgres
        ? startPostgres(config, paths, say).catch((err: unknown) => {
            pgFailed.abort();
            throw err;
          })
        : undefined,
      usesLocalTemporal(config) ? startTemporal(config, paths, (pid) => lock.update({ temporalPid: pid }), pgFailed.signal) : undefined,
    ]);
    // Registered in a fixed order, so that PostgreSQL stops last whatever started first.
    if (pgStart.status === 'fulfilled' && pgStart.value) started.push({ name: 'PostgreSQL', ...pgStart.value });
    if (temporalStart.status === 'fulfilled' && temporalStart.value) started.push({ name: 'Temporal dev server', ...temporalStart.value });
    if (pgStart.status === 'rejected') throw pgStart.reason;
    if (temporalStart.status === 'rejected') throw temporalStart.reason;
    const postgres = pgStart.value;
    const temporal = temporalStart.value;
    if (signal.aborted) return;
    if (usesSmtpCatcher(config)) {
      const smtp = await startSmtpCatcher({ host: config.smtp.host, port: config.smtp.port, dir: paths.mailDir });
      started.push({ name: 'SMTP catcher', stop: () => smtp.close() });
    }
    for (const t of config.targets) await migrate(t.databaseUrl, undefined, { database: t.name });
    if (signal.aborted) return;
    // a new key only for a stack that can start (a busy port refuses it first) and whose targets keep no encrypted archive
    await makeNewStackBackupKey(config, say);
    // The gate has its own pools, so heartbeats never wait for the worker's connections.
    const gatePools = createTargetPools(config, 10);
    try {
      // Its log in logs/gate.log, as the worker's: pino's JSON lines (a refusal each) have no place in the terminal.
      const gateLogging: StartGateOptions = {
        logger: { level: config.logLevel, stream: pino.destination({ dest: path.join(paths.logsDir, 'gate.log'), sync: true }) },
      };
      // the gate's metrics on the port asked for, else any free loopback port: a local stack needs no fixed one
      const gate = await startGate({ ...config, gate: { ...config.gate, metricsPort: config.gate.metricsPortGiven ? config.gate.metricsPort : 0 } }, gatePools, gateLogging);
      started.push({ name: 'gate', stop: async () => { await gate.close(); await gatePools.end(); } });
      const demoTarget = config.targets[0]!.name;
      say(devGateHint(gate.address, gate.metricsAddress, demoTarget, await ensureDevKey(gatePools.get(demoTarget), paths.dataDir)));
    } catch (err) {
      await gatePools.end();
      throw err;
    }
    if (signal.aborted) return;
    const demo = await loadDemoOnce(config, paths, say);
    const dossiers = await summariseDossiers(config, demo);
    if (signal.aborted) return;

    say('starting the worker (bundling the workflows takes a few seconds)');
    const logFile = path.join(paths.logsDir, 'worker.log');
    // the terminal gets one line per warning (a partial batch's was ~3 KB of JSON with a stack: it looked like a crash);
    // the whole record stays in worker.log
    const terminal = new Writable({
      write(chunk: Buffer, _encoding, done) {
        process.stderr.write(terminalLogLine(chunk.toString(), logFile));
        done();
      },
    });
    const logger = createLogger(
      config.logLevel,
      pino.multistream([
        { level: config.logLevel, stream: pino.destination({ dest: logFile, sync: true }) },
        { level: 'warn', stream: terminal },
      ]),
    );
    await runWorker(config, {
      signal,
      logger,
      onReady: () => {
        ready = true;
        say(banner(config, paths, { postgres: !!postgres, temporal: !!temporal, dossiers, workerLog: logFile }));
      },
    });
  } catch (err) {
    failure = err;
  } finally {
    heard.dispose();
    // Ctrl-C reaches the whole process group: initdb, the bundler and PostgreSQL die of it, and what fails then is the
    // interrupt, not a fault to explain.
    const interrupted = signal.aborted && !ready;
    const names = started.map((s) => s.name).reverse().join(', ');
    if (started.length) say(`${interrupted ? 'start interrupted, stopping: ' : failure ? 'start failed, stopping: ' : 'stopping: worker done, now '}${names}`);
    // reverse order: the worker (done above), then the gate, SMTP, Temporal, and PostgreSQL last
    for (const s of started.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        say(`could not stop ${s.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    lock.release();
    if (interrupted) {
      const sig = heard.name();
      report(`start interrupted${sig ? ` (${sig})` : ''}: ${names ? `stopped ${names}` : 'nothing was running yet'}; state kept in ${paths.dataDir}`);
      failure = undefined;
    } else if (!failure) say('stopped; state kept in ' + paths.dataDir);
  }
  if (failure) throw failure;
}

function banner(
  config: Config,
  paths: DevPaths,
  s: { postgres: boolean; temporal: boolean; dossiers?: DossierSummary; workerLog: string },
): string {
  const rel = (p: string) => {
    const r = path.relative(process.cwd(), p);
    return r === '' ? '.' : r.startsWith('..') ? p : r;
  };
  const code = s.dossiers?.example ?? 'CODE';
  const pgLines = config.targets.map(
    (t) => `  PostgreSQL   ${redactUrl(t.databaseUrl)}  (target ${t.name}${s.postgres ? `, embedded, data in ${rel(paths.pgDir)}` : ', external'})`,
  );
  const lines = [
    `${READY_LINE} (data dir ${rel(paths.dataDir)})`,
    ...pgLines,
    `  Temporal     ${config.temporal.address}  (namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}${s.temporal ? `, dev server, history in ${rel(paths.temporalDb)}` : ', external'})`,
    s.temporal ? `  Web UI       http://localhost:${config.temporal.uiPort}` : `  Web UI       served by your Temporal deployment`,
    `  Metrics      http://${config.metricsHost}:${config.metricsPort}/metrics`,
    `  Gate         ${config.gate.tls ? 'https' : 'http'}://${config.gateHost}:${config.gatePort}/  (sessions API under /v1, see README)`,
    usesSmtpCatcher(config)
      ? `  SMTP         ${config.smtp.host}:${config.smtp.port}  (catcher: every message lands in ${rel(paths.mailDir)}/*.eml)`
      : `  SMTP         ${config.smtp.host}:${config.smtp.port}  (external)`,
    `  Worker       in this process, ${config.workerConcurrency} concurrent activities, log in ${rel(s.workerLog)}`,
    dossierLine(config.targets[0]!.name, s.dossiers),
    '',
    'Try, in another terminal of this folder (with the same NIGHTSHIFT_* / TEMPORAL_* variables):',
    '  node bin/nightshift.js dossiers list',
    `  node bin/nightshift.js backup dossier ${code} --wait`,
    '  node bin/nightshift.js doctor',
    '',
    'Ctrl-C stops everything; the next `npm run dev` finds the same state.',
  ];
  return lines.join('\n');
}

/** What the first target holds now; the demo dossiers of the first start among them. */
function dossierLine(target: string, d: DossierSummary | undefined): string {
  if (!d) return `  Dossiers     on target ${target}: could not be counted (see: nightshift dossiers list)`;
  if (!d.total) return `  Dossiers     none on target ${target} (create some with: nightshift dossiers demo --count ${DEMO_COUNT})`;
  const demo = d.demo.length ? `, of which ${d.demo.length} loaded at the first start (${d.demo[0]}..${d.demo[d.demo.length - 1]})` : '';
  return `  Dossiers     ${d.total} on target ${target}${demo}`;
}

/** A second Ctrl-C leaves no time for order: kill the Temporal child, ask PostgreSQL for a fast shutdown. */
export function forceStopChildren(config: Config): void {
  const paths = devPaths(config);
  try {
    const lock = JSON.parse(fs.readFileSync(paths.lockFile, 'utf8')) as Partial<LockContent>;
    if (lock.pid !== process.pid) return;
    if (lock.temporalPid) process.kill(-lock.temporalPid, 'SIGKILL');
    const pidFile = path.join(paths.pgDir, 'postmaster.pid');
    const pgPid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
    if (config.embeddedPostgres && pgPid > 0 && runs(pgPid, 'postgres')) process.kill(pgPid, 'SIGINT');
    fs.rmSync(paths.lockFile, { force: true });
  } catch {
    /* nothing to stop */
  }
}

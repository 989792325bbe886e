import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, PROJECT_ROOT, toolPaths, UsageError, type Config } from '../config/config';
import { migrate } from '../db/migrate';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../db/embedded-postgres';
import { startSmtpCatcher, type SmtpCatcher } from '../workers/smtp-catcher';
import { workerProcessEnv } from '../workers/resources';
import { makeNewStackBackupKey } from '../archive/new-stack-key';
import { KEY_HEADER } from '../gate/keys';
import { ensureClusterKey } from './gate-key';
import { ClusterError, exitLine, processesOfFolder, fixedPorts, freePorts, HIGHEST_CLUSTER_PORT, portAnswers, reapState, runs, stopFolderProcesses, Supervisor, waitGone, type ManagedProcess } from './processes';
import {
  registerNamespace,
  renderTemporalConfig,
  setupTemporalSchema,
  temporalBinaries,
  temporalServiceSpec,
  waitTemporalHealthy,
  DYNAMIC_CONFIG_FILE,
  TEMPORAL_PORT_NAMES,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_SERVICES,
  type TemporalPersistence,
  type TemporalPorts,
} from './temporal-server';
import { shellWord } from '../domain/text';
import { gateName, readState, STATE_FILE } from './state';
import { writePostgresRestartScript, writeProcessRestartScript } from './restart-scripts';
import { haproxyBinary, haproxySpec, renderHaproxyConfig } from './haproxy';
import { createDatabase } from '../store/server/create-database';
import { databaseExists } from '../store/server/database-exists';

/**
 * `nightshift cluster`: the deployment of docker-compose.yml as processes on this machine, on loopback
 * and free ports: the embedded PostgreSQL (the dev stack's starter) holding the target and Temporal's
 * stores, the Temporal server's four services as separate processes, N workers (`nightshift worker`),
 * N gates (`nightshift gate`) behind HAProxy, the SMTP catcher. Everything lives under one folder;
 * every process is stopped when the start fails and at the end.
 */

export const HOST = '127.0.0.1';
export const CLUSTER_READY_LINE = 'Nightshift cluster ready';
export const API_KEY_FILE = 'gate-api-key';
export const ENV_FILE = 'env';

export interface ClusterOptions {
  /** every file of the cluster: pg/, temporal/, logs/, mail/, backups (sauve/) */
  dataDir: string;
  workers?: number;
  gates?: number;
  /** environment of the cluster's Nightshift processes, on top of process.env (never DATABASE_URL/TEMPORAL_ADDRESS: the cluster sets those) */
  env?: Record<string, string>;
  /** every port from this one on, in a fixed order (the gate's address first, then PostgreSQL); default: free ports at random */
  portsFrom?: number;
  /** tests: another worker program (e.g. one that slows each dossier); default `node bin/nightshift.js worker` */
  workerCommand?: (index: number) => { command: string; args: string[]; env?: Record<string, string> };
  say?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PostgresControl {
  port: number;
  /** fast shutdown (SIGINT), as a restart by an operator does */
  stop(): Promise<void>;
  /** SIGKILL of the postmaster and its backends: a crash */
  kill(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

export interface Cluster {
  dataDir: string;
  /** the cluster as its clients see it: the target database, the Temporal frontend, the gate's one address */
  config: Config;
  /** the environment of the cluster's own Nightshift processes (DATABASE_URL included) */
  env: Record<string, string>;
  /** what a `nightshift` command (doctor included) needs to work on this cluster, no secret; also in envFile */
  commandEnv: Record<string, string>;
  /** <dataDir>/env (0600): commandEnv as lines an operator sources (`set -a; . <dataDir>/env; set +a`) */
  envFile: string;
  gateUrl: string;
  temporalAddress: string;
  /** the gate's API key (header `apiKeyHeader`), also in <dataDir>/gate-api-key (0600) */
  apiKey: string;
  apiKeyHeader: string;
  apiKeyFile: string;
  mailDir: string;
  postgres: PostgresControl;
  temporalServices: string[];
  workers: string[];
  gates: string[];
  proc(name: string): ManagedProcess;
  processes(): ManagedProcess[];
  stop(): Promise<void>;
}

/** A previous cluster on this folder: refuse while its owner runs, else stop what it left. */
async function takeOver(dataDir: string, say: (s: string) => void): Promise<void> {
  const stateFile = path.join(dataDir, STATE_FILE);
  const previous = readState(stateFile);
  if (previous && previous.ownerPid !== process.pid && runs(previous.ownerPid, 'node')) {
    throw new ClusterError(`a cluster (pid ${previous.ownerPid}) already runs on ${dataDir}: stop it with \`nightshift cluster down\` first`);
  }
  if (previous) {
    const stopped = await reapState(previous);
    if (stopped.length) say(`stopped what a previous cluster left running: ${stopped.join(', ')}`);
  }
  const restarted = await stopFolderProcesses(dataDir);
  if (restarted.length) say(`stopped processes still running on this folder: ${restarted.join(', ')}`);
  await stopLeftPostgres(dataDir, say);
  fs.rmSync(stateFile, { force: true });
}

function postmasterPid(pgDir: string): number {
  try {
    return Number(fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || 0;
  } catch {
    return 0;
  }
}

async function stopLeftPostgres(dataDir: string, say: (s: string) => void): Promise<void> {
  const pid = postmasterPid(path.join(dataDir, 'pg'));
  if (pid > 0 && runs(pid, 'postgres')) {
    say(`stopping the PostgreSQL left running by a previous cluster (pid ${pid})`);
    process.kill(pid, 'SIGINT');
    if (!(await waitGone(pid, 20_000))) throw new ClusterError(`PostgreSQL pid ${pid} (${dataDir}/pg) does not stop: stop it by hand`);
  }
}

/** Children of a pid (its PostgreSQL backends), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** PostgreSQL's default 100 connections are not enough for four Temporal services, two workers and two gates. */
const MAX_CONNECTIONS = 300;

/**
 * The cluster's folder (--dir), made if missing. A file where it (or a folder above it) should be is a slip of the
 * operator's (`--dir /etc/passwd`): bad usage naming --dir, not mkdir's EEXIST.
 */
function makeClusterFolder(dataDir: string): void {
  try {
    // 0755: as root, PostgreSQL runs as another user and must be able to enter the folder.
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new UsageError(`--dir ${dataDir}: not a folder (${code === 'EEXIST' ? 'a file is there' : 'a file is on its path'}); nothing started`);
    }
    throw err;
  }
}

function removeEmptyFolder(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty after all: left as it is
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const say = options.say ?? (() => {});
  const nWorkers = options.workers ?? 2;
  const nGates = options.gates ?? 2;
  const dataDir = path.resolve(options.dataDir);
  const logsDir = path.join(dataDir, 'logs');
  const temporalDir = path.join(dataDir, 'temporal');
  const mailDir = path.join(dataDir, 'mail');

  // Temporal keeps its ports in a smallint column: all of them under 32768, where the kernel never picks ephemeral ports.
  // In this order from --ports-from (drill K: new ports at every `up`, the application's gate URL broke each time):
  // the gate's address first, then PostgreSQL, so that both are easy to remember.
  const portNames = [
    'HAProxy, the gate address',
    'PostgreSQL',
    'SMTP catcher',
    ...TEMPORAL_PORT_NAMES.map((n) => `Temporal ${n}`),
    ...names('gate', nGates),
    ...names('gate', nGates).map((g) => `${g} metrics`),
    ...names('worker', nWorkers).map((w) => `${w} metrics`),
  ];

  // Exit 2 is "nothing changed" (tester: a taken --ports-from port still left c4/ with logs/, mail/ and temporal/):
  // what can be refused is checked before anything is made. A new folder has no previous cluster to take over, so its
  // ports are checked before it is made; on a folder in use they are checked once its previous cluster is stopped.
  const bin = temporalBinaries();
  const haproxy = haproxyBinary();
  if (!haproxy) throw new ClusterError('haproxy is not installed: as root, `apt-get install haproxy` (scripts/install-temporal-server.sh does it)');
  const isNew = !fs.existsSync(dataDir);
  if (isNew && options.portsFrom !== undefined) await fixedPorts(options.portsFrom, portNames, HOST);
  makeClusterFolder(dataDir);
  let ports: number[];
  try {
    await takeOver(dataDir, say);
    ports = options.portsFrom !== undefined ? await fixedPorts(options.portsFrom, portNames, HOST) : await freePorts(portNames.length, HOST, HIGHEST_CLUSTER_PORT);
  } catch (err) {
    // a port taken since the check above: the folder made a moment ago is still empty (rmdir removes none other)
    if (isNew) removeEmptyFolder(dataDir);
    throw err;
  }
  fs.chmodSync(dataDir, 0o755);
  for (const d of [logsDir, temporalDir, mailDir]) fs.mkdirSync(d, { recursive: true });

  const [lbPort, pgPort, smtpPort] = ports.splice(0, 3) as [number, number, number];
  const temporalPorts = Object.fromEntries(TEMPORAL_PORT_NAMES.map((n) => [n, ports.shift()!])) as unknown as TemporalPorts;
  const gatePorts = ports.splice(0, nGates);
  const gateMetricsPorts = ports.splice(0, nGates);
  const metricsPorts = ports.splice(0, nWorkers);
  const temporalAddress = `${HOST}:${temporalPorts.frontend}`;

  // The cluster sets where things are; everything else (log level, backup settings...) comes from the caller.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k, v]) => v !== undefined && !['DATABASE_URL', 'NIGHTSHIFT_TARGETS', 'TEMPORAL_ADDRESS', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS'].includes(k) && !k.startsWith('TEMPORAL_TLS_')),
  ) as Record<string, string>;
  const base: Record<string, string> = {
    ...options.env,
    NIGHTSHIFT_DATA_DIR: dataDir,
    NIGHTSHIFT_PG_PORT: String(pgPort),
    TEMPORAL_ADDRESS: temporalAddress,
    NIGHTSHIFT_SMTP_HOST: HOST,
    NIGHTSHIFT_SMTP_PORT: String(smtpPort),
    NIGHTSHIFT_GATE_HOST: HOST,
    NIGHTSHIFT_GATE_PORT: String(lbPort),
  };
  const config = loadConfig({ ...inherited, ...base });
  const databaseUrl = config.targets[0]!.databaseUrl;
  const env = { ...base, DATABASE_URL: databaseUrl };
  const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...inherited, ...env, ...extra });

  let stopped = false;
  // one line per process that ends by itself; nothing restarts it (the orchestrator's job)
  const supervisor = new Supervisor(path.join(dataDir, STATE_FILE), logsDir, (proc, exit) => {
    if (!stopped) say(exitLine(proc, exit));
  });
  const pgDir = path.join(dataDir, 'pg');
  const pgLog = path.join(logsDir, 'postgres.log');
  let pgServer: EmbeddedPostgres | undefined;
  let smtp: SmtpCatcher | undefined;

  const postgres: PostgresControl = {
    port: pgPort,
    async start() {
      if (pgServer && !pgServer.exited()) return;
      if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) say(`initialising PostgreSQL in ${pgDir} (first start)`);
      pgServer = await startEmbeddedPostgres({
        dataDir: pgDir,
        port: pgPort,
        user: config.pg.user,
        password: config.pg.password,
        persistent: true,
        // four Temporal services, the workers and the gates each keep a pool
        flags: ['-c', `max_connections=${MAX_CONNECTIONS}`],
        log: (line) => fs.appendFileSync(pgLog, line),
      });
      supervisor.setInfo({ postgresPid: pgServer.pid });
    },
    async stop() {
      const s = pgServer;
      pgServer = undefined;
      await s?.stop();
    },
    async kill() {
      const pid = pgServer?.pid ?? postmasterPid(pgDir);
      if (pid > 0 && runs(pid, 'postgres')) {
        const backends = childrenOf(pid);
        for (const p of [pid, ...backends]) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await waitGone(pid, 10_000);
        for (const p of backends) await waitGone(p, 10_000);
      }
      pgServer = undefined;
    },
    async restart() {
      await postgres.stop();
      await postgres.start();
    },
  };

  // PostgreSQL is no supervised process: its end is seen by polling (stop() and kill() clear pgServer first)
  const pgWatch = setInterval(() => {
    if (!stopped && pgServer?.exited()) {
      say(`PostgreSQL (pid ${pgServer.pid}) exited; not restarted; log ${pgLog}`);
      pgServer = undefined;
    }
  }, 1000).unref();

  const stopEverything = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(pgWatch);
    await supervisor.stopAll(['haproxy', ...names('gate', nGates), ...names('worker', nWorkers), 'temporal-frontend', 'temporal-matching', 'temporal-worker', 'temporal-history']);
    // what an operator started again by hand after a crash: found by the folder it runs on
    const restarted = await stopFolderProcesses(dataDir).catch(() => []);
    if (restarted.length) say(`stopped processes started outside this command: ${restarted.join(', ')}`);
    await smtp?.close().catch(() => {});
    await postgres.stop().catch(() => {});
    await stopLeftPostgres(dataDir, say).catch((err: unknown) => say((err as Error).message));
    supervisor.removeState();
  };

  try {
    // ------------------------------------------------------------ PostgreSQL
    say(`starting PostgreSQL on ${HOST}:${pgPort} (data in ${pgDir})`);
    await postgres.start();
    await createTargetDatabase(config);
    abortIf(options.signal);

    // ------------------------------------------------------------ Temporal
    const persistence: TemporalPersistence = { host: HOST, port: pgPort, user: config.pg.user, password: config.pg.password };
    say(`setting up Temporal's schema (temporal-sql-tool ${TEMPORAL_SERVER_VERSION}, plugin postgres12)`);
    await setupTemporalSchema(bin, persistence, say);
    const dynamicConfigPath = DYNAMIC_CONFIG_FILE;
    const configFile = path.join(temporalDir, 'config.yaml');
    const rendered = renderTemporalConfig({ host: HOST, ports: temporalPorts, persistence, dynamicConfigPath });
    fs.writeFileSync(configFile, rendered, { mode: 0o600 });
    say(`starting the Temporal server ${TEMPORAL_SERVER_VERSION}: ${TEMPORAL_SERVICES.join(', ')} (one process each)`);
    const services = TEMPORAL_SERVICES.map((s) => supervisor.add(temporalServiceSpec(bin, s, configFile, temporalPorts, HOST)));
    // The first service writes the cluster metadata; four at once on a fresh database race for that row.
    await services[0]!.start();
    await Promise.all(services.slice(1).map((p) => p.start()));
    const { temporal: cli } = toolPaths(config, PROJECT_ROOT);
    await waitTemporalHealthy(cli, temporalAddress);
    await registerNamespace(cli, temporalAddress, config.temporal.namespace, say);
    abortIf(options.signal);

    // ------------------------------------------------------------ Nightshift
    for (const t of config.targets) await migrate(t.databaseUrl);
    // before the workers start: they read the key file
    await makeNewStackBackupKey(config, say);
    smtp = await startSmtpCatcher({ host: HOST, port: smtpPort, dir: mailDir });
    const node = process.execPath;
    const cliPath = path.join(PROJECT_ROOT, 'bin', 'nightshift.js');
    const workers = Array.from({ length: nWorkers }, (_, i) => {
      const custom = options.workerCommand?.(i + 1);
      const own = { ...workerProcessEnv(inherited), NIGHTSHIFT_METRICS_PORT: String(metricsPorts[i]), NIGHTSHIFT_METRICS_HOST: HOST, ...custom?.env };
      return supervisor.add({
        name: `worker-${i + 1}`,
        command: custom?.command ?? node,
        args: custom?.args ?? [cliPath, 'worker'],
        env: childEnv(own),
        restartEnv: own,
        ready: async (p) => p.log().includes('worker running'),
        readyTimeoutMs: 180_000,
        stopGraceMs: 30_000,
      });
    });
    const gates = gatePorts.map((port, i) => {
      // behind HAProxy: the client's address comes in X-Forwarded-For (per-address login limits)
      const own = { NIGHTSHIFT_GATE_PORT: String(port), NIGHTSHIFT_GATE_METRICS_PORT: String(gateMetricsPorts[i]), NIGHTSHIFT_GATE_TRUSTED_PROXIES: HOST };
      return supervisor.add({
        name: gateName(i),
        command: node,
        args: [cliPath, 'gate'],
        env: childEnv(own),
        restartEnv: own,
        ready: () => portAnswers(port, HOST),
        readyTimeoutMs: 60_000,
      });
    });
    say(`starting ${nWorkers} workers and ${nGates} gates`);
    await Promise.all([...workers, ...gates].map((p) => p.start()));
    const lbConfig = path.join(dataDir, 'haproxy.cfg');
    fs.writeFileSync(lbConfig, renderHaproxyConfig({ host: HOST, port: lbPort, gates: gates.map((g, i) => ({ name: g.name, port: gatePorts[i]! })) }));
    await supervisor.add(haproxySpec(haproxy, lbConfig, HOST, lbPort)).start();

    // ------------------------------------------------------------ the gate's API key
    const apiKeyFile = path.join(dataDir, API_KEY_FILE);
    const keyPool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    let apiKey: string;
    try {
      const key = await ensureClusterKey(keyPool, apiKeyFile);
      apiKey = key.secret;
      say(`gate API key: ${key.created ? 'a new one' : 'the one kept'} in ${apiKeyFile}${key.revoked.length ? `; revoked the previous cluster key(s) ${key.revoked.map((p) => `${p}…`).join(', ')}` : ''}`);
    } finally {
      await keyPool.end();
    }

    const gateUrl = `http://${HOST}:${lbPort}`;
    const commandEnv = clusterCommandEnv(base, metricsPorts[0]!);
    const envFile = path.join(dataDir, ENV_FILE);
    writeEnvFile(envFile, commandEnv, dataDir);
    // one script per process, to start it again as this `up` did (README: restarting a process by hand)
    for (const p of supervisor.all()) writeProcessRestartScript(dataDir, p.spec, p.logFile);
    if (pgServer) writePostgresRestartScript(dataDir, pgServer.startCommand);
    supervisor.setInfo({ dataDir, gateUrl, temporalAddress, pgPort, smtpPort, temporalPorts, gatePorts, gateMetricsPorts, metricsPorts, temporalVersion: TEMPORAL_SERVER_VERSION });
    return {
      dataDir,
      config,
      env,
      commandEnv,
      envFile,
      gateUrl,
      temporalAddress,
      apiKey,
      apiKeyHeader: KEY_HEADER,
      apiKeyFile,
      mailDir,
      postgres,
      temporalServices: services.map((s) => s.name),
      workers: workers.map((w) => w.name),
      gates: gates.map((g) => g.name),
      proc: (name) => supervisor.get(name),
      processes: () => supervisor.all(),
      stop: stopEverything,
    };
  } catch (err) {
    await stopEverything();
    throw err;
  }
}

/**
 * A command's environment on this cluster: every address the cluster chose (PostgreSQL, Temporal, the SMTP
 * catcher, HAProxy as the gate, worker-1's metrics) and no Web UI. No password: the target's URL is derived
 * from NIGHTSHIFT_PG_PORT with the same NIGHTSHIFT_PG_PASSWORD as `up` had.
 */
export function clusterCommandEnv(base: Record<string, string>, workerMetricsPort: number): Record<string, string> {
  const keys = ['NIGHTSHIFT_DATA_DIR', 'NIGHTSHIFT_PG_PORT', 'TEMPORAL_ADDRESS', 'NIGHTSHIFT_SMTP_HOST', 'NIGHTSHIFT_SMTP_PORT', 'NIGHTSHIFT_GATE_HOST', 'NIGHTSHIFT_GATE_PORT'];
  return { ...Object.fromEntries(keys.map((k) => [k, base[k]!])), NIGHTSHIFT_METRICS_PORT: String(workerMetricsPort), NIGHTSHIFT_UI_URL: 'none' };
}

function writeEnvFile(file: string, env: Record<string, string>, dataDir: string): void {
  const text = [
    `# nightshift cluster on ${dataDir}: the environment of a nightshift command on this cluster (no secret).`,
    `# set -a; . ${shellWord(file)}; set +a   (rewritten by each \`cluster up\`: its ports change)`,
    ...Object.entries(env).map(([k, v]) => `${k}=${shellWord(v)}`),
    '',
  ].join('\n');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function names(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
}

function abortIf(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ClusterError('start interrupted');
}

/** The target database `nightshift` (Temporal's two are made by temporal-sql-tool). */
async function createTargetDatabase(config: Config): Promise<void> {
  const client = new pg.Client({ host: HOST, port: config.pg.port, user: config.pg.user, password: config.pg.password, database: 'postgres' });
  await client.connect();
  try {
    if (!(await databaseExists(client, config.pg.database))) await createDatabase(client, config.pg.database);
  } finally {
    await client.end();
  }
}

/**
 * `nightshift cluster down`: asks the owner of the cluster on dataDir to stop (SIGTERM, it stops every
 * process in order); an owner that is gone or does not stop in time is replaced: every recorded process
 * and the PostgreSQL of the folder are stopped from here.
 */
export async function stopCluster(dataDir: string, say: (s: string) => void = () => {}): Promise<'stopped' | 'not-running'> {
  const stateFile = path.join(path.resolve(dataDir), STATE_FILE);
  const state = readState(stateFile);
  const pgLeft = postmasterPid(path.join(path.resolve(dataDir), 'pg'));
  if (!state && !(pgLeft > 0 && runs(pgLeft, 'postgres')) && !processesOfFolder(dataDir).length) return 'not-running';
  if (state && runs(state.ownerPid, 'node')) {
    say(`stopping the cluster of pid ${state.ownerPid}`);
    process.kill(state.ownerPid, 'SIGTERM');
    if (!(await waitGone(state.ownerPid, 120_000))) {
      say(`pid ${state.ownerPid} does not stop: killing it and its processes`);
      process.kill(state.ownerPid, 'SIGKILL');
      await waitGone(state.ownerPid, 5_000);
    }
  }
  const left = readState(stateFile);
  if (left) {
    const stopped = await reapState(left);
    if (stopped.length) say(`stopped: ${stopped.join(', ')}`);
  }
  const restarted = await stopFolderProcesses(path.resolve(dataDir));
  if (restarted.length) say(`stopped processes started outside \`cluster up\`: ${restarted.join(', ')}`);
  await stopLeftPostgres(path.resolve(dataDir), say);
  fs.rmSync(stateFile, { force: true });
  return 'stopped';
}

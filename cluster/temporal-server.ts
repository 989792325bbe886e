import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { PROJECT_ROOT } from '../config/config';
import { ALL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { ClusterError, portAnswers, type ProcessSpec } from './processes';
import { databaseExists } from '../store/server/database-exists';
import { temporalSchemaVersioned } from '../store/server/temporal-schema-versioned';

/**
 * The real Temporal server of `nightshift cluster`: the binaries that scripts/install-temporal-server.sh
 * builds, its configuration rendered from cluster/temporal.template.yaml, the schema set up on PostgreSQL
 * with temporal-sql-tool, one process per service, and the namespace with Nightshift's search attributes
 * registered through the `temporal` CLI (as docker-compose.yml's temporal-setup does).
 */

const run = promisify(execFile);

/** Pinned with scripts/install-temporal-server.sh and docker-compose.yml's temporalio/server image. */
export const TEMPORAL_SERVER_VERSION = 'v1.31.2';
export const TEMPORAL_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];
export const NUM_HISTORY_SHARDS = 4;
export const NAMESPACE_RETENTION = '72h';

export interface TemporalBinaries {
  dir: string;
  server: string;
  sqlTool: string;
  schemaDir: string;
}

/** The per-version cache of scripts/install-temporal-server.sh, when it holds a complete build. */
function cachedBuild(env: NodeJS.ProcessEnv): string | undefined {
  const cache = env.NIGHTSHIFT_TOOLS_CACHE || path.join(env.HOME || '/root', '.cache', 'nightshift');
  const dir = path.join(cache, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  try {
    return fs.readFileSync(path.join(dir, '.complete'), 'utf8').trim() === TEMPORAL_SERVER_VERSION && fs.existsSync(path.join(dir, 'temporal-server')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** .tools/temporal-server links to the per-version cache; a missing build says which script makes it. */
export function temporalBinaries(root = PROJECT_ROOT, env: NodeJS.ProcessEnv = process.env): TemporalBinaries {
  const dir = path.join(root, '.tools', 'temporal-server');
  const b = {
    dir,
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    schemaDir: path.join(dir, 'schema', 'postgresql', 'v12'),
  };
  const version = (() => {
    try {
      return fs.readFileSync(path.join(dir, '.complete'), 'utf8').trim();
    } catch {
      return undefined;
    }
  })();
  if (version !== TEMPORAL_SERVER_VERSION || !fs.existsSync(b.server) || !fs.existsSync(b.sqlTool)) {
    const cached = cachedBuild(env);
    const how = cached
      ? `the build is in the cache (${cached}): \`bash scripts/install-temporal-server.sh\` links it here in a fraction of a second`
      : 'run `bash scripts/install-temporal-server.sh` (it builds it with Go, 5-9 minutes once per machine, then links it here)';
    throw new ClusterError(`the Temporal server ${TEMPORAL_SERVER_VERSION} is not installed in ${dir}${version ? ` (found ${version})` : ''}: ${how}`);
  }
  return b;
}

export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}
export const TEMPORAL_PORT_NAMES: (keyof TemporalPorts)[] = [
  'frontend', 'frontendHttp', 'frontendMembership', 'history', 'historyMembership', 'matching', 'matchingMembership', 'worker', 'workerMembership',
];

export interface TemporalPersistence {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface TemporalConfigInput {
  host: string;
  ports: TemporalPorts;
  persistence: TemporalPersistence;
  dynamicConfigPath: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  numHistoryShards?: number;
}

const TEMPLATE = path.join(__dirname, 'temporal.template.yaml');

/** The template with each {{name}} replaced by its JSON-quoted value (JSON strings are YAML strings); an unknown name fails. */
export function renderTemporalConfig(input: TemporalConfigInput): string {
  const { host, ports, persistence: p } = input;
  const values: Record<string, string | number> = {
    logLevel: input.logLevel ?? 'warn',
    numHistoryShards: input.numHistoryShards ?? NUM_HISTORY_SHARDS,
    pgAddress: `${p.host}:${p.port}`,
    pgUser: p.user,
    pgPassword: p.password,
    host,
    frontendPort: ports.frontend,
    frontendHttpPort: ports.frontendHttp,
    frontendMembershipPort: ports.frontendMembership,
    historyPort: ports.history,
    historyMembershipPort: ports.historyMembership,
    matchingPort: ports.matching,
    matchingMembershipPort: ports.matchingMembership,
    workerPort: ports.worker,
    workerMembershipPort: ports.workerMembership,
    frontendAddress: `${host}:${ports.frontend}`,
    dynamicConfigPath: input.dynamicConfigPath,
  };
  return fs.readFileSync(TEMPLATE, 'utf8').replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    if (!(name in values)) throw new ClusterError(`temporal.template.yaml: unknown placeholder {{${name}}}`);
    const v = values[name]!;
    return typeof v === 'number' ? String(v) : JSON.stringify(v);
  });
}

/** Shared with docker-compose.yml, which mounts it into temporalio/server. */
export const DYNAMIC_CONFIG_FILE = path.join(__dirname, 'temporal-dynamicconfig.yaml');

/** The database and schema of one store, with temporal-sql-tool: created when missing, set up once, then updated to this release. */
async function setupStore(bin: TemporalBinaries, p: TemporalPersistence, database: 'temporal' | 'temporal_visibility', say: (s: string) => void): Promise<void> {
  const env = { ...process.env, SQL_PASSWORD: p.password };
  const base = ['--plugin', 'postgres12', '--ep', p.host, '-p', String(p.port), '-u', p.user, '--db', database];
  const tool = async (args: string[]) => {
    try {
      await run(bin.sqlTool, [...base, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new ClusterError(`temporal-sql-tool ${args[0]} on ${database} failed: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-6).join('\n')}`);
    }
  };
  const admin = new pg.Client({ host: p.host, port: p.port, user: p.user, password: p.password, database: 'postgres' });
  await admin.connect();
  let exists: boolean;
  try {
    exists = await databaseExists(admin, database);
  } finally {
    await admin.end();
  }
  if (!exists) {
    say(`creating the ${database} database (temporal-sql-tool)`);
    await tool(['create']);
  }
  const db = new pg.Client({ host: p.host, port: p.port, user: p.user, password: p.password, database });
  await db.connect();
  let versioned: boolean;
  try {
    versioned = await temporalSchemaVersioned(db);
  } finally {
    await db.end();
  }
  if (!versioned) await tool(['setup-schema', '-v', '0.0']);
  const dir = path.join(bin.schemaDir, database === 'temporal' ? 'temporal' : 'visibility', 'versioned');
  await tool(['update-schema', '-d', dir]);
}

export async function setupTemporalSchema(bin: TemporalBinaries, p: TemporalPersistence, say: (s: string) => void): Promise<void> {
  await setupStore(bin, p, 'temporal', say);
  await setupStore(bin, p, 'temporal_visibility', say);
}

const SERVICE_PORT: Record<TemporalService, keyof TemporalPorts> = { frontend: 'frontend', history: 'history', matching: 'matching', worker: 'worker' };

/** One process per service, all on the same configuration file; ready when its gRPC port answers. */
export function temporalServiceSpec(bin: TemporalBinaries, service: TemporalService, configFile: string, ports: TemporalPorts, host: string): ProcessSpec {
  return {
    name: `temporal-${service}`,
    command: bin.server,
    args: ['--config-file', configFile, '--allow-no-auth', 'start', '--service', service],
    env: { ...process.env },
    ready: () => portAnswers(ports[SERVICE_PORT[service]], host),
    readyTimeoutMs: 120_000,
    stopGraceMs: 20_000,
  };
}

async function temporalCli(cli: string, args: string[], address: string, timeoutMs = 20_000): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run(cli, [...args, '--address', address], { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 });
    return { ok: true, out: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? e.message}` };
  }
}

/** Waits for the frontend to answer a health check (it needs history and matching in its ring first). */
export async function waitTemporalHealthy(cli: string, address: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    const r = await temporalCli(cli, ['operator', 'cluster', 'health'], address, 10_000);
    if (r.ok && /SERVING/.test(r.out)) return;
    last = r.out.trim();
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new ClusterError(`the Temporal frontend on ${address} is not healthy after ${Math.round(timeoutMs / 1000)} s: ${last.slice(0, 400)}`);
}

/** The namespace (when missing) and every search attribute of workflows/search-attributes.ts (when missing). */
export async function registerNamespace(cli: string, address: string, namespace: string, say: (s: string) => void): Promise<void> {
  const described = await temporalCli(cli, ['operator', 'namespace', 'describe', '--namespace', namespace], address);
  if (!described.ok) {
    say(`registering the namespace ${namespace}`);
    const created = await temporalCli(cli, ['operator', 'namespace', 'create', '--namespace', namespace, '--retention', NAMESPACE_RETENTION], address);
    if (!created.ok && !/already/i.test(created.out)) throw new ClusterError(`cannot create the namespace ${namespace}: ${created.out.trim().slice(0, 400)}`);
  }
  // A namespace just created reaches the other services' caches within ~10 s: retry until it does.
  const end = Date.now() + 60_000;
  for (;;) {
    const list = await temporalCli(cli, ['operator', 'search-attribute', 'list', '--namespace', namespace], address);
    const missing = ALL_SEARCH_ATTRIBUTES.map((k) => k.name).filter((n) => !list.out.includes(n));
    if (list.ok && !missing.length) return;
    for (const name of missing) {
      await temporalCli(cli, ['operator', 'search-attribute', 'create', '--namespace', namespace, '--name', name, '--type', 'Keyword'], address);
    }
    if (Date.now() > end) throw new ClusterError(`cannot register the search attributes ${missing.join(', ')} on ${namespace}: ${list.out.trim().slice(0, 400)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { loadConfig } from '../../config/config';
import { ROOT } from './helpers';
import { DYNAMIC_CONFIG_FILE, NUM_HISTORY_SHARDS, TEMPORAL_SERVER_VERSION } from '../../cluster/temporal-server';

/**
 * docker-compose.yml, Dockerfile, .env.example and the README agree with config/config.ts (issue 2,
 * "docker-compose.yml"). Docker itself is not needed: `docker compose config` runs only where it exists.
 */

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The variables config/config.ts reads: the keys of its zod env schema. */
function configVariables(): string[] {
  const source = read('config/config.ts');
  const start = source.indexOf('const envSchema = z.object({');
  expect(start).toBeGreaterThan(-1);
  const body = source.slice(start, source.indexOf('\n});', start));
  // TZ is the process's own zone, set by the system: an empty `TZ=` sourced from .env would switch Node to UTC.
  return [...body.matchAll(/^ {2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!).filter((v) => v !== 'TZ');
}

function envExample(): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of read('.env.example').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) vars.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'));
  }
  return vars;
}

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  ports?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }> | string[];
}

const compose = YAML.parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const SERVICES = ['postgresql', 'temporal-schema', 'temporal', 'temporal-setup', 'temporal-ui', 'mailpit', 'nightshift-worker', 'nightshift-gate'];

/** "127.0.0.1:${VAR:-default}:container" -> { variable, container } */
function publishedPorts(s: Service): { variable?: string; container: number }[] {
  return (s.ports ?? []).map((p) => {
    const container = Number(p.split(':').pop());
    const variable = /\$\{([A-Z0-9_]+)(:-[^}]*)?\}/.exec(p)?.[1];
    return { variable, container };
  });
}

test('compose has every service of the deployment: PostgreSQL, Temporal on PostgreSQL, its UI, search attributes, worker, gate, SMTP catcher', () => {
  expect(Object.keys(services).sort()).toEqual(expect.arrayContaining(SERVICES));
  // auto-setup is deprecated (no builds after 1.30): the server image plus one-shot setups
  expect(services.temporal!.image).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
  expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
  expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d/);
  expect(services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
  expect(services.mailpit!.image).toMatch(/^axllent\/mailpit:v\d/);
  // every image pinned: no :latest, no bare name
  for (const [name, s] of Object.entries(services)) {
    if (s.image && !s.build) expect({ name, image: s.image }).toEqual({ name, image: expect.stringMatching(/:[\w.-]+$/) });
    if (s.image) expect(s.image).not.toMatch(/:latest$/);
  }
});

test('compose runs the Temporal release `nightshift cluster` runs, with the same persistence, shard count and dynamic config', () => {
  const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
  expect(read('scripts/install-temporal-server.sh')).toContain(`TEMPORAL_SERVER_VERSION=${TEMPORAL_SERVER_VERSION}`);
  expect(services.temporal!.image).toBe(`temporalio/server:${version}`);
  for (const name of ['temporal-schema', 'temporal-setup']) expect({ name, image: services[name]!.image }).toEqual({ name, image: `temporalio/admin-tools:${version}` });
  expect(services.temporal!.environment).toMatchObject({ DB: 'postgres12', NUM_HISTORY_SHARDS: String(NUM_HISTORY_SHARDS), DBNAME: 'temporal', VISIBILITY_DBNAME: 'temporal_visibility' });
  const template = read('cluster/temporal.template.yaml');
  expect(template).toMatch(/pluginName: postgres12/);
  expect(template).toMatch(/databaseName: temporal\n/);
  expect(template).toMatch(/databaseName: temporal_visibility\n/);
  // one dynamic config file for both
  const mount = ((services.temporal as Service & { volumes?: string[] }).volumes ?? []).find((v) => v.includes('dynamicconfig'));
  expect(mount?.split(':')[0]).toBe(`./${path.relative(ROOT, DYNAMIC_CONFIG_FILE)}`);
  expect(mount?.split(':')[1]).toBe(String(services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH));
  // the schema: both databases with temporal-sql-tool (plugin postgres12), before the server starts
  const schema = services['temporal-schema']!;
  expect(schema.environment).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgresql' });
  const script = ([] as string[]).concat(schema.command ?? []).join('\n');
  for (const fragment of ['temporal-sql-tool', 'create', 'setup-schema -v 0.0', 'update-schema -d', 'temporal_visibility', 'postgresql/v12', '/temporal/versioned', '/visibility/versioned']) {
    expect(script).toContain(fragment);
  }
  expect(services.temporal!.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
  expect(services['temporal-setup']!.depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
});

test('the one-shot setup registers every search attribute of workflows/search-attributes.ts', () => {
  const setup = services['temporal-setup']!;
  expect(setup.image).toMatch(/^temporalio\/admin-tools:/);
  const script = ([] as string[]).concat(setup.command ?? []).join('\n');
  expect(script).toContain('temporal operator search-attribute create');
  // the namespace too: the server image creates none
  expect(script).toContain('temporal operator namespace create');
  const names = [...read('workflows/search-attributes.ts').matchAll(/defineSearchAttributeKey\('(\w+)'/g)].map((m) => m[1]!);
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) expect(script).toContain(name);
});

test('each service publishes its port through the NIGHTSHIFT_*_PORT variable that config uses for it', () => {
  const expected: [string, number, string][] = [
    ['postgresql', 5432, 'NIGHTSHIFT_PG_PORT'],
    ['temporal', 7233, 'NIGHTSHIFT_TEMPORAL_PORT'],
    ['temporal-ui', 8080, 'NIGHTSHIFT_UI_PORT'],
    ['mailpit', 1025, 'NIGHTSHIFT_SMTP_PORT'],
    ['nightshift-worker', 9464, 'NIGHTSHIFT_METRICS_PORT'],
    ['nightshift-gate', 8780, 'NIGHTSHIFT_GATE_PORT'],
  ];
  for (const [service, container, variable] of expected) {
    expect({ service, ports: publishedPorts(services[service]!) }).toEqual({ service, ports: expect.arrayContaining([{ variable, container }]) });
  }
  // inside the network, the services talk to the container ports
  const worker = services['nightshift-worker']!.environment!;
  expect(String(worker.NIGHTSHIFT_METRICS_PORT)).toBe('9464');
  expect(String(worker.NIGHTSHIFT_SMTP_PORT)).toBe('1025');
  expect(String(services['nightshift-gate']!.environment!.NIGHTSHIFT_GATE_PORT)).toBe('8780');
  expect(services['nightshift-gate']!.environment!.NIGHTSHIFT_GATE_HOST).toBe('0.0.0.0');
});

test('the worker is built from this repository and reaches PostgreSQL, Temporal and the SMTP catcher by service name', () => {
  const worker = services['nightshift-worker']!;
  expect(worker.build).toBe('.');
  expect(worker.command).toEqual(['node', 'bin/nightshift.js', 'worker']);
  const env = worker.environment!;
  for (const v of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_TASK_QUEUE', 'NIGHTSHIFT_SMTP_HOST', 'NIGHTSHIFT_SMTP_PORT', 'NIGHTSHIFT_DATA_DIR']) {
    expect(env).toHaveProperty(v);
  }
  expect(new URL(String(env.DATABASE_URL)).host).toBe('postgresql:5432');
  expect(new URL(String(env.DATABASE_URL)).pathname).toBe(`/${services.postgresql!.environment!.POSTGRES_DB}`);
  expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
  expect(env.NIGHTSHIFT_SMTP_HOST).toBe('mailpit');
  expect(worker.depends_on).toMatchObject({
    postgresql: { condition: 'service_healthy' },
    'temporal-setup': { condition: 'service_completed_successfully' },
  });

  const dockerfile = read('Dockerfile');
  expect(dockerfile).toMatch(/^FROM node:20/m);
  expect(dockerfile).toMatch(/npm ci/);
  expect(dockerfile).toMatch(/CMD \["node", "bin\/nightshift\.js", "worker"\]/);
});

test('every variable compose sets or interpolates for Nightshift is one config/config.ts reads', () => {
  const known = new Set(configVariables());
  const text = read('docker-compose.yml');
  // ${VAR} and ${VAR:-default}; $$ escapes belong to the containers' shells
  const interpolated = [...text.matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map((m) => m[1]!);
  expect(interpolated.filter((v) => !known.has(v))).toEqual([]);
  for (const name of ['nightshift-worker', 'nightshift-gate']) {
    const keys = Object.keys(services[name]!.environment ?? {});
    expect({ name, unknown: keys.filter((k) => !known.has(k)) }).toEqual({ name, unknown: [] });
  }
});

/** Variables read by the install scripts, not by config/config.ts: each one must be read by the script named. */
const SCRIPT_VARIABLES: Record<string, string> = { NIGHTSHIFT_TOOLS_CACHE: 'scripts/install-temporal-server.sh', NIGHTSHIFT_CHROMIUM: 'scripts/install-browser.sh' };

test('.env.example lists exactly the config variables (and the install scripts\' ones), each with its real default', () => {
  const example = envExample();
  const variables = configVariables();
  expect(variables.length).toBeGreaterThan(20);
  for (const [v, script] of Object.entries(SCRIPT_VARIABLES)) expect({ v, read: read(script).includes(`\${${v}:-`) }).toEqual({ v, read: true });
  expect([...example.keys()].filter((v) => !variables.includes(v) && !(v in SCRIPT_VARIABLES))).toEqual([]);
  expect(variables.filter((v) => !example.has(v))).toEqual([]);
  // a comment line above each variable
  const lines = read('.env.example').split('\n');
  lines.forEach((line, i) => {
    if (/^[A-Z]/.test(line)) expect({ line, comment: lines[i - 1]?.startsWith('#') }).toEqual({ line, comment: true });
  });
  // the file's values are the defaults: loading them changes nothing
  expect(loadConfig(Object.fromEntries(example), ROOT)).toEqual(loadConfig({}, ROOT));
});

const readme = path.join(ROOT, 'README.md');
const describeReadme = fs.existsSync(readme) ? describe : describe.skip;
if (!fs.existsSync(readme)) {
  console.warn('compose.test: README.md does not exist yet, the README checks are skipped');
}

describeReadme('README documents the deployment', () => {
  test('README names every variable of .env.example', () => {
    const text = fs.readFileSync(readme, 'utf8');
    expect([...envExample().keys()].filter((v) => !text.includes(v))).toEqual([]);
  });
  test('README names every compose service', () => {
    const text = fs.readFileSync(readme, 'utf8');
    expect(Object.keys(services).filter((s) => !text.includes(s))).toEqual([]);
  });
});

const dockerCompose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
(dockerCompose.status === 0 ? test : test.skip)('docker compose config accepts the file (only where Docker is installed)', () => {
  const r = spawnSync('docker', ['compose', '-f', path.join(ROOT, 'docker-compose.yml'), 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

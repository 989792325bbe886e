import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { renderHaproxyConfig } from '../../cluster/haproxy';
import { freePorts } from '../../cluster/processes';
import { writeProcessRestartScript } from '../../cluster/restart-scripts';
import { tempDir } from '../helpers/env';
import { renderTemporalConfig, DYNAMIC_CONFIG_FILE, NUM_HISTORY_SHARDS, TEMPORAL_PORT_NAMES, type TemporalPorts } from '../../cluster/temporal-server';

/** What `nightshift cluster` writes for the Temporal server and HAProxy (no process started here). */

const ports = Object.fromEntries(TEMPORAL_PORT_NAMES.map((n, i) => [n, 21_000 + i])) as unknown as TemporalPorts;

test('the Temporal config: postgres12 on both stores, one port set per service, 4 shards, the shared dynamic config; a password with YAML syntax stays a string', () => {
  const password = `p@ss: "x" #{{logLevel}}\n- y`;
  const text = renderTemporalConfig({ host: '127.0.0.1', ports, persistence: { host: '127.0.0.1', port: 5433, user: 'nightshift', password }, dynamicConfigPath: DYNAMIC_CONFIG_FILE });
  // every placeholder replaced, in one pass: the password's own braces stay as they are
  expect(text.split(JSON.stringify(password)).join('')).not.toMatch(/\{\{\w+\}\}/);
  const c = YAML.parse(text) as {
    persistence: { numHistoryShards: number; datastores: Record<string, { sql: { pluginName: string; databaseName: string; connectAddr: string; password: string } }> };
    services: Record<string, { rpc: { grpcPort: number; membershipPort: number; bindOnIP: string; httpPort?: number } }>;
    clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
    dynamicConfigClient: { filepath: string };
  };
  expect(c.persistence.numHistoryShards).toBe(NUM_HISTORY_SHARDS);
  expect(c.persistence.datastores.default!.sql).toMatchObject({ pluginName: 'postgres12', databaseName: 'temporal', connectAddr: '127.0.0.1:5433', password });
  expect(c.persistence.datastores.visibility!.sql).toMatchObject({ pluginName: 'postgres12', databaseName: 'temporal_visibility', password });
  expect(Object.keys(c.services).sort()).toEqual(['frontend', 'history', 'matching', 'worker']);
  expect(c.services.frontend!.rpc).toEqual({ grpcPort: ports.frontend, membershipPort: ports.frontendMembership, httpPort: ports.frontendHttp, bindOnIP: '127.0.0.1' });
  expect(c.services.history!.rpc).toEqual({ grpcPort: ports.history, membershipPort: ports.historyMembership, bindOnIP: '127.0.0.1' });
  expect(c.clusterMetadata.clusterInformation.active.rpcAddress).toBe(`127.0.0.1:${ports.frontend}`);
  expect(c.dynamicConfigClient.filepath).toBe(DYNAMIC_CONFIG_FILE);
});

test('HAProxy: one loopback address, every gate a checked server, the answering gate named in a header, X-Forwarded-For the real source only', () => {
  const text = renderHaproxyConfig({ host: '127.0.0.1', port: 8780, gates: [{ name: 'gate-1', port: 9001 }, { name: 'gate-2', port: 9002 }] });
  expect(text).toContain('bind 127.0.0.1:8780');
  expect(text).toMatch(/server gate-1 127\.0\.0\.1:9001 check/);
  expect(text).toMatch(/server gate-2 127\.0\.0\.1:9002 check/);
  expect(text).toContain('balance roundrobin');
  expect(text).toContain('X-Nightshift-Gate %s');
  // the gates trust HAProxy's X-Forwarded-For: the client's own is replaced, not appended to (`option forwardfor` kept it)
  expect(text).toContain('http-request set-header X-Forwarded-For %[src]');
  expect(text).not.toMatch(/option forwardfor/);
});

test('ports for Temporal are distinct, free and under 32768 (its membership table keeps them as smallint)', async () => {
  const picked = await freePorts(12, '127.0.0.1', 32_767);
  expect(new Set(picked).size).toBe(12);
  for (const p of picked) expect(p).toBeLessThan(32_768);
});

test('a restart script says "started again" only of a process still running 2 s on; one that exits at once is exit 1 with the end of its log (drill K2)', () => {
  const dir = tempDir('restart-script');
  fs.writeFileSync(path.join(dir, 'env'), 'NIGHTSHIFT_DATA_DIR=x\n');
  const log = path.join(dir, 'dead.log');
  const dead = writeProcessRestartScript(dir, { name: 'dead', command: 'sh', args: ['-c', 'echo "password authentication failed"; exit 3'], ready: async () => true }, log);
  const r = spawnSync(dead, { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`dead exited at once; the end of its log ${log}:`);
  expect(r.stderr).toContain('password authentication failed');
  const alive = writeProcessRestartScript(dir, { name: 'alive', command: 'sleep', args: ['30'], ready: async () => true }, path.join(dir, 'alive.log'));
  const ok = spawnSync(alive, { encoding: 'utf8' });
  expect(ok.status).toBe(0);
  const pid = Number(/^alive started again \(pid (\d+)\); log /.exec(ok.stdout)![1]);
  process.kill(pid, 'SIGKILL');
});

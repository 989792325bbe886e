import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { verifyArchive } from '../../archive/engine';
import { loadBackupKeyring } from '../../archive/keys';
import { PROJECT_ROOT, loadConfig } from '../../config/config';
import { startCluster, CLUSTER_READY_LINE, ENV_FILE } from '../../cluster/cluster';
import type { DoctorReport } from '../../cli/commands/doctor';
import { readState, STATE_FILE, type ClusterState } from '../../cluster/state';
import { runCli } from '../helpers/cli';
import { tempDir } from '../helpers/env';
import { describeCluster, processesUsing, until } from './helpers';

/**
 * `nightshift cluster up` / `down` as a user runs them (issue 10): one command starts PostgreSQL, the
 * Temporal server's four services, two workers, two gates behind HAProxy and the SMTP catcher; the real
 * `nightshift worker` backs dossiers up through it; the gate wants its API key; `down` (and a start that
 * fails, and an owner killed with SIGKILL) leaves no process behind.
 */

interface Up {
  child: ChildProcess;
  out: () => string;
  state: ClusterState;
}

async function clusterUp(dir: string, extra: string[] = []): Promise<Up> {
  let out = '';
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'nightshift.js'), 'cluster', 'up', '--dir', dir, ...extra], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NIGHTSHIFT_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await until('the cluster ready line', () => {
    if (child.exitCode !== null) throw new Error(`cluster up exited (${child.exitCode}):\n${out}`);
    return out.includes(CLUSTER_READY_LINE);
  }, 300_000, 500);
  return { child, out: () => out, state: readState(path.join(dir, STATE_FILE))! };
}

function cliEnv(dir: string, state: ClusterState): NodeJS.ProcessEnv {
  const info = state.info as { pgPort: number; temporalAddress: string };
  const env: NodeJS.ProcessEnv = { ...process.env, NIGHTSHIFT_DATA_DIR: dir, NIGHTSHIFT_PG_PORT: String(info.pgPort), TEMPORAL_ADDRESS: info.temporalAddress };
  delete env.DATABASE_URL;
  delete env.NIGHTSHIFT_TARGETS;
  return env;
}

/** The variables of <dir>/env, on an environment that names no other stack. */
function sourcedEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|NIGHTSHIFT_|TEMPORAL_)/.test(k)));
  for (const line of fs.readFileSync(path.join(dir, ENV_FILE), 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  return env;
}

describeCluster('nightshift cluster up / down', () => {
  let dir = '';
  let firstKey = '';
  const started: ChildProcess[] = [];
  beforeAll(() => {
    dir = tempDir('cluster-cli');
    fs.chmodSync(dir, 0o755);
  });
  afterAll(async () => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (dir) await runCli(['cluster', 'down', '--dir', dir], process.env, 120_000);
  }, 180_000);

  test('R-BK-1 one command starts every process; the real workers back up a batch through the four-process Temporal server; down stops them all', async () => {
    const up = await clusterUp(dir);
    started.push(up.child);
    try {
      await usesTheCluster(up);
    } finally {
      const down = await runCli(['cluster', 'down', '--dir', dir], process.env, 180_000);
      expect(down.code).toBe(0);
    }
    await until('cluster up to exit', () => up.child.exitCode !== null, 30_000);
    expect(up.child.exitCode).toBe(0);
    expect(processesUsing(dir)).toEqual([]);
    expect(fs.existsSync(path.join(dir, STATE_FILE))).toBe(false);
  }, 600_000);

  async function usesTheCluster(up: Up): Promise<void> {
    const names = Object.keys(up.state.pids).sort();
    expect(names).toEqual(
      ['gate-1', 'gate-2', 'haproxy', 'temporal-frontend', 'temporal-history', 'temporal-matching', 'temporal-worker', 'worker-1', 'worker-2'].sort(),
    );
    // everything on loopback: no listening socket of the cluster's processes on another address
    const info = up.state.info as { gateUrl: string; pgPort: number };
    expect(new URL(info.gateUrl).hostname).toBe('127.0.0.1');

    // the gate: its API key is required on /v1, the one the cluster made works (through HAProxy)
    const key = fs.readFileSync(path.join(dir, 'gate-api-key'), 'utf8').trim();
    expect(fs.statSync(path.join(dir, 'gate-api-key')).mode & 0o077).toBe(0);
    expect(up.out()).not.toContain(key);
    const refused = await fetch(`${info.gateUrl}/v1/targets/main/status`);
    expect(refused.status).toBe(401);
    // R-SE-5: a client's own X-Forwarded-For does not pass HAProxy, whose header the gates trust: the refusal is the
    // loopback client's, not the forged address's (drill: `option forwardfor` appended to it, the login limit escaped)
    const forged = await fetch(`${info.gateUrl}/v1/targets/main/status`, { headers: { 'x-forwarded-for': '203.0.113.77' } });
    expect(forged.status).toBe(401);
    const gateLogs = (): string => ['gate-1', 'gate-2'].map((g) => fs.readFileSync(path.join(dir, 'logs', `${g}.log`), 'utf8')).join('\n');
    const refusals = (): { address?: string }[] =>
      gateLogs()
        .split('\n')
        .filter((l) => l.includes('"msg":"request refused"'))
        .map((l) => JSON.parse(l) as { address?: string });
    await until('both refusals logged', () => refusals().length >= 2, 10_000);
    expect(refusals().filter((r) => r.address !== '127.0.0.1')).toEqual([]);
    expect(gateLogs()).not.toContain('203.0.113.77');
    const status = await fetch(`${info.gateUrl}/v1/targets/main/status`, { headers: { 'x-nightshift-key': key } });
    expect(status.status).toBe(200);

    // a backup batch through the CLI, on the real `nightshift worker`s
    const env = cliEnv(dir, up.state);
    const demo = await runCli(['dossiers', 'demo', '--count', '30', '--size-kb', '20'], env, 120_000);
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    const run = await runCli(['backup', 'run', '--wait', '--json'], env, 240_000);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const config = loadConfig(env, PROJECT_ROOT);
    const db = new pg.Client({ connectionString: config.targets[0]!.databaseUrl });
    await db.connect();
    let items: { code: string; status: string }[];
    try {
      items = (await db.query<{ code: string; status: string }>('SELECT code, status FROM nightshift.backup_run_item ORDER BY code')).rows;
    } finally {
      await db.end();
    }
    // R-BK-2 leaves the supervisor, templates and test dossiers out: every selected one backed up once
    expect(items.length).toBeGreaterThanOrEqual(20);
    expect(items.filter((i) => i.status !== 'ok')).toEqual([]);
    const archives = fs.readdirSync(config.backupDir).filter((f) => f.endsWith('.SVG'));
    expect(archives.sort()).toEqual(items.map((i) => `B${i.code}.SVG`).sort());
    // the banner's environment file: every address of this cluster, no secret; doctor checks this cluster and passes
    expect(fs.statSync(path.join(dir, ENV_FILE)).mode & 0o777).toBe(0o600);
    expect(up.out()).toContain(`set -a; . ${path.join(dir, ENV_FILE)}; set +a`);
    const envText = fs.readFileSync(path.join(dir, ENV_FILE), 'utf8');
    expect(envText).not.toMatch(/PASSWORD|DATABASE_URL|nsk_/);
    const doctor = await runCli(['doctor', '--json'], sourcedEnv(dir), 60_000);
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    const s = report.services;
    expect({ code: doctor.code, failing: Object.entries(s).filter(([, c]) => (c as { state?: string }).state === 'error') }).toEqual({ code: 0, failing: [] });
    expect(s.gate).toMatchObject({ address: info.gateUrl, state: 'ok' });
    expect(s.smtp).toMatchObject({ address: `smtp://127.0.0.1:${(up.state.info as { smtpPort: number }).smtpPort}`, state: 'ok' });
    expect(s.metrics.state).toBe('ok');
    expect(s.worker).toMatchObject({ state: 'ok', details: { pollers: expect.arrayContaining([expect.any(String), expect.any(String)]) } });
    expect(s.ui).toMatchObject({ state: 'absent', message: expect.stringMatching(/^no Web UI in this deployment/) });
    firstKey = key;
    for (const f of archives) expect((await verifyArchive(path.join(config.backupDir, f), loadBackupKeyring(config.backupKeys))).code).toBe(f.replace(/^B|\.SVG$/g, ''));
    expect(fs.readdirSync(config.backupDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }

  test('an owner killed with SIGKILL leaves its processes: `cluster down` stops every one of them; processes restarted by their scripts are as `up` started them', async () => {
    // second start on the same folder: same databases, no initialisation; the same ports at every start from
    // --ports-from (drill K: new random ports at every `up` broke the application's gate URL), the gate's first
    let up: Up | undefined;
    let base = 0;
    for (let tries = 0; !up; tries++) {
      base = 21_000 + Math.floor(Math.random() * 9_000);
      const attempt = await clusterUp(dir, ['--ports-from', String(base)]).catch((err: Error) => {
        if (tries < 3 && /is taken/.test(err.message)) return undefined;
        throw err;
      });
      up = attempt;
    }
    started.push(up.child);
    const info = up.state.info as { gateUrl: string; pgPort: number; gatePorts: number[]; gateMetricsPorts: number[] };
    expect([new URL(info.gateUrl).port, info.pgPort]).toEqual([String(base), base + 1]);
    expect(up.out()).toContain(`${path.join(dir, 'restart')}/<name> starts one again as this \`up\` did`);
    // the same gate key as the first start, still the only cluster key that works
    expect(fs.readFileSync(path.join(dir, 'gate-api-key'), 'utf8').trim()).toBe(firstKey);
    // a script per process, no secret in any
    expect(fs.readdirSync(path.join(dir, 'restart')).sort()).toEqual(
      ['gate-1', 'gate-2', 'haproxy', 'postgres', 'temporal-frontend', 'temporal-history', 'temporal-matching', 'temporal-worker', 'worker-1', 'worker-2'].sort(),
    );
    for (const f of fs.readdirSync(path.join(dir, 'restart'))) {
      const commands = fs.readFileSync(path.join(dir, 'restart', f), 'utf8').split('\n').filter((l) => !l.startsWith('#'));
      expect(commands.join('\n')).not.toMatch(/PASSWORD|DATABASE_URL|nsk_|nightshift:nightshift/);
    }
    expect(fs.readFileSync(path.join(dir, 'restart', 'postgres'), 'utf8')).toMatch(/pg_ctl'? -D .* -w start/);

    // a gate killed: doctor names it and its script (HAProxy still answers), which starts it again as `up` did
    const gatePid = up.state.pids['gate-1']!;
    process.kill(-gatePid, 'SIGKILL');
    await until('the gate exit line', () => up!.out().includes(`gate-1 (pid ${gatePid}) exited, killed by SIGKILL`), 10_000);
    const doctor = JSON.parse((await runCli(['doctor', '--json'], sourcedEnv(dir), 60_000)).stdout) as DoctorReport;
    expect(doctor.services.gate).toMatchObject({ state: 'warning', fix: `${path.join(dir, 'restart', 'gate-1')} (each starts that gate again as \`cluster up\` did)` });
    expect(doctor.services.gate.message).toMatch(/but 1 of the cluster's 2 gates behind it is down: gate-1 /);

    // then gate-2 and the Temporal server's history and matching services too (drills): HAProxy answers its own 503
    // page, the Temporal frontend still answers; doctor said the database was down, and Temporal ok, exit 0
    for (const name of ['gate-2', 'temporal-history', 'temporal-matching']) {
      const pid = up.state.pids[name]!;
      process.kill(-pid, 'SIGKILL');
      await until(`the ${name} exit line`, () => up!.out().includes(`${name} (pid ${pid}) exited, killed by SIGKILL`), 10_000);
    }
    const broken = await runCli(['doctor', '--json'], sourcedEnv(dir), 60_000);
    expect(broken.code).toBe(1);
    const b = (JSON.parse(broken.stdout) as DoctorReport).services;
    expect(b.gate).toMatchObject({ state: 'error', fix: `${path.join(dir, 'restart', 'gate-1')} && ${path.join(dir, 'restart', 'gate-2')} (each starts that gate again as \`cluster up\` did)` });
    expect(b.gate.message).toMatch(/^answers HTTP 503 on \/readyz, but gate-1 and gate-2 are down \(gate-1 \(127\.0\.0\.1:\d+\) does not answer \(ECONNREFUSED\); gate-2 /);
    expect(b.gate.message).not.toMatch(/database/);
    expect(b.temporal).toMatchObject({
      state: 'error',
      fix: `${path.join(dir, 'restart', 'temporal-history')} && ${path.join(dir, 'restart', 'temporal-matching')} (each starts that Temporal service again as \`cluster up\` did)`,
    });
    // UNAVAILABLE once the frontend has seen the hosts go; within the first seconds, no answer before the deadline
    const silent = '(DEADLINE_EXCEEDED: no answer within 4 s|14 UNAVAILABLE: [^;]*)';
    expect(b.temporal.message).toMatch(
      new RegExp(`^server 1\\.31\\.2, namespace "\\w+", but its history and matching services do not answer \\(${silent} on DescribeWorkflowExecution; ${silent} on DescribeTaskQueue\\): every workflow start, signal, query and update fails`),
    );
    expect(b.worker).toMatchObject({ state: 'warning', message: 'not checked: the matching service of Temporal does not answer', fix: expect.stringMatching(/^see the Temporal line/) });
    const gateAgain = execFileSync(path.join(dir, 'restart', 'gate-1'), { env: sourcedEnv(dir), encoding: 'utf8' });
    const gateAgainPid = Number(/gate-1 started again \(pid (\d+)\)/.exec(gateAgain)![1]);
    await until('gate-1 answering again', async () => (await fetch(`http://127.0.0.1:${info.gatePorts[0]}/healthz`).catch(() => undefined))?.status === 200, 60_000);
    // its own port and metrics port and the trusted proxy (HAProxy's X-Forwarded-For), not <dir>/env's
    const environ = fs.readFileSync(`/proc/${gateAgainPid}/environ`, 'utf8').split('\0');
    expect(environ).toEqual(expect.arrayContaining([`NIGHTSHIFT_GATE_PORT=${info.gatePorts[0]}`, `NIGHTSHIFT_GATE_METRICS_PORT=${info.gateMetricsPorts[0]}`, 'NIGHTSHIFT_GATE_TRUSTED_PROXIES=127.0.0.1']));

    // HAProxy crashes: `up` says so in one line; the operator starts it again by hand, with its script
    const lbPid = up.state.pids.haproxy!;
    process.kill(-lbPid, 'SIGKILL');
    await until('the exit line', () => up!.out().includes(`haproxy (pid ${lbPid}) exited, killed by SIGKILL; not restarted; log ${path.join(dir, 'logs', 'haproxy.log')}`), 10_000);
    const lbAgain = execFileSync(path.join(dir, 'restart', 'haproxy'), { env: sourcedEnv(dir), encoding: 'utf8' });
    const byHandPid = Number(/haproxy started again \(pid (\d+)\)/.exec(lbAgain)![1]);
    await until('HAProxy answering again', async () => (await fetch(`${info.gateUrl}/healthz`).catch(() => undefined))?.status === 200, 30_000);
    const pids = Object.values(up.state.pids);
    up.child.kill('SIGKILL');
    await until('the owner gone', () => up.child.exitCode !== null || up.child.signalCode !== null, 10_000);
    expect(processesUsing(dir).length).toBeGreaterThan(0); // orphans, as after a crash
    const down = await runCli(['cluster', 'down', '--dir', dir], process.env, 180_000);
    expect(down.code).toBe(0);
    expect(processesUsing(dir)).toEqual([]);
    for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    for (const pid of [byHandPid, gateAgainPid]) expect(fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBeFalsy();
    expect(down.stdout).toMatch(/stopped processes started outside `cluster up`: .*haproxy \(pid \d+\)/);
    expect(down.stdout).toMatch(new RegExp(`stopped processes started outside \`cluster up\`: .*gate \\(pid ${gateAgainPid}\\)`));
  }, 600_000);

  test('a start that fails half-way stops everything it had started', async () => {
    const failDir = tempDir('cluster-fail');
    fs.chmodSync(failDir, 0o755);
    const lines: string[] = [];
    const failing = startCluster({
      dataDir: failDir,
      workers: 1,
      gates: 1,
      // PostgreSQL and the Temporal server start; then the worker dies at once
      workerCommand: () => ({ command: process.execPath, args: ['-e', 'console.error("worker cannot start"); process.exit(3)'] }),
      say: (l) => lines.push(l),
    });
    await expect(failing).rejects.toThrow(/worker-1 exited while starting \(3\)[\s\S]*worker cannot start/);
    expect(lines.some((l) => l.startsWith('starting the Temporal server'))).toBe(true);
    expect(processesUsing(failDir)).toEqual([]);
    expect(fs.existsSync(path.join(failDir, STATE_FILE))).toBe(false);
  }, 300_000);
});

import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { DoctorReport } from '../../cli/commands/doctor';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import { requireEnv, tempDir } from '../helpers/env';
import { cleanEnv, freePorts, portFree, runCli } from './helpers';
import { type Proc, interrupt, startDev } from './process';

/**
 * `nightshift dev` as a user runs it (issue 2, "Real stack"): a fresh data dir and free ports, the CLI
 * against it, Ctrl-C (SIGINT) stops every child, and a restart finds the same dossiers and history.
 */

async function codes(env: NodeJS.ProcessEnv): Promise<string[]> {
  const r = await runCli(['dossiers', 'list', '--json'], env);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { code: string }[]).map((d) => d.code).sort();
}

/** What `dev` prints once everything runs (cli/commands/dev.ts READY_LINE; not imported, to keep this test light). */
const READY_LINE = 'Nightshift dev stack ready';

const running: Proc[] = [];
afterAll(async () => {
  // a failed test must not leave a stack behind
  for (const dev of running) if (dev.child.exitCode === null) await interrupt(dev);
});

test('nightshift dev starts the stack, serves the CLI, stops every child on SIGINT, and restarts with the same state', async () => {
  const [pgPort, temporalPort, uiPort, metricsPort, smtpPort, gatePort] = await freePorts(6);
  const dataDir = tempDir('dev');
  const password = 'dev-secret-7f3a';
  const env = cleanEnv({
    NIGHTSHIFT_DATA_DIR: dataDir,
    NIGHTSHIFT_PG_PORT: String(pgPort),
    NIGHTSHIFT_PG_PASSWORD: password,
    NIGHTSHIFT_TEMPORAL_PORT: String(temporalPort),
    NIGHTSHIFT_UI_PORT: String(uiPort),
    NIGHTSHIFT_METRICS_PORT: String(metricsPort),
    NIGHTSHIFT_SMTP_PORT: String(smtpPort),
    NIGHTSHIFT_GATE_PORT: String(gatePort),
    NIGHTSHIFT_WORKER_CONCURRENCY: '2',
    TEMPORAL_CLI: requireEnv('NS_TEST_TEMPORAL_CLI'),
    TEMPORAL_TEST_SERVER: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER'),
  });
  const ports = [pgPort!, temporalPort!, uiPort!, metricsPort!, smtpPort!, gatePort!];

  // --- first start: everything initialised, demo loaded
  const first = startDev(env);
  running.push(first);
  await first.waitFor(READY_LINE, 180_000);
  expect(first.out()).toMatch(/loading 12 demo dossiers/);
  expect(first.out()).toContain(`postgres://nightshift@127.0.0.1:${pgPort}/nightshift`);
  expect(first.out()).toContain(`http://localhost:${uiPort}`);
  expect(first.out()).toContain(`http://127.0.0.1:${metricsPort}/metrics`);
  expect(first.out()).toMatch(/nightshift\.js backup dossier \S+ --wait/);
  expect(first.out()).not.toContain(password);

  // a second dev on the same data dir is refused
  const again = await runCli(['dev'], env);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/already runs on/);

  const before = await codes(env);
  expect(before).toHaveLength(12);

  const doctor = await runCli(['doctor', '--json'], env);
  const report = JSON.parse(doctor.stdout) as DoctorReport;
  expect(doctor.code).toBe(0);
  for (const service of ['temporal', 'ui', 'worker', 'metrics', 'smtp', 'tools', 'gate'] as const) {
    expect({ service, ...report.services[service] }).toMatchObject({ service, state: 'ok' });
  }
  expect(report.services.postgres.main).toMatchObject({ state: 'ok', address: `postgres://nightshift@127.0.0.1:${pgPort}/nightshift` });

  // the gate runs too: the business application can log in (R-SE-1)
  expect(first.out()).toContain(`http://127.0.0.1:${gatePort}/`);
  // R-SE-4: with the demo target's key that dev prints (a curl line); without it, 401
  const devKey = /X-Nightshift-Key: (nsk_[A-Za-z0-9_-]{43})/i.exec(first.out())?.[1] ?? '';
  expect(first.out()).toContain(`curl -H 'x-nightshift-key: ${devKey}' http://127.0.0.1:${gatePort}/v1/targets/main/status`);
  expect((await fetch(`http://127.0.0.1:${gatePort}/v1/targets/main/status`)).status).toBe(401);
  const login = await fetch(`http://127.0.0.1:${gatePort}/v1/targets/main/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-nightshift-key': devKey },
    body: JSON.stringify({ user: 'dev-test' }),
  });
  expect(login.status).toBe(201);
  const status = (await (await fetch(`http://127.0.0.1:${gatePort}/v1/targets/main/status`, { headers: { 'x-nightshift-key': devKey } })).json()) as { state: string; openSessions: number };
  expect(status).toMatchObject({ state: 'open', openSessions: 1 });

  // a workflow no worker serves: it must still be there after the restart (persistent --db-filename)
  const address = `127.0.0.1:${temporalPort}`;
  let connection = await Connection.connect({ address });
  await new Client({ connection }).workflow.start('persistenceProbe', { taskQueue: 'nobody-polls-this', workflowId: 'dev-test-probe' });
  await connection.close();

  // --- Ctrl-C: exit 0, every port free again, lock released
  expect(await interrupt(first)).toBe(0);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
  expect(fs.existsSync(path.join(dataDir, 'dev.lock'))).toBe(false);

  // --- restart: same dossiers, no second demo load, same workflow history; the gate's metrics on the port given
  const [gateMetricsPort] = await freePorts(1);
  const second = startDev({ ...env, NIGHTSHIFT_GATE_METRICS_PORT: String(gateMetricsPort) });
  running.push(second);
  await second.waitFor(READY_LINE, 180_000);
  expect(second.out()).toMatch(new RegExp(`gate metrics: http://127\\.0\\.0\\.1:${gateMetricsPort}\\b`));
  expect(second.out()).not.toMatch(/loading \d+ demo dossiers/);
  // the dev key survives the restart (kept in the data folder)
  expect(second.out()).toContain(devKey);
  expect(await codes(env)).toEqual(before);
  connection = await Connection.connect({ address });
  try {
    const described = await new Client({ connection }).workflow.getHandle('dev-test-probe').describe();
    expect(described.status.name).toBe('RUNNING');
  } finally {
    await connection.close();
  }
  expect(await interrupt(second)).toBe(0);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });

  // --- the backup disk lost (issue 13, R-BK-14): dev refuses the new empty folder and stops its PostgreSQL; the
  // command its line names starts that PostgreSQL for itself, marks the folder with --yes, and dev starts again
  const backups = path.join(dataDir, 'sauve');
  fs.rmSync(backups, { recursive: true });
  fs.mkdirSync(backups);
  const refused = startDev(env);
  running.push(refused);
  expect(await refused.exited).not.toBe(0);
  expect(refused.out()).toContain("the old folder lost: 'nightshift store adopt --target main' marks this one");
  const plan = await runCli(['store', 'adopt'], env);
  expect({ code: plan.code, stderr: plan.stderr }).toEqual({ code: 0, stderr: `the dev stack's PostgreSQL is not running: started for this command (${path.join(dataDir, 'pg')}), stopped after\n` });
  expect(plan.stdout).toContain('would be marked with it');
  const adopted = await runCli(['store', 'adopt', '--yes'], env);
  expect(adopted.code).toBe(0);
  expect(adopted.stdout).toContain(`backup folder ${backups}: marked, it is the shared store`);
  expect(await portFree(pgPort!)).toBe(true);
  const third = startDev(env);
  running.push(third);
  await third.waitFor(READY_LINE, 180_000);
  expect(await codes(env)).toEqual(before);

  // --- its PostgreSQL killed (kill -9) under the running stack: dev starts it again by itself, as a service manager
  // would, and the CLI works again (drill K, session 39: dev went on without it; the CLI advised `npm run dev`, refused)
  const postmaster = () => Number(fs.readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const killed = postmaster();
  process.kill(killed, 'SIGKILL');
  await third.waitFor('PostgreSQL is back', 90_000);
  expect(third.out()).toContain(`PostgreSQL (pid ${killed}) stopped unexpectedly (signal SIGKILL): starting it again`);
  expect(postmaster()).not.toBe(killed);
  expect(await codes(env)).toEqual(before);
  expect(await interrupt(third)).toBe(0);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });

  // --- a PostgreSQL left running on this data folder (started by hand once dev was gone): the next dev stops it and
  // starts its own (it said "port … already in use: set NIGHTSHIFT_PG_PORT to a free port", for the stack's own cluster)
  const byHand = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'pg'), port: pgPort!, user: 'nightshift', password, persistent: true });
  const fourth = startDev(env);
  running.push(fourth);
  await fourth.waitFor(READY_LINE, 180_000);
  expect(fourth.out()).toContain(`stopping the PostgreSQL of this data folder left running (pid ${byHand.pid}, by an earlier dev or started by hand)`);
  expect(byHand.exited()).toBe(true);
  expect(await codes(env)).toEqual(before);
  expect(await interrupt(fourth)).toBe(0);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
}, 900_000);

import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireEnv, tempDir } from '../helpers/env';
import { ROOT, cleanEnv, freePorts, runCli } from './helpers';

/**
 * What the dev terminal shows stays for a person: the gate's pino lines (its start, each refusal) go to logs/gate.log,
 * and after a restart the ready summary counts the dossiers the target holds now, and its example backup names a
 * demo dossier, not whatever else sorts first.
 */

const READY_LINE = 'Nightshift dev stack ready';

interface Dev {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  waitFor(text: string, ms: number): Promise<void>;
  exited: Promise<number | null>;
}

function startDev(env: NodeJS.ProcessEnv): Dev {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'nightshift.js'), 'dev'], { cwd: ROOT, env });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    waiters.forEach((w) => w());
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    out: () => out,
    exited,
    waitFor: (text, ms) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms; output:\n${out}`)), ms);
        const check = () => {
          if (out.includes(text)) {
            clearTimeout(timer);
            resolve();
          }
        };
        waiters.push(check);
        void exited.then((code) => {
          clearTimeout(timer);
          if (!out.includes(text)) reject(new Error(`dev exited (${code}) before "${text}"; output:\n${out}`));
        });
        check();
      }),
  };
}

async function interrupt(dev: Dev): Promise<number | null> {
  dev.child.kill('SIGINT');
  const timer = setTimeout(() => dev.child.kill('SIGKILL'), 60_000);
  try {
    return await dev.exited;
  } finally {
    clearTimeout(timer);
  }
}

const running: Dev[] = [];
afterAll(async () => {
  for (const dev of running) if (dev.child.exitCode === null) await interrupt(dev);
});

test('the gate logs to logs/gate.log, not the terminal; after a restart the summary counts what the target holds and suggests a demo dossier', async () => {
  const [pgPort, temporalPort, uiPort, metricsPort, smtpPort, gatePort] = await freePorts(6);
  const dataDir = tempDir('dev-summary');
  const env = cleanEnv({
    NIGHTSHIFT_DATA_DIR: dataDir,
    NIGHTSHIFT_PG_PORT: String(pgPort),
    NIGHTSHIFT_TEMPORAL_PORT: String(temporalPort),
    NIGHTSHIFT_UI_PORT: String(uiPort),
    NIGHTSHIFT_METRICS_PORT: String(metricsPort),
    NIGHTSHIFT_SMTP_PORT: String(smtpPort),
    NIGHTSHIFT_GATE_PORT: String(gatePort),
    NIGHTSHIFT_WORKER_CONCURRENCY: '2',
    TEMPORAL_CLI: requireEnv('NS_TEST_TEMPORAL_CLI'),
    TEMPORAL_TEST_SERVER: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER'),
  });
  const gateLog = path.join(dataDir, 'logs', 'gate.log');

  const first = startDev(env);
  running.push(first);
  await first.waitFor(READY_LINE, 180_000);
  expect(first.out()).toContain(`  Dossiers     12 on target main, of which 12 demo (DEMO0001..DEMO0012)`);
  expect(first.out()).toMatch(/nightshift\.js backup dossier DEMO\d{4} --wait/);

  // a refused request (no key): its warn line lands in the gate's log, the terminal stays quiet
  expect((await fetch(`http://127.0.0.1:${gatePort}/v1/targets/main/status`)).status).toBe(401);
  await sleep(200);
  expect(fs.readFileSync(gateLog, 'utf8')).toMatch(/"msg":"Server listening at http:\/\/127\.0\.0\.1:\d+"/);
  expect(fs.readFileSync(gateLog, 'utf8')).toMatch(/"msg":"request refused"/);
  expect(first.out()).not.toMatch(/^\{"level"/m);

  // dossiers that are not the demo's, sorting before them
  const added = await runCli(['dossiers', 'demo', '--count', '3', '--prefix', 'AAA', '--size-kb', '5'], env);
  expect(added.code).toBe(0);
  expect(await interrupt(first)).toBe(0);

  const second = startDev(env);
  running.push(second);
  await second.waitFor(READY_LINE, 180_000);
  expect(second.out()).toContain(`  Dossiers     15 on target main, of which 12 demo (DEMO0001..DEMO0012)`);
  expect(second.out()).toMatch(/nightshift\.js backup dossier DEMO\d{4} --wait/);
  expect(second.out()).not.toMatch(/^\{"level"/m);
  expect(await interrupt(second)).toBe(0);
}, 480_000);

import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../helpers/env';
import { runCli } from './helpers';
import { type Proc, devEnv, interrupt, startDev } from './process';

/**
 * What the dev terminal shows stays for a person: the gate's pino lines (its start, each refusal) go to logs/gate.log,
 * and after a restart the ready summary counts the dossiers the target holds now, and its example backup names a
 * demo dossier, not whatever else sorts first.
 */

const READY_LINE = 'Nightshift dev stack ready';

const running: Proc[] = [];
afterAll(async () => {
  for (const dev of running) if (dev.child.exitCode === null) await interrupt(dev);
});

test('the gate logs to logs/gate.log, not the terminal; after a restart the summary counts what the target holds and suggests a demo dossier', async () => {
  const dataDir = tempDir('dev-summary');
  const { env, port } = await devEnv({ dataDir });

  const gateLog = path.join(dataDir, 'logs', 'gate.log');

  const first = startDev(env);
  running.push(first);
  await first.waitFor(READY_LINE, 180_000);
  expect(first.out()).toContain(`  Dossiers     12 on target main, of which 12 loaded at the first start (DEMO0001..DEMO0012)`);
  expect(first.out()).toMatch(/nightshift\.js backup dossier DEMO\d{4} --wait/);

  // a refused request (no key): its warn line lands in the gate's log, the terminal stays quiet
  expect((await fetch(`http://127.0.0.1:${port.gate}/v1/targets/main/status`)).status).toBe(401);
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
  expect(second.out()).toContain(`  Dossiers     15 on target main, of which 12 loaded at the first start (DEMO0001..DEMO0012)`);
  expect(second.out()).toMatch(/nightshift\.js backup dossier DEMO\d{4} --wait/);
  expect(second.out()).not.toMatch(/^\{"level"/m);
  expect(await interrupt(second)).toBe(0);
}, 480_000);

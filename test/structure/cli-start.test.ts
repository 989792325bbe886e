import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The CLI's start stays light: every `nightshift` command loads cli/main.ts whole (commander needs each command's
 * definition), so a value import of a heavy library at the top of any command module is paid by all of them. These
 * load only where they are used: the Temporal client when a command connects (workers/resources.ts), the worker, the
 * gate and the dev stack when `worker`, `gate serve` or `dev` runs (cli/lazy.ts), the S3 client when a store is opened.
 * Measured (2 cores): `nightshift --version` 0.85-1.1 s -> ~0.5 s; test/cli/dossiers.test.ts (≈40 CLI runs) 61 -> 43 s.
 */
const HEAVY = ['@temporalio/client', '@temporalio/worker', '@temporalio/proto', '@grpc/grpc-js', '@aws-sdk/client-s3', 'fastify', 'nodemailer', 'pino'];

test('loading the CLI (every command defined) loads none of the heavy libraries', () => {
  const root = path.resolve(__dirname, '../..');
  const script = `
    require('tsx/cjs');
    require('./cli/main.ts');
    const loaded = Object.keys(require.cache).map((f) => f.replace(/\\\\/g, '/'));
    const heavy = ${JSON.stringify(HEAVY)}.filter((m) => loaded.some((f) => f.includes('/node_modules/' + m + '/')));
    process.stdout.write(JSON.stringify(heavy));
  `;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(JSON.parse(out)).toEqual([]);
});

test('every lazy(__dirname, id) of the CLI names a module that is there, the one its type names', () => {
  const root = path.resolve(__dirname, '../..');
  const calls: { file: string; typed: string; id: string }[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(p, 'utf8').matchAll(/lazy<typeof import\('([^']+)'\)>\(__dirname, '([^']+)'\)/g)) calls.push({ file: p, typed: m[1]!, id: m[2]! });
      }
    }
  };
  walk(path.join(root, 'cli'));
  // the dev stack's module, the worker's and the doctor's at least (a wrong id would fail only when its command runs)
  expect(calls.length).toBeGreaterThanOrEqual(3);
  for (const c of calls) {
    expect({ file: c.file, id: c.id }).toEqual({ file: c.file, id: c.typed });
    expect(() => require.resolve(path.resolve(path.dirname(c.file), c.id))).not.toThrow();
  }
});

test('every CLI module loads first on its own: the commands import each other, and a value built at load from a module still loading fails (the CI found `patch rollback` dead so)', () => {
  const root = path.resolve(__dirname, '../..');
  const files = [...fs.readdirSync(path.join(root, 'cli', 'commands')).map((f) => `cli/commands/${f}`), ...fs.readdirSync(path.join(root, 'cli')).map((f) => `cli/${f}`)].filter((f) => f.endsWith('.ts'));
  // one process for all: each module first in a fresh module cache
  const script = `
    require('tsx/cjs');
    const failed = [];
    for (const f of ${JSON.stringify(files)}) {
      for (const k of Object.keys(require.cache)) if (!k.includes('/node_modules/')) delete require.cache[k];
      try { require('./' + f); } catch (e) { failed.push(f + ': ' + e.message); }
    }
    process.stdout.write(JSON.stringify(failed));
  `;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(files.length).toBeGreaterThan(20);
  expect(JSON.parse(out)).toEqual([]);
});

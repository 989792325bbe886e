import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { browserUnavailable, chromiumPath } from './helpers/web-ui';

/**
 * scripts/install-browser.sh (run by `npm test` before jest): a no-op once chromium is there; never a
 * failure of `npm test`: where it cannot install, one line, and the Web UI test skips with the reason.
 */

const script = path.join(PROJECT_ROOT, 'scripts', 'install-browser.sh');
const run = (args: string[], env: NodeJS.ProcessEnv) => spawnSync('bash', [script, ...args], { cwd: PROJECT_ROOT, encoding: 'utf8', env });

const installed = chromiumPath();
(installed ? test : test.skip)('chromium installed: a no-op that names it, at once', () => {
  const t0 = Date.now();
  const r = run([], { ...process.env, NIGHTSHIFT_CHROMIUM: '' });
  expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 0, stdout: `browser: ${installed}\n`, stderr: '' });
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(run(['--quiet'], { ...process.env, NIGHTSHIFT_CHROMIUM: '' })).toMatchObject({ status: 0, stdout: '', stderr: '' });
});

test('NIGHTSHIFT_CHROMIUM that is not executable: one line, no failure of npm test, and the Web UI test skips saying why', () => {
  const r = run(['--quiet'], { ...process.env, NIGHTSHIFT_CHROMIUM: '/nonexistent/chromium' });
  expect(r.status).toBe(0);
  expect(r.stderr.trim().split('\n')).toEqual(['install-browser: NIGHTSHIFT_CHROMIUM=/nonexistent/chromium is not executable: the Web UI test will be skipped']);
  const before = process.env.NIGHTSHIFT_CHROMIUM;
  process.env.NIGHTSHIFT_CHROMIUM = '/nonexistent/chromium';
  try {
    expect(browserUnavailable()).toBe('NIGHTSHIFT_CHROMIUM=/nonexistent/chromium is not executable');
  } finally {
    if (before === undefined) delete process.env.NIGHTSHIFT_CHROMIUM;
    else process.env.NIGHTSHIFT_CHROMIUM = before;
  }
});

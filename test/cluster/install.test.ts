import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { TEMPORAL_SERVER_VERSION, temporalBinaries } from '../../cluster/temporal-server';
import { tempDir } from '../helpers/env';
import { clusterUnavailable } from './helpers';

/** scripts/install-temporal-server.sh: once built, a no-op that says where; without Go, one line and a failure. */

const script = path.join(PROJECT_ROOT, 'scripts', 'install-temporal-server.sh');

(clusterUnavailable() ? test.skip : test)('a second run reuses the cached build at once and links it into .tools', () => {
  const t0 = Date.now();
  const r = spawnSync('bash', [script], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(Date.now() - t0).toBeLessThan(10_000);
  const cacheDir = fs.realpathSync(path.join(PROJECT_ROOT, '.tools', 'temporal-server'));
  expect(path.basename(cacheDir)).toBe(`temporal-server-${TEMPORAL_SERVER_VERSION}`);
  expect(r.stdout).toContain(`temporal server: ${TEMPORAL_SERVER_VERSION} in ${cacheDir}`);
  // outside the checkout: shared by every clone of the machine
  expect(cacheDir.startsWith(fs.realpathSync(PROJECT_ROOT))).toBe(false);
  for (const f of ['temporal-server', 'temporal-sql-tool', 'schema/postgresql/v12/temporal/versioned', 'schema/postgresql/v12/visibility/versioned']) {
    expect({ f, present: fs.existsSync(path.join(cacheDir, f)) }).toEqual({ f, present: true });
  }
});

test('without Go and without a cached build: one line that says so, and a failure', () => {
  const cache = tempDir('tools-cache');
  const r = spawnSync('bash', [script, '--quiet'], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: cache, NIGHTSHIFT_TOOLS_CACHE: cache },
  });
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^install-temporal-server: 'go' is not on PATH: install Go/)]);
  expect(fs.existsSync(path.join(cache, `temporal-server-${TEMPORAL_SERVER_VERSION}`, 'temporal-server'))).toBe(false);
});

test('a checkout without the link: the message says whether the script only links the cached build (a fraction of a second) or builds it with Go', () => {
  const checkout = tempDir('checkout');
  const cache = tempDir('tools-cache');
  const missing = () => {
    try {
      temporalBinaries(checkout, { HOME: cache, NIGHTSHIFT_TOOLS_CACHE: cache });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the build to be missing');
  };
  expect(missing()).toMatch(/builds it with Go, 5-9 minutes once per machine/);
  const build = path.join(cache, `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  fs.mkdirSync(build);
  fs.writeFileSync(path.join(build, 'temporal-server'), '');
  fs.writeFileSync(path.join(build, '.complete'), `${TEMPORAL_SERVER_VERSION}\n`);
  const linkOnly = missing();
  expect(linkOnly).toContain(`the build is in the cache (${build}): \`bash scripts/install-temporal-server.sh\` links it here in a fraction of a second`);
  expect(linkOnly).not.toMatch(/Go|minutes/);
});

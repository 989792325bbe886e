import path from 'node:path';
import { bundleWorkflowsInChild, childFailure } from '../../workers/bundle';
import { tempDir } from '../helpers/env';

/**
 * The worker's bundler runs in a child (`node -e <script>`): when it fails, what reaches `nightshift dev`'s one line is
 * the child's first error line, never execFile's `Command failed: node -e <the whole script>`.
 */

test('a bundle that cannot be built fails with one line naming the problem, not the inline script', async () => {
  const missing = path.join(tempDir('bundle-failure'), 'no-such-workflows.ts');
  const err = await bundleWorkflowsInChild(missing).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err?.message).toMatch(/^bundling the workflows failed: \S/);
  expect(err!.message).not.toContain('\n');
  expect(err!.message).not.toMatch(/Command failed|process\.argv|bundleWorkflowCode/);
}, 120_000);

test('a bundler stopped by a signal is said so; an empty stderr gives the exit code', () => {
  const script = 'const [from, to] = process.argv.slice(1);\nrequire("x")';
  expect(childFailure({ signal: 'SIGINT', stderr: '', message: `Command failed: node -e ${script}` })).toBe('the bundler was stopped by SIGINT');
  expect(childFailure({ code: 1, stderr: '', message: `Command failed: node -e ${script}` })).toBe('the bundler exited with code 1 and printed nothing');
  expect(childFailure({ code: 1, stderr: 'webpack: compiling\nError: Cannot find module ./x\n    at foo (bar.js:1:1)\n', message: 'Command failed' })).toBe(
    'Error: Cannot find module ./x',
  );
});

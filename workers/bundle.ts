import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..');

// Runs in the child: bundle, write the code to the given file; only errors are printed.
const CHILD = `const [from, to] = process.argv.slice(1);
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, log() {}, error: console.error };
require('@temporalio/worker').bundleWorkflowCode({ workflowsPath: from, logger: quiet })
  .then(({ code }) => require('node:fs').writeFileSync(to, code))
  .catch((err) => { console.error(err && err.stack || err); process.exit(1); });`;

/**
 * The workflow bundle, built by webpack in a child process: the worker never loads the bundler, whose
 * ~150 MB would otherwise stay in its RSS for the life of the process (issue 4: worker RSS < 512 MB).
 */
export async function bundleWorkflowsInChild(workflowsPath: string): Promise<{ code: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nightshift-bundle-'));
  const file = path.join(dir, 'workflows.js');
  try {
    await run(process.execPath, ['-e', CHILD, workflowsPath, file], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`bundling the workflows failed: ${(err.stderr || err.message).trim().slice(0, 4000)}`);
    });
    return { code: await fs.readFile(file, 'utf8') };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

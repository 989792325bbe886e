import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..');

// Runs in the child: bundle, drop the source map's sourcesContent, write the code to the given file; only errors are printed.
const CHILD = `const [from, to] = process.argv.slice(1);
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, log() {}, error: console.error };
function withoutSourcesContent(code) {
  const at = code.lastIndexOf('//# sourceMappingURL=data:'); // found as the SDK finds it (parseWorkflowCode)
  const data = at < 0 ? -1 : code.indexOf('base64,', at) + 'base64,'.length;
  if (data < 'base64,'.length) throw new Error('the workflow bundle has no inline source map');
  const map = JSON.parse(Buffer.from(code.slice(data).trimEnd(), 'base64').toString('utf8'));
  delete map.sourcesContent;
  return code.slice(0, data) + Buffer.from(JSON.stringify(map), 'utf8').toString('base64');
}
require('@temporalio/worker').bundleWorkflowCode({ workflowsPath: from, logger: quiet })
  .then(({ code }) => require('node:fs').writeFileSync(to, withoutSourcesContent(code)))
  .catch((err) => { console.error(err && err.stack || err); process.exit(1); });`;

interface ChildFailure {
  stderr?: string;
  signal?: NodeJS.Signals | null;
  code?: number | string | null;
  message: string;
}

/**
 * What went wrong in the child, in one line: its first error line, never execFile's message (`Command failed:`
 * followed by the whole inline script above).
 */
export function childFailure(err: ChildFailure): string {
  if (err.signal) return `the bundler was stopped by ${err.signal}`;
  const lines = (err.stderr ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /error/i.test(l)) ?? lines[0];
  if (line) return line.slice(0, 500);
  return typeof err.code === 'string' ? `cannot run the bundler (${err.code})` : `the bundler exited with code ${err.code ?? 'unknown'} and printed nothing`;
}

/**
 * The workflow bundle, built by webpack in a child process: the worker never loads the bundler, whose
 * ~150 MB would otherwise stay in its RSS for the life of the process (issue 4: worker RSS < 512 MB).
 *
 * The inline source map loses its `sourcesContent` (the text of every bundled file: zod, luxon, the SDK,
 * ours; 1.5 of its 2 MB). The worker holds several copies of the map (the code string, the parsed map in
 * the main thread, the workflow thread's copy and its SourceMapConsumer): ~28 MB of RSS (issue 11). The
 * SDK reads the sources only for `showStackTraceSources`, which nightshift does not set; the mappings
 * stay, so workflow stack traces still name the TypeScript file and line.
 */
export async function bundleWorkflowsInChild(workflowsPath: string): Promise<{ code: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nightshift-bundle-'));
  const file = path.join(dir, 'workflows.js');
  try {
    await run(process.execPath, ['-e', CHILD, workflowsPath, file], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((err: ChildFailure) => {
      throw new Error(`bundling the workflows failed: ${childFailure(err)}`);
    });
    return { code: await fs.readFile(file, 'utf8') };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

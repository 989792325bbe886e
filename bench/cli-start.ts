import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * How long a `nightshift` command takes to start, against a bare `node` start in the same process tree: every
 * command loads cli/main.ts whole, so what one command module loads at its top every command pays (the test suites
 * run the CLI some thousand times). Three commands, interleaved rounds, medians:
 *   baseline   node -e ''                          (the runtime alone)
 *   version    nightshift --version                (every command's definitions, nothing run)
 *   help       nightshift backup --help            (a command group's help)
 *   all-loaded the same start with every library a command may load later (Temporal client and worker, the gate,
 *              the dev stack, S3): what each start would cost if they were loaded at the top
 * Usage: npm run bench:cli [-- --rounds 15]
 */

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin/nightshift.js');
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 15;

const cases: Record<string, string[]> = {
  baseline: ['-e', ''],
  version: [bin, '--version'],
  help: [bin, 'backup', '--help'],
  'all-loaded': ['-e', "require('tsx/cjs'); require('./cli/main.ts'); require('./cli/commands/dev.ts'); require('./cli/commands/doctor.ts'); require('@temporalio/client')"],
};

function timeOnce(args: string[]): number {
  const t = process.hrtime.bigint();
  execFileSync(process.execPath, args, { cwd: root, stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// one warm-up each (tsx's compile cache, the page cache), then interleaved rounds
for (const args of Object.values(cases)) timeOnce(args);
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < rounds; r++) for (const [k, args] of Object.entries(cases)) times[k]!.push(timeOnce(args));

const m = Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)])) as Record<keyof typeof cases, number>;
for (const k of Object.keys(cases)) process.stdout.write(`${k.padEnd(11)} ${m[k]!.toFixed(0).padStart(5)} ms (median of ${rounds})\n`);
process.stdout.write(
  `ratios: version / baseline ${(m.version! / m.baseline!).toFixed(2)}x, help / baseline ${(m.help! / m.baseline!).toFixed(2)}x; ` +
    `all-loaded / version ${(m['all-loaded']! / m.version!).toFixed(2)}x (what the lazy loads save on every command)\n`,
);

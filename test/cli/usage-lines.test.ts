import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../helpers/env';
import { runCli, type CliResult } from '../helpers/cli';
import { freePort } from '../helpers/net';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/main';

/**
 * Refusals that need no stack, as a user meets them (a separate process): commander's own errors, empty arguments,
 * out-of-range numbers, a cluster folder that is a file, a target's PostgreSQL that refuses connections. README
 * `## Commands`: a refusal is one line `nightshift: …`, exit 2; a failure exit 1.
 */

/** The environment of a shell without the stack: only what a test sets, nothing from the developer's shell. */
function bareEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NIGHTSHIFT_|TEMPORAL_|DATABASE_URL$)/.test(k)));
  return { ...inherited, NIGHTSHIFT_DATA_DIR: tempDir('usage-data'), ...extra };
}

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> => runCli(args, bareEnv(extra));

test("commander's refusals are one line naming the command's help, exit 2 (unknown option or command, missing option or argument, excess arguments)", async () => {
  const cases: [string[], string][] = [
    [['dossiers', 'list', '--bogus'], "nightshift: unknown option '--bogus' (see 'nightshift dossiers list --help')"],
    [['bogus'], "nightshift: unknown command 'bogus' (see 'nightshift --help')"],
    [['backup', 'trigger', 'DEMO0005'], "nightshift: required option '--event <event>' not specified (see 'nightshift backup trigger --help')"],
    [['dossiers', 'show'], "nightshift: missing required argument 'code' (see 'nightshift dossiers show --help')"],
    [['dossiers', 'list', 'extra'], "nightshift: too many arguments for 'list'. Expected 0 arguments but got 1. (see 'nightshift dossiers list --help')"],
    [['doctor', '--target', 'main'], "nightshift: unknown option '--target' (see 'nightshift doctor --help')"],
  ];
  const results = await Promise.all(cases.map(([args]) => cli(args)));
  results.forEach((r, i) => expect({ args: cases[i]![0], ...r }).toEqual({ args: cases[i]![0], code: 2, stdout: '', stderr: `${cases[i]![1]}\n` }));
  // a suggestion commander adds on a line of its own stays on the one line
  const typo = await cli(['dossiers', 'lst']);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toMatch(/^nightshift: unknown command 'lst' \(Did you mean list\?\) \(see 'nightshift dossiers --help'\)\n$/);
});

test('--help and --version still print to stdout and exit 0', async () => {
  const help = await cli(['dossiers', 'list', '--help']);
  expect(help).toMatchObject({ code: 0, stderr: '' });
  expect(help.stdout).toMatch(/^Usage: nightshift dossiers list \[options\]/);
  const version = await cli(['--version']);
  expect(version).toEqual({ code: 0, stderr: '', stdout: `${(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version}\n` });
});

test("R-BK-5: backup restore '' is bad usage naming FILE (it resolved to the current folder: exit 1 ArchiveInvalid)", async () => {
  for (const args of [['backup', 'restore', ''], ['backup', 'restore', '', '--verify-only'], ['backup', 'restore', ' ', '--at', '2026-12-04']]) {
    expect(await cli(args)).toEqual({ code: 2, stdout: '', stderr: 'nightshift: FILE: empty; expected an archive file, or with --at a dossier code\n' });
  }
});

test('dossiers demo: a whole number out of range and a number above the maximum are said with the range (-1 is a whole number, 1e20 is positive)', async () => {
  expect(await cli(['dossiers', 'demo', '--count', '-1'])).toMatchObject({ code: 2, stderr: "nightshift: --count: expected a whole number from 1 to 1000000, not '-1'\n" });
  expect(await cli(['dossiers', 'demo', '--count', '0'])).toMatchObject({ code: 2, stderr: "nightshift: --count: expected a whole number from 1 to 1000000, not '0'\n" });
  expect(await cli(['dossiers', 'demo', '--count', '1', '--seed', '-3'])).toMatchObject({ code: 2, stderr: "nightshift: --seed: expected a whole number from 0 to 4294967295, not '-3'\n" });
  const huge = 'nightshift: --size-kb: expected a number of KB above 0 and at most 1000000 (digits, e.g. 50 or 0.5)\n';
  for (const v of ['1e20', '2000000', '0', '-5']) expect({ v, ...(await cli(['dossiers', 'demo', '--count', '1', '--size-kb', v])) }).toMatchObject({ v, code: 2, stderr: huge });
});

test('cluster up --dir naming a file (or a path through one) is bad usage naming --dir, exit 2, nothing made', async () => {
  const file = path.join(tempDir('cluster-dir'), 'a-file');
  fs.writeFileSync(file, 'x');
  expect(await cli(['cluster', 'up', '--dir', file])).toMatchObject({ code: 2, stderr: `nightshift: --dir ${file}: not a folder (a file is there); nothing started\n` });
  expect(await cli(['cluster', 'up', '--dir', path.join(file, 'sub')])).toMatchObject({
    code: 2,
    stderr: `nightshift: --dir ${path.join(file, 'sub')}: not a folder (a file is on its path); nothing started\n`,
  });
  expect(fs.readFileSync(file, 'utf8')).toBe('x');
  // drill K2: the range said with why
  expect(await cli(['cluster', 'up', '--ports-from', '56100'])).toMatchObject({
    code: 2,
    stderr: "nightshift: --ports-from: expected 1024-32700 (not a privileged port, and every port of the cluster at most 32767: Temporal keeps its ports in a smallint), not '56100'\n",
  });
});

test("a target's PostgreSQL refusing connections: one line naming the target, the address, the variable that sets it and the likely cause, exit 1", async () => {
  const port = await freePort();
  // the same hint as `doctor`'s (cli/cluster-of.ts): a server of the operator's own, or the dev stack's embedded one
  const cause = 'connection refused; start that server';
  const embedded = 'connection refused; start the embedded PostgreSQL with `npm run dev`';
  const byUrl = { DATABASE_URL: `postgres://ops:secret@127.0.0.1:${port}/compta` };
  for (const args of [['dossiers', 'list'], ['gate', 'keys', 'revoke', '00000000-0000-4000-8000-000000000000'], ['backup', 'list', 'DEMO0005']]) {
    expect({ args, ...(await cli(args, byUrl)) }).toEqual({ args, code: 1, stdout: '', stderr: `nightshift: cannot connect to PostgreSQL of target main at 127.0.0.1:${port} (set by DATABASE_URL): ${cause}\n` });
  }
  expect(await cli(['dossiers', 'list'], { NIGHTSHIFT_PG_PORT: String(port) })).toEqual({
    code: 1,
    stdout: '',
    stderr: `nightshift: cannot connect to PostgreSQL of target main at 127.0.0.1:${port} (set by NIGHTSHIFT_PG_PORT, the embedded PostgreSQL): ${embedded}\n`,
  });
  expect(await cli(['dossiers', 'show', 'X', '--target', 'b'], { NIGHTSHIFT_TARGETS: `a=postgres://ops@127.0.0.1:${port}/a b=postgres://ops@127.0.0.1:${port}/b` })).toMatchObject({
    code: 1,
    stderr: `nightshift: cannot connect to PostgreSQL of target b at 127.0.0.1:${port} (set by NIGHTSHIFT_TARGETS): ${cause}\n`,
  });
  // the folder of a `cluster up` (drill K2): its own restart script, not another stack's `npm run dev`
  const clusterDir = tempDir('cluster-pg');
  fs.writeFileSync(path.join(clusterDir, 'cluster.json'), '{}');
  // (its `env` file sets NIGHTSHIFT_PG_PORT: the cluster's PostgreSQL is the embedded one)
  expect(await cli(['dossiers', 'list'], { NIGHTSHIFT_PG_PORT: String(port), NIGHTSHIFT_DATA_DIR: clusterDir })).toMatchObject({
    code: 1,
    stderr: `nightshift: cannot connect to PostgreSQL of target main at 127.0.0.1:${port} (set by NIGHTSHIFT_PG_PORT, the embedded PostgreSQL): connection refused; start it again with ${path.join(clusterDir, 'restart', 'postgres')} (its port and settings as \`cluster up\` gave them), or \`nightshift cluster up\`\n`,
  });
});

test('a repeated --target is refused naming both, exit 2, before anything is read or started (commander kept the last one)', async () => {
  const port = await freePort();
  const targets = { NIGHTSHIFT_TARGETS: `paris=postgres://ops@127.0.0.1:${port}/a nantes-3=postgres://ops@127.0.0.1:${port}/b` };
  const refusal = { code: 2, stdout: '', stderr: 'nightshift: --target given twice (nantes-3, paris): give one\n' };
  for (const args of [
    ['dossiers', 'show', 'DEMO0005', '--target', 'nantes-3', '--target', 'paris'],
    ['backup', 'run', '--dry-run', '-t', 'nantes-3', '--target=paris'],
    ['gate', 'keys', 'list', '--target', 'nantes-3', '-t', 'paris'],
  ]) {
    expect({ args, ...(await cli(args, targets)) }).toEqual({ args, ...refusal });
  }
});

test('any option given twice is refused naming both values, exit 2, before anything is read or started (drill X, session 40: commander kept the last one)', async () => {
  // no database, no Temporal: a refusal made before either is reached
  const nowhere = { DATABASE_URL: `postgres://ops@127.0.0.1:${await freePort()}/a`, TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` };
  const cases: [string[], string][] = [
    [['backup', 'forget', 'DEMO0005', '--id', '10', '--id', '11'], '--id given twice (10, 11): give it once'],
    [['backup', 'dossier', 'DEMO0005', '--reason', 'cloture', '--reason=manual'], '--reason given twice (cloture, manual): give it once'],
    [['backup', 'verify', '--codes', 'DEMO0005', '--codes', 'DEMO0007'], '--codes given twice (DEMO0005, DEMO0007): give it once (several: one value, comma-separated)'],
    [['backup', 'run', '--dry-run', '--all', '--only', 'A', '--only', 'B'], '--only given twice (A, B): give it once (several: one value, comma-separated)'],
    [['backup', 'schedule', 'set', '--cron', '0 6 * * 0', '--cron', '0 7 * * *'], '--cron given twice (0 6 * * 0, 0 7 * * *): give it once'],
    [['backup', 'settings', 'set', 'retention', 'last=2', '--kind', 'Cloture', '--kind', 'normal'], '--kind given twice (Cloture, normal): give it once'],
  ];
  for (const [args, said] of cases) {
    expect({ args, ...(await cli(args, nowhere)) }).toEqual({ args, code: 2, stdout: '', stderr: `nightshift: ${said}\n` });
  }
});

test('every --target of the CLI is the shared one, which refuses a second', () => {
  const withTarget: string[] = [];
  const visit = (cmd: Command, at: string): void => {
    const option = cmd.options.find((o) => o.long === '--target');
    if (option) {
      withTarget.push(at);
      expect({ at, parsed: option.parseArg?.('paris', undefined) }).toEqual({ at, parsed: 'paris' });
      expect(() => option.parseArg!('paris', 'lyon')).toThrow('--target given twice (lyon, paris): give one');
    }
    for (const sub of cmd.commands) visit(sub, `${at} ${sub.name()}`);
  };
  visit(buildProgram(), 'nightshift');
  expect(withTarget.length).toBeGreaterThan(30);
});

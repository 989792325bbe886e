import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { registerPatchCommands } from '../../cli/commands/patch';
import { inProcessCli } from '../helpers/cli';

/**
 * The arguments of `nightshift patch new|seal|demo|integrate|plan` refused before anything is read or written
 * (outside drills): an empty DIR is not the current folder, a folder that cannot be made is said at once (a recursive
 * mkdir under /proc spun forever), the words of --type are read in any case, --count and --first say what they take.
 * In-process, wired as cli/main.ts does (commander errors are usage errors: exit 2); none of these needs a server.
 */

jest.setTimeout(30_000);

const cli = inProcessCli(registerPatchCommands, 'patch');

let tmp: string;
const cwd = process.cwd();
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'patch-args-'));
});
afterEach(() => {
  process.chdir(cwd);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('R-PI-1: an empty or blank DIR / PKG is exit 2 naming the argument, nothing written into or read from the current folder', async () => {
  process.chdir(tmp);
  const cases: [string[], RegExp][] = [
    [['new', '', '--number', '5'], /^nightshift: DIR: expected a folder, got an empty argument/],
    [['new', '  ', '--number', '5'], /^nightshift: DIR: expected a folder, got an empty argument/],
    [['demo', '', '--count', '2'], /^nightshift: DIR: expected a folder, got an empty argument/],
    [['seal', ''], /^nightshift: PKG: expected a folder, got an empty argument/],
    [['integrate', ''], /^nightshift: DIR: expected a folder, got an empty argument/],
    [['plan', ''], /^nightshift: DIR: expected a folder, got an empty argument/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(...args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).toMatch(pattern);
  }
  expect(fs.readdirSync(tmp)).toEqual([]);
});

test('R-PI-1: a DIR whose folder cannot be made is exit 2 at once (not a spin under /proc), a file as DIR too; nothing written', async () => {
  const started = Date.now();
  const proc = await cli('new', '/proc/nope/x', '--number', '5');
  expect(proc).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nightshift: DIR: cannot make or write the folder \/proc\/nope \(ENOENT\): no package written\n$/) });
  const demo = await cli('demo', '/proc/nope/x', '--count', '2');
  expect(demo).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nightshift: DIR: cannot make or write the folder \/proc\/nope/) });
  // an existing folder of a file system that makes no folder (root passes every access check there)
  const pid = await cli('new', `/proc/${process.pid}`, '--number', '5');
  expect(pid).toMatchObject({ code: 2, stderr: expect.stringMatching(/^nightshift: DIR: cannot make or write the folder \/proc\/\d+ \(/) });
  expect(Date.now() - started).toBeLessThan(10_000);
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'x');
  const onFile = await cli('new', path.join(file, 'sub'), '--number', '5');
  expect(onFile).toMatchObject({ code: 2, stderr: `nightshift: DIR: ${file} is not a folder: no package written\n` });
  // a folder missing with its parents is made, as before
  const deep = path.join(tmp, 'a', 'b');
  expect(await cli('new', deep, '--number', '5')).toMatchObject({ code: 0 });
  expect(fs.readdirSync(deep)).toEqual(['P0005']);
  expect(fs.readdirSync(tmp).sort()).toEqual(['a', 'a-file']);
});

test('R-PI-6: patch new --type is read in any case as its word (STANDARD is standard); another word is named with the words it takes', async () => {
  const r = await cli('new', tmp, '--number', '9', '--type', 'STANDARD', '--json');
  expect(r.code).toBe(0);
  expect(JSON.parse(fs.readFileSync(path.join(tmp, 'P0009', 'patch.json'), 'utf8'))).toMatchObject({ number: 9, type: 'standard' });
  expect(await cli('new', tmp, '--number', '10', '--type', ' Supervisor ')).toMatchObject({ code: 0 });
  expect(JSON.parse(fs.readFileSync(path.join(tmp, 'P0010', 'patch.json'), 'utf8'))).toMatchObject({ type: 'supervisor' });
  expect(await cli('new', tmp, '--number', '11', '--type', 'coffee')).toMatchObject({
    code: 2,
    stderr: 'nightshift: --type: expected standard, specific, vertical or supervisor\n',
  });
  expect(fs.readdirSync(tmp).sort()).toEqual(['P0009', 'P0010']);
});

test('patch demo --count / --first: one line saying what the flag takes, whatever was typed (README: a refusal names the flag and what it takes)', async () => {
  // the value typed said back (drill R, session 40)
  for (const v of ['abc', '', '1e20', '100000', '0', '2.5', '-1', '0x10']) {
    expect({ v, ...(await cli('demo', path.join(tmp, 'd'), '--count', v)) }).toMatchObject({ v, code: 2, stderr: `nightshift: --count: expected a whole number from 1 to 10000, not '${v}'\n` });
  }
  for (const v of ['abc', '', '0', '1e20']) {
    expect({ v, ...(await cli('demo', path.join(tmp, 'd'), '--count', '2', '--first', v)) }).toMatchObject({ v, code: 2, stderr: `nightshift: --first: expected a whole number from 1 to 999998, not '${v}'\n` });
  }
  expect(fs.existsSync(path.join(tmp, 'd'))).toBe(false);
  const ok = await cli('demo', path.join(tmp, 'd'), '--count', '2', '--first', '7');
  expect(ok).toMatchObject({ code: 0, stdout: `wrote 2 demo patch(es) 7-8 into ${path.join(tmp, 'd')}\n` });
});

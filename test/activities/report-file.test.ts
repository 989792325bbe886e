import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeRunReport } from '../../activities/report-file';
import { REPORT_FOLDER } from '../../domain/backup-batch';

/** The run reports' one writer (R-BK-7 batch report, verification report): streamed pages, private temp file, fsync, rename. */

let root: string;
beforeEach(async () => {
  root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'report-file-'));
});
afterEach(async () => {
  await fs.promises.rm(root, { recursive: true, force: true });
});

const pages = ['A1 ok\r\n', 'A2 failed\r\n'];
const fill = async (write: (text: string) => Promise<void>) => {
  let n = 0;
  for (const p of pages) {
    await write(p);
    n++;
  }
  return { tallies: { pages: n }, end: 'end\r\n' };
};

test('R-BK-7: the pages then the end, under the final name only, with the given mode; no temporary file left', async () => {
  // the backup folder is there: its log folder is made
  await fs.promises.mkdir(path.join(root, 'backup'));
  const folder = path.join(root, 'backup', 'log');
  const r = await writeRunReport({ folder, dataDir: path.join(root, 'data'), name: 'report.txt', mode: 0o640 }, fill);
  expect(r).toEqual({ pages: 2, file: path.join(folder, 'report.txt') });
  expect(await fs.promises.readFile(r.file, 'utf8')).toBe('A1 ok\r\nA2 failed\r\nend\r\n');
  expect((await fs.promises.stat(r.file)).mode & 0o777).toBe(0o640);
  expect(await fs.promises.readdir(folder)).toEqual(['report.txt']);
});

test('R-BK-7: an unwritable report folder sends the whole report under the data folder and says why', async () => {
  // a file where the folder should be: mkdir fails for root too
  const blocked = path.join(root, 'backup');
  await fs.promises.writeFile(blocked, 'not a folder');
  const dataDir = path.join(root, 'data');
  const r = await writeRunReport({ folder: path.join(blocked, 'log'), dataDir, name: 'report.txt', mode: 0o600 }, fill);
  expect(r.file).toBe(path.join(dataDir, REPORT_FOLDER, 'report.txt'));
  expect(r.pages).toBe(2);
  expect(r.unwritable?.folder).toBe(path.join(dataDir, REPORT_FOLDER));
  expect((r.unwritable?.error as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  expect(await fs.promises.readFile(r.file, 'utf8')).toBe('A1 ok\r\nA2 failed\r\nend\r\n');
});

test('R-BK-7: a backup folder that is not there (a share not mounted) is never made for the report: under the data folder', async () => {
  const backup = path.join(root, 'mnt', 'sauve');
  const dataDir = path.join(root, 'data');
  const r = await writeRunReport({ folder: path.join(backup, 'log'), dataDir, name: 'report.txt', mode: 0o600 }, fill);
  expect(r.file).toBe(path.join(dataDir, REPORT_FOLDER, 'report.txt'));
  expect((r.unwritable?.error as NodeJS.ErrnoException).code).toBe('ENOENT');
  expect(fs.existsSync(path.join(root, 'mnt'))).toBe(false);
  expect(await fs.promises.readFile(r.file, 'utf8')).toBe('A1 ok\r\nA2 failed\r\nend\r\n');
});

test('R-BK-7: a backup folder the caller refused (not the shared store) is not written into, even when it is there', async () => {
  const backup = path.join(root, 'sauve');
  await fs.promises.mkdir(backup);
  const dataDir = path.join(root, 'data');
  const r = await writeRunReport({ folder: path.join(backup, 'log'), dataDir, name: 'report.txt', mode: 0o600, refused: 'not the shared store' }, fill);
  expect(r.file).toBe(path.join(dataDir, REPORT_FOLDER, 'report.txt'));
  expect((r.unwritable?.error as Error).message).toBe('not the shared store');
  expect(await fs.promises.readdir(backup)).toEqual([]);
});

test('a page that fails leaves neither the report nor its temporary file', async () => {
  const folder = path.join(root, 'log');
  const failing = async (write: (text: string) => Promise<void>) => {
    await write('A1 ok\r\n');
    throw new Error('ledger read failed');
  };
  await expect(writeRunReport({ folder, dataDir: path.join(root, 'data'), name: 'report.txt', mode: 0o600 }, failing)).rejects.toThrow('ledger read failed');
  expect(await fs.promises.readdir(folder)).toEqual([]);
  expect(await fs.promises.readdir(path.join(root, 'data', REPORT_FOLDER))).toEqual([]);
});

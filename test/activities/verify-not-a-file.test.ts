import crypto from 'node:crypto';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createBackupActivities } from '../../activities/backup';
import { checkAgainstRecord, createVerifyActivities } from '../../activities/verify';
import { NO_KEYS } from '../../archive/keys';
import { generateDemoDossiers } from '../../registry/demo';
import { generationById } from '../../store/generations/generation-by-id';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-13: a generation's path that holds no regular file (a FIFO, a directory) is never opened for reading: a FIFO
 * held a worker thread in open() for ever, the run stayed at 0 / 1, and the worker could no longer exit. The generation
 * is corrupt at once, in the prune's words.
 */

let stack: TestStack;
const pool = () => stack.pools.get('main');
const fifos: string[] = [];

beforeAll(async () => {
  stack = await createTestStack({ NIGHTSHIFT_TIMEZONE: 'Europe/Paris', NIGHTSHIFT_BACKUP_PLAIN: '1' });
});
afterEach(() => {
  // a reader blocked in open() (the bug) is let go, so that this process can exit
  for (const f of fifos.splice(0)) {
    try {
      fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch {
      // no reader: nothing to let go
    }
  }
});
afterAll(async () => {
  await stack.close();
});

async function backUp(prefix: string): Promise<{ code: string; generationId: number; file: string }> {
  const [code] = await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 10, prefix });
  const r = await createBackupActivities({ config: stack.config, pools: stack.pools }).backupDossier({ target: 'main', code: code!, reason: 'manual' });
  return { code: code!, generationId: r.generationId!, file: (await generationById(pool(), r.generationId!))!.file };
}

/** A whole verify run of one dossier without Temporal: claim, its page, one chunk, finish. */
async function verifyCode(code: string) {
  const acts = createVerifyActivities({ config: stack.config, pools: stack.pools });
  const claim = await acts.claimVerifyRun({ target: 'main', codes: [code], full: true, trigger: 'manual', workflowId: `backup-verify/main/${crypto.randomUUID()}` });
  const page = await acts.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
  const chunk = await acts.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
  const finish = await acts.finishVerifyRun({ target: 'main', runId: claim.runId, endedEarly: false });
  return { chunk, finish };
}

test('R-BK-13: a FIFO in place of a generation file: the run ends promptly, that generation corrupt ("n\'est pas un fichier"), never opened', async () => {
  const g = await backUp('VFIFO');
  fs.rmSync(g.file);
  execFileSync('mkfifo', [g.file]);
  fifos.push(g.file);
  const started = Date.now();
  const { chunk, finish } = await verifyCode(g.code);
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(chunk).toMatchObject({ remaining: [], failed: 1 });
  expect(finish).toMatchObject({ state: 'problems', total: 1, ok: 0, problems: 1, restored: 0 });
  expect(finish.failures).toEqual([{ code: g.code, status: 'corrupt', error: expect.stringMatching(/^sauvegarde du .* : .*\.SVG n'est pas un fichier$/) }]);
  expect(finish.nextCommand).toBe(`nightshift backup run --all --only ${g.code} --target main`);
  expect((await generationById(pool(), g.generationId))!).toMatchObject({ verifyState: 'corrupt', verifyError: `${g.file} n'est pas un fichier` });
  const report = fs.readFileSync(finish.reportPath!, 'utf8');
  expect(report).toContain(` : Sauvegarde corrompue. ${g.file} n'est pas un fichier\r\n`);
  // the FIFO was never opened for reading: a writer opening it without blocking finds no reader
  expect(() => fs.openSync(g.file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)).toThrow(expect.objectContaining({ code: 'ENXIO' }));
}, 30_000);

test('R-BK-13: a directory in place of a generation file is corrupt the same way (not a read that fails and is retried)', async () => {
  const g = await backUp('VDIR');
  fs.rmSync(g.file);
  fs.mkdirSync(g.file);
  const { finish } = await verifyCode(g.code);
  expect(finish).toMatchObject({ state: 'problems', problems: 1 });
  expect(finish.failures[0]).toMatchObject({ code: g.code, status: 'corrupt', error: expect.stringMatching(/ n'est pas un fichier$/) });
  fs.rmdirSync(g.file);
}, 30_000);

test("R-BK-11 / R-BK-13: the prune's check of a FIFO against its record says the same, at once", async () => {
  const g = await backUp('VFIFOP');
  const row = (await generationById(pool(), g.generationId))!;
  fs.rmSync(g.file);
  execFileSync('mkfifo', [g.file]);
  fifos.push(g.file);
  expect(await checkAgainstRecord(g.file, row, NO_KEYS)).toEqual({ state: 'corrupt', reason: `${g.file} n'est pas un fichier` });
}, 30_000);

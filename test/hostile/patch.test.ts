import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createPatchActivities } from '../../activities/patch';
import { readPatchDirectory, sealPatchPackage, writePatchPackage } from '../../patches/package';
import { failureTypeOf } from '../../domain/failures';
import { PatchFailure } from '../../workflows/patch-integration.api';
import { tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, demoDossiers, ledger, levels } from '../workflows/patch-helpers';

/**
 * Hostile or mistaken patch packages (issue 9, R-PI-1, R-PI-8): each refusal has its failure type, a
 * message that quotes no file content, and changes nothing (stored packages, runs, levels, ledgers, files).
 */

const ctx = useCliStack(120_000);
const env = new MockActivityEnvironment();
let acts: ReturnType<typeof createPatchActivities>;

jest.setTimeout(180_000);

const SUPERVISOR = 'DEMO0001';
const SECRET = 'hunter2-very-secret-token';

beforeAll(async () => {
  await demoDossiers(ctx.stack, 3);
  acts = createPatchActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
});

const pool = () => ctx.stack.pools.get('main');
const run = <T>(fn: () => Promise<T>): Promise<T> => env.run(fn) as Promise<T>;
const settle = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'no failure', (e: unknown) => e);

/** A run row for the ledger's items (the claim's prerequisites are not what these tests are about). */
async function newRun(): Promise<number> {
  await pool().query(`UPDATE nightshift.patch_run SET state = 'failed', finished_at = now() WHERE state = 'running'`);
  const { rows } = await pool().query<{ id: string }>(`INSERT INTO nightshift.patch_run (workflow_id, mode) VALUES ($1, 'integrate') RETURNING id`, [
    `patch/main/hostile-${Date.now()}-${Math.random()}`,
  ]);
  return Number(rows[0]!.id);
}

/** Everything a refused package must leave as it was. */
async function state(dir?: string): Promise<unknown> {
  const q = async (sql: string) => (await pool().query(sql)).rows;
  return {
    packages: await q('SELECT number, checksum, source_dir FROM nightshift.patch_package ORDER BY number'),
    runs: await q('SELECT count(*)::int AS n FROM nightshift.patch_run'),
    items: await q('SELECT run_id, code, status, to_level FROM nightshift.patch_run_item ORDER BY run_id, code'),
    levels: await levels(pool()),
    files: dir ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [],
  };
}

function rewrite(file: string, content: string): void {
  fs.writeFileSync(file, content);
}

describe('R-PI-8: a package counts as integrated only once it applied somewhere', () => {
  test('a package that failed in the supervisor is replaced by its corrected version; once applied, a change is ChecksumDrift', async () => {
    const dir = tempDir('drift');
    // patch 2's data fails in the supervisor: the run stops there, nothing of patch 2 applied anywhere
    await blockablePatches(dir, [1, 2], (n) => (n === 2 ? 'SELECT 1 / 0;\n' : ''));
    const first = await newRun();
    await run(() => acts.loadPatchPackages({ target: 'main', runId: first, dir }));
    const failed = await run(() => acts.applySupervisorPatches({ target: 'main', runId: first, code: SUPERVISOR, upTo: 2, supervisorLevel: 0 }));
    expect(failed).toMatchObject({ status: 'failed', toLevel: 1, failedPatch: 2, failureType: PatchFailure.SqlFailed });

    // the operator corrects patch 2 and integrates again: accepted (it used to be ChecksumDrift)
    const data = path.join(dir, 'B0002', 'data.sql');
    rewrite(data, fs.readFileSync(data, 'utf8').replace('SELECT 1 / 0;\n', ''));
    const corrected = await sealPatchPackage(path.join(dir, 'B0002'));
    const second = await newRun();
    const loaded = await run(() => acts.loadPatchPackages({ target: 'main', runId: second, dir }));
    expect(loaded.map((p) => p.checksum)).toContain(corrected.checksum);
    expect((await pool().query('SELECT checksum FROM nightshift.patch_package WHERE number = 2')).rows).toEqual([{ checksum: corrected.checksum }]);
    const ok = await run(() => acts.applySupervisorPatches({ target: 'main', runId: second, code: SUPERVISOR, upTo: 2, supervisorLevel: 1 }));
    expect(ok).toMatchObject({ status: 'ok', toLevel: 2, applied: [2] });
    expect((await ledger(pool(), SUPERVISOR)).map((r) => [r.number, r.checksum])).toEqual([
      [1, loaded[0]!.checksum],
      [2, corrected.checksum],
    ]);

    // patch 2 has now applied in the supervisor: changing it again is ChecksumDrift, and so is changing patch 1
    for (const folder of ['B0002', 'B0001']) {
      const file = path.join(dir, folder, 'data.sql');
      const original = fs.readFileSync(file, 'utf8');
      rewrite(file, `${original}SELECT 2;\n`);
      await sealPatchPackage(path.join(dir, folder));
      const before = await state(dir);
      const ledgerBefore = await ledger(pool(), SUPERVISOR);
      const third = await newRun();
      const err = await settle(run(() => acts.loadPatchPackages({ target: 'main', runId: third, dir })));
      expect(failureTypeOf(err)).toBe(PatchFailure.ChecksumDrift);
      expect((err as { nonRetryable?: boolean }).nonRetryable).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`patch ${folder === 'B0002' ? 2 : 1} \\(${folder}\\) was already integrated .*dossier ${SUPERVISOR} holds it.*R-PI-8`));
      expect({ ...(await state(dir)) as object, runs: undefined }).toEqual({ ...(before as object), runs: undefined });
      expect(await ledger(pool(), SUPERVISOR)).toEqual(ledgerBefore);
      rewrite(file, original);
      await sealPatchPackage(path.join(dir, folder));
    }
    // back to the integrated bytes: accepted again, nothing to apply
    const fourth = await newRun();
    await run(() => acts.loadPatchPackages({ target: 'main', runId: fourth, dir }));
  });
});

describe('file contents are never echoed', () => {
  function secretFile(): string {
    const file = path.join(tempDir('secret'), 'credentials');
    fs.writeFileSync(file, `${SECRET}\n`);
    return file;
  }

  async function expectInvalid(dir: string, why: RegExp): Promise<void> {
    const before = await state(dir);
    const runId = await newRun();
    const err = await settle(run(() => acts.loadPatchPackages({ target: 'main', runId, dir })));
    expect([PatchFailure.PackageInvalid, PatchFailure.StrayFiles]).toContain(failureTypeOf(err));
    expect((err as { nonRetryable?: boolean }).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).not.toContain('hunter2');
    expect({ ...(await state(dir)) as object, runs: undefined }).toEqual({ ...(before as object), runs: undefined });
  }

  test('a patch.json that is a symlink to a secret is refused without quoting it (activity and CLI integrate/seal)', async () => {
    const dir = tempDir('symlink-manifest');
    await blockablePatches(dir, [1]);
    const manifest = path.join(dir, 'B0001', 'patch.json');
    fs.rmSync(manifest);
    fs.symlinkSync(secretFile(), manifest);
    await expectInvalid(dir, /B0001\/patch\.json: a symbolic link, refused/);
    for (const args of [['patch', 'integrate', dir], ['patch', 'seal', path.join(dir, 'B0001')]]) {
      const r = await ctx.cli(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/symbolic link/);
      expect(r.stderr + r.stdout).not.toContain('hunter2');
    }
  });

  test('a patch.json holding something that is not JSON is refused without quoting it', async () => {
    const dir = tempDir('secret-manifest');
    await blockablePatches(dir, [1]);
    fs.writeFileSync(path.join(dir, 'B0001', 'patch.json'), `${SECRET}\n`);
    await expectInvalid(dir, /B0001\/patch\.json: not JSON/);
    const r = await ctx.cli(['patch', 'seal', path.join(dir, 'B0001')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  test('unknown manifest fields are counted, not quoted', async () => {
    const dir = tempDir('secret-keys');
    await blockablePatches(dir, [1]);
    const file = path.join(dir, 'B0001', 'patch.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), [SECRET]: 1 }));
    await expectInvalid(dir, /B0001\/patch\.json: manifest: 1 unknown field\(s\)/);
  });

  test('a patch file that is a symlink (to a secret) is refused, never read', async () => {
    const dir = tempDir('symlink-file');
    await blockablePatches(dir, [1]);
    const data = path.join(dir, 'B0001', 'data.sql');
    fs.rmSync(data);
    fs.symlinkSync(secretFile(), data);
    await expectInvalid(dir, /data\.sql/);
  });
});

describe('one patch-number schema for patch new and the reader', () => {
  test.each(['1e10', '1000000', '0', '-3', '0x10', '5.0', ' 7', '+5', '1e3'])('patch new --number %j is refused (exit 2), nothing written', async (number) => {
    const dir = tempDir('new');
    const r = await ctx.cli(['patch', 'new', dir, '--number', number]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--number/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('patch new --number 999999 (the largest) writes a package that the reader accepts', async () => {
    const dir = tempDir('new-max');
    const r = await ctx.cli(['patch', 'new', dir, '--number', '999999']);
    expect(r.code).toBe(0);
    const [pkg] = await readPatchDirectory(dir);
    expect(pkg!.manifest.number).toBe(999_999);
  });

  test('writePatchPackage refuses a number the reader would refuse, before writing anything', async () => {
    const dir = tempDir('write-big');
    const err = await settle(
      writePatchPackage(dir, 'P1', { number: 1e10, type: 'standard', description: 'x', treatments: [], dictionary: [], protectedDictionaryFields: [], structure: [], data: [] }, {}),
    );
    expect(failureTypeOf(err)).toBe(PatchFailure.PackageInvalid);
    expect((err as Error).message).toMatch(/number must be at most 999999/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

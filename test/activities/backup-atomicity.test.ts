import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRegistryActivities } from '../../activities/registry';
import { generateDemoDossiers } from '../../registry/demo';
import { backupDossierArchive, verifyArchive } from '../../archive/engine';
import { PROJECT_ROOT } from '../../config/config';
import { failureTypeOf, FailureType } from '../../domain/failures';
import { createTestStack, type TestStack } from '../helpers/env';

/** R-BK-6: a backup killed mid-write leaves no B{code}.SVG and no last-backup-at. */

let stack: TestStack;
beforeAll(async () => {
  stack = await createTestStack();
});
afterAll(async () => {
  await stack.close();
});

test('R-BK-6 a backup process killed (SIGKILL) while writing leaves no archive and no last-backup-at', async () => {
  const [code] = (await generateDemoDossiers(stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 1500, prefix: 'KILL' })) as [string];
  const dir = stack.config.backupDir;
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'run-ts.js'), 'test/activities/fixtures/backup-child.ts', code, dir], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_DATA_DIR: stack.dataDir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');

  // kill it once the temporary file holds some data: the write is under way
  let tmp: string | undefined;
  for (let i = 0; i < 1200 && !tmp && child.exitCode === null; i++) {
    const found = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith('.tmp')) : undefined;
    if (found && fs.statSync(path.join(dir, found)).size > 0) tmp = path.join(dir, found);
    else await new Promise((r) => setTimeout(r, 25));
  }
  expect({ tmp: !!tmp, exitCode: child.exitCode, stderr }).toEqual({ tmp: true, exitCode: null, stderr: '' });
  child.kill('SIGKILL');
  const [, signal] = await exited;
  expect(signal).toBe('SIGKILL');

  expect(fs.existsSync(path.join(dir, `B${code}.SVG`))).toBe(false);
  const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
  expect((await registry.getDossier('main', code)).lastBackupAt).toBeNull();
  expect((await registry.getDossier('main', code)).modifiedSinceBackup).toBe(true);
  // what was left is a partial file under a temporary name, never mistaken for an archive
  expect(failureTypeOf(await verifyArchive(tmp!).catch((e: unknown) => e))).toBe(FailureType.ArchiveInvalid);

  // the next run completes normally
  const ok = await backupDossierArchive({ pool: stack.pools.get('main'), target: 'main', code, destinationDir: dir });
  expect(fs.existsSync(ok.file)).toBe(true);
  expect((await registry.getDossier('main', code)).lastBackupAt).toBe(ok.snapshotAt);
});

import fs from 'node:fs';
import { createBackupActivities } from '../../activities/backup';
import { createPruneActivities } from '../../activities/prune';
import type { RetentionPolicies, RetentionPolicy } from '../../domain/retention';
import { generateDemoDossiers } from '../../registry/demo';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { markGenerationsDeleted } from '../../store/generations/mark-deleted';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * R-BK-11: a prune chunk reads its dossiers' generations and leftovers first, in two statements; a dossier where the
 * policy keeps everything and nothing pruned is left over is done without its lock or a transaction (drill S2: ~50 s of
 * prune after a batch of 0 at 10,000 dossiers, 2.5 → 0.8 ms per dossier), the others take the locked path as before.
 */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
const pool = () => stack.pools.get('main');
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const lastOne: RetentionPolicies = { normal: policy({ last: 1 }), EchangePrest: policy({ last: 1 }), Cloture: policy({ last: 1 }) };

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
});
afterAll(async () => {
  await stack.close();
});

async function backups(code: string, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push((await backup.backupDossier({ target: 'main', code, reason: 'manual' })).generationId!);
  return ids;
}

test('R-BK-11: a chunk prunes a dossier with nothing to delete without its lock, and still deletes, and finishes an earlier prune\'s leftovers, under the lock elsewhere', async () => {
  const [keepAll, doomed, leftover] = (await generateDemoDossiers(pool(), { target: 'main', count: 3, sizeKb: 5, prefix: 'AHD' })) as [string, string, string];
  await backups(keepAll, 1);
  const doomedIds = await backups(doomed, 3);
  const [olderLeft] = await backups(leftover, 2);
  // an earlier prune marked it and died before removing its file (or could not remove it)
  expect(await markGenerationsDeleted(pool(), [olderLeft!], 'backup-prune/main/earlier')).toEqual([olderLeft]);
  const leftFile = (await dossierGenerations(pool(), leftover, { deleted: true })).find((g) => g.id === olderLeft)!.file;
  expect(fs.existsSync(leftFile)).toBe(true);
  const doomedFiles = (await dossierGenerations(pool(), doomed)).filter((g) => g.id !== doomedIds[2]).map((g) => g.file);

  // a reader holds the rows of the dossier with nothing to delete (a lease being taken, a long transaction): the
  // locked path would wait for it; this one does not
  const holder = await pool().connect();
  try {
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM nightshift.backup_generation WHERE code = $1 AND deleted_at IS NULL FOR UPDATE', [keepAll]);
    const prunes = createPruneActivities({ config: stack.config, pools: stack.pools, offsiteStore: () => undefined });
    const chunk = prunes.pruneChunk({ target: 'main', codes: [keepAll, doomed, leftover], prunedBy: 'backup-prune/main/ahead', policies: lastOne, timeZone: 'Europe/Paris' });
    const r = await Promise.race([chunk, new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), 15_000))]);
    expect(r).toMatchObject({ ok: 3, failed: 0, remaining: [], deleted: 2, kept: 3, leased: 0 });
  } finally {
    await holder.query('ROLLBACK');
    holder.release();
  }
  for (const f of doomedFiles) expect(fs.existsSync(f)).toBe(false);
  expect(fs.existsSync(leftFile)).toBe(false);
  expect((await dossierGenerations(pool(), keepAll)).length).toBe(1);
  expect((await dossierGenerations(pool(), doomed)).map((g) => g.id)).toEqual([doomedIds[2]]);
});

test('R-BK-11: a generation recorded after the chunk read its dossiers waits for the next prune; nothing kept is deleted', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 5, prefix: 'AHE' })) as [string];
  await backups(code, 1);
  const prunes = createPruneActivities({ config: stack.config, pools: stack.pools, offsiteStore: () => undefined });
  const chunk = { target: 'main', codes: [code], prunedBy: 'backup-prune/main/ahead-2', policies: lastOne, timeZone: 'Europe/Paris' };
  expect(await prunes.pruneChunk(chunk)).toMatchObject({ ok: 1, failed: 0, deleted: 0, kept: 1 });
  await backups(code, 1);
  // two now, the policy keeps one: the next prune takes the locked path and deletes the older
  expect(await prunes.pruneChunk({ ...chunk, prunedBy: 'backup-prune/main/ahead-3' })).toMatchObject({ ok: 1, failed: 0, deleted: 1, kept: 1 });
  expect((await dossierGenerations(pool(), code)).length).toBe(1);
});

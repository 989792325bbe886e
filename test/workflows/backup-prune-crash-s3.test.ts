import crypto from 'node:crypto';
import fs from 'node:fs';
import { createBackupActivities } from '../../activities/backup';
import { copyGenerationOffsite } from '../../activities/offsite';
import { loadConfig } from '../../config/config';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { generateDemoDossiers } from '../../registry/demo';
import { startBackupPrune } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import type { BackupPruneResult } from '../../workflows/backup-prune.api';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { waitFor } from './backup-batch-helpers';
import { crashHarness, kill } from './crash-harness';

/**
 * A worker killed (SIGKILL) during a prune with off-site copies on versitygw, a new worker finishes it (R-BK-11,
 * R-BK-14, issue 13): nothing retention keeps is deleted, locally or in the bucket; every pruned generation's file
 * and object gone once the prune completes, each counted once.
 */

// the workers' environment is read when each starts: the S3 server's, filled in once it runs
const workerEnv: Record<string, string> = { NS_TEST_PRUNE_DELAY_MS: '400' };
const crash = crashHarness('prune-worker.ts', workerEnv);
let s3: S3TestServer;
let store: OffsiteStore;

beforeAll(async () => {
  s3 = await startS3Server();
  Object.assign(workerEnv, s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'prune-crash/' }));
});
afterAll(async () => {
  store?.close();
  await s3?.stop();
});

test('R-BK-11 / R-BK-14 crash: SIGKILL during a prune on S3, a new worker finishes it; kept generations and their objects untouched, pruned ones marked once with file and object gone', async () => {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const offsite = loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, ...workerEnv }).offsite!;
  store = createOffsiteStore(offsite);
  const codes = await generateDemoDossiers(pool, { target: 'main', count: 8, sizeKb: 5, prefix: 'PS' });
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  for (const code of codes) {
    for (const daysAgo of [3, 2, 1, 0]) {
      const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
      await pool.query(`UPDATE nightshift.backup_generation SET snapshot_at = now() - make_interval(days => $2) WHERE id = $1`, [r.generationId, daysAgo]);
      expect(await copyGenerationOffsite({ db: pool, store: () => store, target: 'main', generationId: r.generationId! })).toMatchObject({ ok: true });
    }
  }
  await setRetentionSetting(pool, { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  const before = new Map<string, Awaited<ReturnType<typeof dossierGenerations>>>();
  for (const code of codes) before.set(code, await dossierGenerations(pool, code));
  for (const code of codes) expect(await store.listDossier('main', code)).toHaveLength(4);

  const first = await crash.startWorker();
  const workflowId = `backup-prune/main/${crypto.randomUUID()}`;
  const handle = await startBackupPrune(temporal.client, { target: 'main', tuning: { chunkSize: 3, window: 1, concurrency: 1, heartbeatTimeout: '3s' } }, { taskQueue: stack.config.temporal.taskQueue, workflowId });
  const marked = () =>
    pool.query<{ id: string; deleted_at: Date; offsite_key: string }>('SELECT id, deleted_at, offsite_key FROM nightshift.backup_generation WHERE deleted_by = $1', [workflowId]).then((r) => r.rows);
  await waitFor('a few dossiers pruned', async () => ((await marked()).length >= 6 ? true : undefined), 120_000);
  await kill(first);
  const atKill = await marked();
  expect(atKill.length).toBeLessThan(codes.length * 3);
  // the kill landed after a mark and before that dossier's deletions: objects of marked generations are still there
  const leftAtKill = (await Promise.all(atKill.map(async (r) => ((await store.head(r.offsite_key)) ? r.id : undefined)))).filter(Boolean);
  expect(leftAtKill.length).toBeGreaterThan(0);

  await crash.startWorker();
  const result = (await handle.result()) as BackupPruneResult;
  expect(result).toMatchObject({ state: 'completed', failed: 0, total: codes.length, deleted: codes.length * 3, offsiteDeleted: codes.length * 3 });

  for (const code of codes) {
    const gens = new Map((await dossierGenerations(pool, code, { deleted: true })).map((g) => [g.id, g]));
    const [newest, ...older] = before.get(code)!;
    // retention keeps the newest: its row, its file and its object untouched
    expect(gens.get(newest!.id)).toMatchObject({ deletedAt: null, offsiteState: 'copied' });
    expect(fs.existsSync(newest!.file)).toBe(true);
    expect(await store.checkObject(newest!.offsiteKey!, { size: newest!.size, sha256: newest!.sha256! })).toMatchObject({ status: 'ok' });
    for (const g of older) {
      expect(gens.get(g.id)).toMatchObject({ deletedBy: workflowId, offsiteState: 'deleted' });
      expect(fs.existsSync(g.file)).toBe(false);
      expect(await store.head(g.offsiteKey!)).toBeUndefined();
    }
    expect((await store.listDossier('main', code)).map((o) => o.key)).toEqual([newest!.offsiteKey]);
  }
  // marked once: the rows marked before the kill kept their first mark
  const after = new Map((await marked()).map((r) => [r.id, r.deleted_at.getTime()]));
  for (const r of atKill) expect(after.get(r.id)).toBe(r.deleted_at.getTime());
  expect(after.size).toBe(codes.length * 3);
});

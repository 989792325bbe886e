import fs from 'node:fs';
import crypto from 'node:crypto';
import { createBackupActivities } from '../../activities/backup';
import { generateDemoDossiers } from '../../registry/demo';
import { startBackupPrune } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import type { BackupPruneResult } from '../../workflows/backup-prune.api';
import { waitFor } from './backup-batch-helpers';
import { crashHarness, kill } from './crash-harness';

/** A worker killed (SIGKILL) during a prune, a new worker finishes it: nothing retention keeps is deleted, each pruned generation marked once and its file gone (R-BK-11). */

const crash = crashHarness('prune-worker.ts', { NS_TEST_PRUNE_DELAY_MS: '400' });

test('R-BK-11 crash: SIGKILL during a prune, a new worker finishes it; kept generations untouched, pruned ones marked once with their files gone', async () => {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const codes = await generateDemoDossiers(pool, { target: 'main', count: 10, sizeKb: 5, prefix: 'PK' });
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  for (const code of codes) {
    for (const daysAgo of [3, 2, 1, 0]) {
      const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
      await pool.query(`UPDATE nightshift.backup_generation SET snapshot_at = now() - make_interval(days => $2) WHERE id = $1`, [r.generationId, daysAgo]);
    }
  }
  await setRetentionSetting(pool, { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  const before = new Map<string, Awaited<ReturnType<typeof dossierGenerations>>>();
  for (const code of codes) before.set(code, await dossierGenerations(pool, code));

  const first = await crash.startWorker();
  const workflowId = `backup-prune/main/${crypto.randomUUID()}`;
  const handle = await startBackupPrune(temporal.client, { target: 'main', tuning: { chunkSize: 3, window: 1, concurrency: 1, heartbeatTimeout: '3s' } }, { taskQueue: stack.config.temporal.taskQueue, workflowId });
  const marked = () => pool.query<{ id: string; deleted_at: Date; file: string }>('SELECT id, deleted_at, file FROM nightshift.backup_generation WHERE deleted_by = $1', [workflowId]).then((r) => r.rows);
  await waitFor('a few dossiers pruned', async () => ((await marked()).length >= 6 ? true : undefined), 120_000);
  await kill(first);
  const atKill = await marked();
  expect(atKill.length).toBeLessThan(codes.length * 3);

  await crash.startWorker();
  const result = (await handle.result()) as BackupPruneResult;
  // the bytes freed are the pruned files' sizes, also those the killed attempt removed before its retry found them gone
  const prunedBytes = [...before.values()].reduce((n, gens) => n + gens.slice(1).reduce((m, g) => m + g.size, 0), 0);
  // kept: the newest of each dossier, also those the killed attempt decided before its retry skipped them (issue 13)
  expect(result).toMatchObject({ state: 'completed', failed: 0, total: codes.length, deleted: codes.length * 3, bytesFreed: prunedBytes, kept: codes.length });

  for (const code of codes) {
    const gens = await dossierGenerations(pool, code, { deleted: true });
    const [newest, ...older] = before.get(code)!;
    const now = new Map(gens.map((g) => [g.id, g]));
    // retention keeps the newest: untouched, and still the seed's B{code}.SVG
    expect(now.get(newest!.id)!.deletedAt).toBeNull();
    expect(fs.statSync(newest!.links[0]!).ino).toBe(fs.statSync(newest!.file).ino);
    for (const g of older) {
      expect(now.get(g.id)).toMatchObject({ deletedBy: workflowId });
      expect(fs.existsSync(g.file)).toBe(false);
    }
  }
  // marked once: the rows marked before the kill kept their first mark
  const after = new Map((await marked()).map((r) => [r.id, r.deleted_at.getTime()]));
  for (const r of atKill) expect(after.get(r.id)).toBe(r.deleted_at.getTime());
  expect(after.size).toBe(codes.length * 3);
});

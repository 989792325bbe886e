import { qualified } from '../../db/ident';
import { createBackupActivities } from '../../activities/backup';
import { schemaNameFor } from '../../domain/dossier';
import { holdRepairLocks } from '../../store/patch/repair-lock';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { blockablePatches, demoDossiers, levels, modifiedSinceBackup, openWindow, runPatch } from '../workflows/patch-helpers';

/**
 * R-PI-8 (Flyway's `repair`) and R-BK-11: a dossier restored from an archive taken before a `patch repair` brings back
 * the old checksum of the repaired patch; the restore realigns it in its own transaction (migration 0041), and waits
 * for a repair at work. The CLI as processes, a worker, the real servers.
 */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

jest.setTimeout(180_000);

const checksumOf = async (code: string, number: number): Promise<string> =>
  (await ctx.stack.pools.get('main').query<{ checksum: string }>(`SELECT checksum FROM ${qualified(schemaNameFor(code), 'apatch')} WHERE number = $1`, [number])).rows[0]!.checksum;

const appliedCount = async (code: string): Promise<number> =>
  (await ctx.stack.pools.get('main').query<{ n: number }>(`SELECT count(*)::int AS n FROM ${qualified(schemaNameFor(code), 'applylog')}`)).rows[0]!.n;

test('R-PI-8 / R-BK-11: a restore from before a patch repair realigns the ledger it brings back (nothing applied again, nothing to back up again), waits for a repair at work, and the next patch integrates', async () => {
  const pool = ctx.stack.pools.get('main');
  const codes = await demoDossiers(ctx.stack, 3);
  await openWindow(pool);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  const first = tempDir('realign-first');
  await blockablePatches(first, [1, 2]);
  await worker.runUntil(async () => expect((await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: first })).state).toBe('completed'));
  const oldChecksum = await checksumOf(codes[0]!, 2);

  // archives taken before the repair: their ledgers hold the old checksum of patch 2
  const backup = createBackupActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  for (const code of codes) await backup.backupDossier({ target: 'main', code, reason: 'manual' });

  const fixed = tempDir('realign-fixed');
  await blockablePatches(fixed, [1, 2], (n) => (n === 2 ? '-- a comment fixed after the fact\n' : ''));
  const repaired = await cli(['patch', 'repair', fixed, '--yes']);
  expect(repaired).toMatchObject({ code: 0, stderr: '' });
  expect(repaired.stdout).toMatch(/^patch 2: 3 dossier ledger\(s\) realigned to /);
  const newChecksum = (await pool.query<{ checksum: string }>('SELECT checksum FROM nightshift.patch_package WHERE number = 2')).rows[0]!.checksum;
  expect(newChecksum).not.toBe(oldChecksum);
  const applied = await appliedCount(codes[0]!);
  const at = new Date().toISOString();
  // the third dossier backed up again after the repair: its archive holds the new checksum
  await new Promise((res) => setTimeout(res, 10));
  await backup.backupDossier({ target: 'main', code: codes[2]!, reason: 'manual' });
  const generationOf = async (code: string) =>
    (await pool.query<{ id: string }>('SELECT id FROM nightshift.backup_generation WHERE code = $1 AND snapshot_at <= $2 ORDER BY snapshot_at DESC LIMIT 1', [code, at])).rows[0]!.id;

  const restorer = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await restorer.runUntil(async () => {
    // the newest archive before `at` is from before the repair: the ledger it brings back is realigned, and said
    const r = await cli(['backup', 'restore', codes[0]!, '--at', at, '--replace', '--wait']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`generation ${await generationOf(codes[0]!)} of dossier ${codes[0]}`);
    expect(r.stdout).toMatch(/restored dossier \S+ from generation \d+: .* documents in \d+ ms; its patch ledger realigned with 'patch repair' done since the archive \(patch 2: nothing applied again\)\n$/);
    expect(await checksumOf(codes[0]!, 2)).toBe(newChecksum);
    expect(await appliedCount(codes[0]!)).toBe(applied);
    // JSON: the numbers realigned
    const json = JSON.parse((await cli(['backup', 'restore', codes[0]!, '--at', at, '--replace', '--wait', '--json'])).stdout);
    expect(json.result.ledgerRealigned).toEqual([2]);

    // a restore waits for a repair at work (its locks held here), then realigns what it brings back
    const repairConnection = await pool.connect();
    let restore: ReturnType<typeof cli> | undefined;
    try {
      await holdRepairLocks(repairConnection);
      restore = cli(['backup', 'restore', codes[1]!, '--at', at, '--replace', '--wait']);
      const waiting = async () =>
        (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND NOT granted`)).rows[0]!.n;
      for (let i = 0; i < 300 && (await waiting()) === 0; i++) await new Promise((res) => setTimeout(res, 100));
      expect(await waiting()).toBe(1);
      // nothing restored yet: the dossier as the repair left it
      expect(await checksumOf(codes[1]!, 2)).toBe(newChecksum);
    } finally {
      repairConnection.release(true);
    }
    const waited = await restore!;
    expect(waited).toMatchObject({ code: 0, stderr: '' });
    expect(waited.stdout).toContain("its patch ledger realigned with 'patch repair' done since the archive (patch 2: nothing applied again)");
    expect(await checksumOf(codes[1]!, 2)).toBe(newChecksum);

    // a restore from an archive taken after the repair has nothing to realign and says nothing of it
    const after = await cli(['backup', 'restore', codes[2]!, '--at', new Date(Date.now() + 60_000).toISOString(), '--replace', '--wait']);
    expect(after).toMatchObject({ code: 0, stderr: '' });
    expect(after.stdout).not.toContain('realigned');
  });
  // a restore is no user's change (R-BK-10): the realigned dossiers are not to back up again for it
  const modified = await modifiedSinceBackup(pool);
  expect(codes.map((c) => modified[c])).toEqual([false, false, false]);
  expect((await cli(['patch', 'repair', fixed])).stdout).toMatch(/^nothing to repair on main/);

  // the next patch integrates every dossier: no ChecksumDrift for the restored ones
  await blockablePatches(fixed, [3]);
  const next = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await next.runUntil(async () => expect((await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: fixed })).state).toBe('completed'));
  const after = await levels(pool);
  expect(codes.map((c) => after[c])).toEqual([3, 3, 3]);
});

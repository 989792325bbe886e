import crypto from 'node:crypto';
import { createBackupActivities } from '../../activities/backup';
import type { Config } from '../../config/config';
import { Secret } from '../../offsite/secret';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { createDossiers } from '../workflows/backup-batch-helpers';

/**
 * R-BK-12 / R-BK-13 (drill K3's leftover, 2026-12-07): a dossier whose newest archive is encrypted with a key the
 * workers no longer give (lost after a rotation) has no archive of its current data that reads back. The next batch
 * takes it again under the current key, as it takes one whose newest archive was found corrupt, even unmodified; a
 * dossier whose newest archive is under a key that is given is not taken, whatever its older ones use. Real servers.
 */

const ctx = useCliStack(90_000);
const cli = ctx.cli;
const pool = () => ctx.stack.pools.get('main');
const OLD = `k-old=${crypto.randomBytes(32).toString('base64')}`;
const NEW = `k-new=${crypto.randomBytes(32).toString('base64')}`;

/** The stack's configuration with only these keys (inline), the last one current. */
function withKeys(...keys: string[]): Config {
  return { ...ctx.stack.config, backupKeys: { file: '/nonexistent/backup-keys', fileGiven: false, inline: new Secret(keys.join(',')) } };
}

const newestKey = async (code: string) =>
  (await pool().query<{ key_id: string | null }>(`SELECT key_id FROM nightshift.backup_generation WHERE code = $1 AND deleted_at IS NULL ORDER BY snapshot_at DESC LIMIT 1`, [code])).rows[0]?.key_id;

test('R-BK-12 R-BK-13: the batch takes again, under the current key, a dossier whose newest archive is under a key no longer given; backup run --dry-run says why', async () => {
  await createDossiers(ctx.stack, [{ code: 'LK1' }, { code: 'LK2' }, { code: 'LK3' }]);
  const before = createBackupActivities({ config: withKeys(OLD), pools: ctx.stack.pools });
  const rotated = createBackupActivities({ config: withKeys(OLD, NEW), pools: ctx.stack.pools });
  // LK1: only an archive under k-old; LK2: k-old, then k-new after the rotation; LK3: k-new only
  await before.backupDossier({ target: 'main', code: 'LK1', reason: 'manual' });
  await before.backupDossier({ target: 'main', code: 'LK2', reason: 'manual' });
  await rotated.backupDossier({ target: 'main', code: 'LK2', reason: 'manual' });
  await rotated.backupDossier({ target: 'main', code: 'LK3', reason: 'manual' });
  expect([await newestKey('LK1'), await newestKey('LK2'), await newestKey('LK3')]).toEqual(['k-old', 'k-new', 'k-new']);

  // while k-old is given nothing is taken: every newest archive reads back
  const given = await cli(['backup', 'run', '--dry-run', '--json'], { NIGHTSHIFT_BACKUP_KEYS: `${OLD},${NEW}` });
  expect({ code: given.code, stderr: given.stderr }).toEqual({ code: 0, stderr: '' });
  expect((JSON.parse(given.stdout) as { dossiers: { code: string }[] }).dossiers.map((d) => d.code).filter((c) => c.startsWith('LK'))).toEqual([]);

  // k-old lost: LK1 only (LK2's older archive is under it, its newest is not)
  const dry = await cli(['backup', 'run', '--dry-run'], { NIGHTSHIFT_BACKUP_KEYS: NEW });
  expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
  expect(dry.stdout).toContain('  LK1: its newest archive is encrypted with a key this host does not give: taken again under the current key (R-BK-12)\n');
  expect(dry.stdout).not.toMatch(/ LK[23]:/);

  const worker = await createTestWorker({ ...ctx.stack, config: withKeys(NEW) }, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const run = await cli(['backup', 'run', '--wait', '--json'], { NIGHTSHIFT_BACKUP_KEYS: NEW });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const runId = (JSON.parse(run.stdout) as { result: { runId: number } }).result.runId;
    const { rows } = await pool().query(`SELECT code, status FROM nightshift.backup_run_item WHERE run_id = $1 AND code LIKE 'LK%' ORDER BY code`, [runId]);
    expect(rows).toEqual([{ code: 'LK1', status: 'ok' }]);
    const settings = (await pool().query(`SELECT settings FROM nightshift.backup_run WHERE id = $1`, [runId])).rows[0].settings;
    expect(settings.lostKeys).toEqual(['k-old']);
  });
  expect(await newestKey('LK1')).toBe('k-new');
  // taken once: its newest archive reads back now
  const after = await cli(['backup', 'run', '--dry-run', '--json'], { NIGHTSHIFT_BACKUP_KEYS: NEW });
  expect((JSON.parse(after.stdout) as { dossiers: { code: string }[] }).dossiers.map((d) => d.code).filter((c) => c.startsWith('LK'))).toEqual([]);
});

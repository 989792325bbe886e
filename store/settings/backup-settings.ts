import path from 'node:path';
import type { Config } from '../../config/config';
import { type BackupSettingKey, defaultBackupSettings, resolveBackupSettings } from '../../domain/backup-batch';
import type { Queryable } from '../queryable';

/** Settings (R-BK-9): local values come from config (NIGHTSHIFT_BACKUP_*), common ones from nightshift.backup_setting. */

/**
 * This process's local values over the given common ones over the defaults (R-BK-9): the one precedence everywhere.
 * One target: the default folder is <data>/sauve (R-BK-5). Several: each target's own, <data>/sauve/<target>, and a
 * local folder (NIGHTSHIFT_BACKUP_DIR, one for the host) is the folder of their folders, <dir>/<target> (drill T: one
 * folder for three firms made a code in two of them one B{code}.SVG, one generations folder, one report name).
 */
export function backupSettingsFor(config: Config, target: string, common: Partial<Record<BackupSettingKey, unknown>>) {
  const several = config.targets.length > 1;
  const own = (folder: string) => (several ? path.join(folder, target) : folder);
  const local = config.backupLocal.folder === undefined ? config.backupLocal : { ...config.backupLocal, folder: own(config.backupLocal.folder) };
  return resolveBackupSettings(local, common, defaultBackupSettings(own(path.resolve(config.dataDir, 'sauve'))));
}

/** The common (database) values as stored. */
export async function readCommonBackupSettings(db: Queryable): Promise<Partial<Record<BackupSettingKey, unknown>>> {
  const { rows } = await db.query<{ key: BackupSettingKey; value: unknown }>('SELECT key, value FROM nightshift.backup_setting');
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}

/** Local, common (database) and default values, resolved (R-BK-9). */
export async function loadBackupSettings(db: Queryable, config: Config, target: string) {
  return backupSettingsFor(config, target, await readCommonBackupSettings(db));
}

/** Set (or, with `undefined`, clear) one common value. */
/** Sets (or, undefined, removes) a common value; false: there was none to remove. */
export async function setCommonBackupSetting(db: Queryable, key: BackupSettingKey, value: unknown | undefined): Promise<boolean> {
  if (value === undefined) return ((await db.query('DELETE FROM nightshift.backup_setting WHERE key = $1', [key])).rowCount ?? 0) > 0;
  else {
    await db.query(
      `INSERT INTO nightshift.backup_setting (key, value) VALUES ($1, $2::jsonb)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [key, JSON.stringify(value)],
    );
    return true;
  }
}

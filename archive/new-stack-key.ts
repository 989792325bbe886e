import pg from 'pg';
import type { Config } from '../config/config';
import { keptKeyIds } from '../store/generations/kept-key-ids';
import { backupKeysGiven, ensureBackupKeyFile, loadBackupKeyring } from './keys';

/**
 * The backup key a local stack (`nightshift dev`, `nightshift cluster up`) makes on its first start, after its databases
 * are migrated: none when a key is given, and none either when a target already keeps encrypted archives (drill K3,
 * session 36: the key file gone, the next start made a new key and said "encrypted at rest with a new key", as for a new
 * deployment; batches went on under it while every kept archive needed the lost one). Then one line names the keys its
 * archives need and what to do, and backups and restores refuse (BackupKeyMissing) until the file is back.
 */
export async function makeNewStackBackupKey(config: Config, say: (line: string) => void): Promise<void> {
  // a key file given that holds no key (emptied by a bad deploy, a mount gone to an empty file) is said as a missing one
  // is, when the kept archives are encrypted (drill F, session 39: the stack started silently); a malformed one is said
  // where a key is used
  let emptyFile = false;
  if (backupKeysGiven(config.backupKeys)) {
    if (config.backupKeys.plainOnPurpose) return;
    try {
      if (loadBackupKeyring(config.backupKeys).current()) return;
    } catch {
      return;
    }
    emptyFile = true;
  }
  const needed: string[] = [];
  for (const t of config.targets) {
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      for (const k of await keptKeyIds(client)) if (k.keyId !== null) needed.push(`${k.keyId} (${k.generations} generation(s) of target ${t.name})`);
    } finally {
      await client.end();
    }
  }
  if (needed.length) {
    const why = emptyFile ? `${config.backupKeys.file} holds none` : `no ${config.backupKeys.file}`;
    say(
      `backups: no backup key is given (${why}), and the kept archives are encrypted with ${needed.join(', ')}: ` +
        `no new key made; put that key file back (or give NIGHTSHIFT_BACKUP_KEYS_FILE / NIGHTSHIFT_BACKUP_KEYS): until then backups and restores refuse (BackupKeyMissing)`,
    );
    return;
  }
  if (emptyFile) return;
  const made = ensureBackupKeyFile(config.backupKeys);
  if (made) say(`backups: encrypted at rest with a new key in ${made}: keep a copy of that file off this machine (without it no archive can be read)`);
}

import fs from 'node:fs';
import type pg from 'pg';
import { writeKeyFile } from '../gate/dev-key';
import { hashSecret, issueKey } from '../gate/keys';
import { listKeys } from '../store/gate/list-keys';
import { liveKeyExists } from '../store/gate/live-key-exists';
import { revokeKey } from '../store/gate/revoke-key';

/** The name of the key `nightshift cluster up` makes for the gate (`gate keys list` shows it). */
export const CLUSTER_KEY_NAME = 'nightshift cluster';

/**
 * The cluster's gate key, as the dev stack keeps its own: the one in `file` while it is live on the target,
 * else a new one written there (0600). Every other live key of that name is revoked, so that one key of the
 * cluster is valid at a time, however many times it was started.
 */
export async function ensureClusterKey(pool: pg.Pool, file: string): Promise<{ secret: string; created: boolean; revoked: string[] }> {
  const saved = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  const reused = saved !== '' && (await liveKeyExists(pool, hashSecret(saved)));
  const secret = reused ? saved : (await issueKey(pool, CLUSTER_KEY_NAME)).secret;
  if (!reused) writeKeyFile(file, secret);
  const revoked: string[] = [];
  for (const key of await listKeys(pool)) {
    if (key.name !== CLUSTER_KEY_NAME || key.revokedAt || secret.startsWith(key.prefix)) continue;
    if ((await revokeKey(pool, key.id)) === 'revoked') revoked.push(key.prefix);
  }
  return { secret, created: !reused, revoked };
}

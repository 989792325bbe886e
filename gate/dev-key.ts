import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { liveKeyExists } from '../store/gate/live-key-exists';
import { hashSecret, issueKey, KEY_HEADER } from './keys';

/**
 * `nightshift dev`: a key of the demo target for the local business application, kept in the data folder
 * (mode 0600) so that it survives restarts; a new one when the file is gone or its key was revoked.
 */
export async function ensureDevKey(pool: pg.Pool, dataDir: string): Promise<{ secret: string; file: string; created: boolean }> {
  const file = path.join(dataDir, 'gate-dev-key');
  const saved = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (saved) {
    if (await liveKeyExists(pool, hashSecret(saved))) return { secret: saved, file, created: false };
  }
  const { secret } = await issueKey(pool, 'dev-demo');
  writeKeyFile(file, secret);
  return { secret, file, created: true };
}

/** A key's secret in a file only its owner reads (0600): temporary name, fsync, rename. */
export function writeKeyFile(file: string, secret: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${secret}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** The lines `dev` prints about the gate: how the business application calls it, where its metrics are. */
export function devGateHint(address: string, metricsAddress: string, target: string, key: { secret: string; file: string }): string {
  return [
    `gate: API key of target ${target} for the local application (kept in ${key.file}; \`nightshift gate keys\` manages keys):`,
    `  curl -H '${KEY_HEADER}: ${key.secret}' ${address}/v1/targets/${target}/status`,
    `gate metrics: ${metricsAddress}`,
  ].join('\n');
}

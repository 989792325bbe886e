import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { archiveFileName } from '../domain/dossier';
import { GENERATIONS_FOLDER } from '../domain/generation';
import { workflowIdTimestamp } from '../domain/workflow-id';

/**
 * Where generations live on disk (R-BK-11): each generation has a file of its own,
 * `<kind root>/generations/<CODE>/B<CODE>.<UTC snapshot YYYYMMDDTHHMMSSZ>.<6 hex>.SVG`, never replaced; the
 * seed's `B<CODE>.SVG` (in the folder, or its date sub-folder) is a second name (hard link) of the newest one,
 * so keeping generations costs no extra space for the latest. The kind root is the backup folder, or its
 * EchangePrest/ or Cloture/ sub-folder (R-BK-5).
 */

export function generationsDir(kindRoot: string, code: string): string {
  return path.join(kindRoot, GENERATIONS_FOLDER, code);
}

export function generationFileName(code: string, snapshotAt: Date): string {
  const base = archiveFileName(code).replace(/\.SVG$/, '');
  return `${base}.${workflowIdTimestamp(snapshotAt)}.${crypto.randomBytes(3).toString('hex')}.SVG`;
}

async function syncDir(dir: string): Promise<void> {
  const dh = await fs.promises.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

async function syncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes a finished temporary archive durable under both names: its generation file (created first, so that a
 * crash never leaves a latest without its generation) and the seed's name, atomically replaced (R-BK-6).
 * A folder where hard links are refused (another file system below the folder, some mounts) gets a copy.
 */
export async function commitGeneration(tmp: string, latest: string, generationFile: string): Promise<void> {
  await syncFile(tmp);
  const genDir = path.dirname(generationFile);
  await fs.promises.mkdir(genDir, { recursive: true });
  try {
    await fs.promises.link(tmp, generationFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
    await fs.promises.copyFile(tmp, generationFile, fs.constants.COPYFILE_EXCL);
    await syncFile(generationFile);
  }
  await syncDir(genDir);
  await syncDir(path.dirname(genDir));
  await fs.promises.rename(tmp, latest);
  await syncDir(path.dirname(latest));
}

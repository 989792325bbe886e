import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { archiveFileName } from '../domain/dossier';
import { GENERATIONS_FOLDER } from '../domain/generation';
import type { RetentionDecision } from '../domain/retention';
import { workflowIdTimestamp } from '../domain/workflow-id';
import { syncDir } from './writer';

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

async function syncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Makes a finished temporary archive durable under both names, its generation file and the seed's name
 * (atomically replaced), before the caller records it (R-BK-6): the data is synced first (here, unless the
 * writer did it before closing the file: `synced`), then the two names
 * are made and both folders synced at once (one fsync's wait, not two in a row; the generations folder's parent
 * only when the folder was just created). A crash before the folders are synced may lose either name, but
 * nothing was recorded yet: the dossier stays modified and the next backup writes it again; an older
 * generation's row never follows the seed's name to the new file (prune checks the inode before unlinking it).
 * A folder where hard links are refused (another file system below the folder, some mounts) gets a copy.
 */
export async function commitGeneration(tmp: string, latest: string, generationFile: string, synced = false): Promise<void> {
  if (!synced) await syncFile(tmp);
  const genDir = path.dirname(generationFile);
  const created = await fs.promises.mkdir(genDir, { recursive: true });
  try {
    await fs.promises.link(tmp, generationFile);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
    await fs.promises.copyFile(tmp, generationFile, fs.constants.COPYFILE_EXCL);
    await syncFile(generationFile);
  }
  await fs.promises.rename(tmp, latest);
  const dirs = new Set([genDir, path.dirname(latest)]);
  // every folder mkdir made, and the one holding the first of them
  if (created) for (let d = genDir; d.length >= created.length && d !== path.dirname(d); d = path.dirname(d)) dirs.add(path.dirname(d));
  await Promise.all([...dirs].map(syncDir));
}

/**
 * A generation recorded missing takes no retention slot once nothing is left of it (domain/retention.ts isGone): its
 * file is looked for first, and one that is there again (put back from another copy) is kept until a verification
 * says what it is, never deleted on the strength of an old finding.
 */
export async function keepFilesFoundAgain(gens: { verifyState: string; file: string; decision: RetentionDecision }[]): Promise<void> {
  for (const g of gens) {
    if (g.decision.keep || g.verifyState !== 'missing') continue;
    const there = await fs.promises.stat(g.file).then(() => true, () => false);
    if (there) {
      g.decision.keep = true;
      g.decision.reasons.push('its file is there again: verify it');
    }
  }
}

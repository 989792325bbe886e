import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { archiveFileName } from '../domain/dossier';
import { GENERATION_KINDS, GENERATIONS_FOLDER } from '../domain/generation';
import type { RetentionDecision } from '../domain/retention';
import { workflowIdTimestamp } from '../domain/workflow-id';
import { recordedFiles } from '../store/generations/recorded-files';
import type { Queryable } from '../store/queryable';
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

/** The snapshot time a generation file's name says (generationFileName), to the second; undefined: not such a name. */
export function generationFileSnapshot(code: string, name: string): Date | undefined {
  const base = archiveFileName(code).replace(/\.SVG$/, '');
  if (!name.startsWith(`${base}.`)) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.[0-9a-f]{6}\.SVG$/.exec(name.slice(base.length + 1));
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return at.getUTCMonth() === mo - 1 && at.getUTCDate() === d && at.getUTCHours() === h && at.getUTCMinutes() === mi && at.getUTCSeconds() === s ? at : undefined;
}

/** The kind roots below a backup folder (R-BK-5): the folder itself (normal), its EchangePrest/ and Cloture/. */
export function kindRoots(backupFolder: string): string[] {
  return GENERATION_KINDS.map((k) => (k === 'normal' ? backupFolder : path.join(backupFolder, k)));
}

export async function syncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A hard link refused where a copy would do: another file system below the folder, some mounts. */
export const linkRefused = (err: unknown): boolean => ['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP'].includes((err as NodeJS.ErrnoException).code ?? '');

/** `to` (which must not exist) as a second name of `from`: a hard link, or where links are refused a copy synced to disk. */
export async function secondName(from: string, to: string): Promise<void> {
  try {
    await fs.promises.link(from, to);
  } catch (err) {
    if (!linkRefused(err)) throw err;
    await fs.promises.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    await syncFile(to);
  }
}

/**
 * Makes a finished temporary archive durable under both names, its generation file and the seed's name
 * (atomically replaced), before the caller records it (R-BK-6): the data is synced first (here, unless the
 * writer did it before closing the file: `synced`), then the two names
 * are made and both folders synced at once (one fsync's wait, not two in a row; the generations folder's parent
 * only when the folder was just created). Nothing is recorded yet: the dossier stays modified and the next backup
 * writes it again. The generation file is then a file no row names: removed here when a step after it fails, by
 * the engine when its record fails, and, after a crash where nothing ran, by the prune's sweep once a newer
 * generation is recorded (findUnrecordedFiles). An older generation's row never follows the seed's name to the new
 * file (prune checks the inode before unlinking it).
 * A folder where hard links are refused (another file system below the folder, some mounts) gets a copy.
 */
export async function commitGeneration(tmp: string, latest: string, generationFile: string, synced = false): Promise<void> {
  if (!synced) await syncFile(tmp);
  const genDir = path.dirname(generationFile);
  // the dossier's generations folder is made only when it is missing (its first generation), not once per backup
  let created: string | undefined;
  const link = async () => {
    try {
      await fs.promises.link(tmp, generationFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || created !== undefined) throw err;
      created = (await fs.promises.mkdir(genDir, { recursive: true })) ?? '';
      await fs.promises.link(tmp, generationFile);
    }
  };
  try {
    await link();
  } catch (err) {
    if (!linkRefused(err)) throw err;
    try {
      await fs.promises.copyFile(tmp, generationFile, fs.constants.COPYFILE_EXCL);
      await syncFile(generationFile);
    } catch (copyErr) {
      if ((copyErr as NodeJS.ErrnoException).code !== 'EEXIST') await fs.promises.rm(generationFile, { force: true }).catch(() => {});
      throw copyErr;
    }
  }
  try {
    await fs.promises.rename(tmp, latest);
    const dirs = new Set([genDir, path.dirname(latest)]);
    // every folder mkdir made, and the one holding the first of them
    if (created) for (let d = genDir; d.length >= created.length && d !== path.dirname(d); d = path.dirname(d)) dirs.add(path.dirname(d));
    await Promise.all([...dirs].map(syncDir));
  } catch (err) {
    // never recorded: not left for the sweep (the caller removes the temporary file, or B{code}.SVG keeps its bytes)
    await fs.promises.rm(generationFile, { force: true }).catch(() => {});
    throw err;
  }
}

/**
 * A file of a generations folder left by an interrupted backup: named as a generation, no row names it (kept or
 * pruned), and its snapshot older than the dossier's newest recorded generation.
 */
export interface UnrecordedFile {
  file: string;
  snapshotAt: Date;
  size: number;
}

/**
 * A file no row names whose last write is more recent than this is left alone, whatever its name says: two backups
 * of one dossier at once (a `backup dossier` during the batch), the later one recorded first, leave the earlier one
 * between its link and its record for a few statements; an hour is far more than that.
 */
export const UNRECORDED_GRACE_MS = 3600_000;

/**
 * The files a backup committed and never recorded (killed, or PostgreSQL gone, between commitGeneration and the
 * record's commit), in `dirs` (the dossier's generations folders). Race-free with a running backup: only a name
 * whose snapshot is older (to the second) than `newestRecorded`, the newest generation recorded for the dossier,
 * can be one (a backup writing or recording now has a newer snapshot, unless it runs beside another one: the
 * grace above). One readdir per folder, one query for the candidates only: the prune's cost, never the backup's.
 */
export async function findUnrecordedFiles(
  db: Queryable,
  code: string,
  o: { dirs: Iterable<string>; newestRecorded: Date | undefined; graceMs?: number },
): Promise<UnrecordedFile[]> {
  if (!o.newestRecorded) return [];
  const before = Math.floor(o.newestRecorded.getTime() / 1000) * 1000;
  const candidates: { file: string; snapshotAt: Date }[] = [];
  for (const dir of new Set(o.dirs)) {
    let names: string[];
    try {
      names = await fs.promises.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw err;
    }
    for (const name of names) {
      const snapshotAt = generationFileSnapshot(code, name);
      if (snapshotAt && snapshotAt.getTime() < before) candidates.push({ file: path.join(dir, name), snapshotAt });
    }
  }
  if (!candidates.length) return [];
  const recorded = await recordedFiles(db, candidates.map((c) => c.file));
  const writtenBefore = Date.now() - (o.graceMs ?? UNRECORDED_GRACE_MS);
  const out: UnrecordedFile[] = [];
  for (const c of candidates) {
    if (recorded.has(c.file)) continue;
    const s = await fs.promises.lstat(c.file).catch(() => undefined);
    if (s?.isFile() && s.mtimeMs <= writtenBefore) out.push({ ...c, size: s.size });
  }
  return out.sort((a, b) => a.snapshotAt.getTime() - b.snapshotAt.getTime() || (a.file < b.file ? -1 : 1));
}

/** A dossier's generations folders: those of its recorded files, and those of the backup folder's kinds today. */
export function generationsDirsOf(code: string, files: string[], backupFolder: string | undefined): string[] {
  const dirs = new Set(files.map((f) => path.dirname(f)));
  if (backupFolder) for (const root of kindRoots(backupFolder)) dirs.add(generationsDir(root, code));
  return [...dirs];
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

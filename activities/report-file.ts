import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { commitFile, createPrivateFile } from '../archive/writer';
import { REPORT_ENCODING, REPORT_FOLDER } from '../domain/backup-batch';

/** Appends one page of a report's text; resolves once the stream can take more (memory stays flat). */
export type ReportWrite = (text: string) => Promise<void>;

/**
 * A run's report (backup batch R-BK-7, verification): `fill` streams its pages through `write` and
 * returns its tallies and the closing text. The file is born private under a temporary name in the
 * report folder, then synced and renamed (archive/writer.ts commitFile): a reader never sees half a
 * report. The report folder (`<backup folder>/log`) is made when missing, never its backup folder: a
 * backup folder that is not there (a share not mounted), or that the caller found is not the shared
 * store (`refused`, why), is not written into. Then, or when the report folder is unwritable, the
 * report goes under the data folder instead (`unwritable` says where and why), so that it is never lost.
 */
export async function writeRunReport<T>(
  o: { folder: string; dataDir: string; name: string; mode: number; refused?: string },
  fill: (write: ReportWrite) => Promise<{ tallies: T; end: string }>,
): Promise<T & { file: string; unwritable?: { folder: string; error: unknown } }> {
  const fallback = async (error: unknown) => {
    const folder = path.join(o.dataDir, REPORT_FOLDER);
    return { ...(await writeReportFile(folder, o.name, o.mode, fill, true)), unwritable: { folder, error } };
  };
  if (o.refused !== undefined) return fallback(new Error(o.refused));
  try {
    return await writeReportFile(o.folder, o.name, o.mode, fill, false);
  } catch (error) {
    return fallback(error);
  }
}

/** `withParents`: the data folder's own log folder only (the worker's local disk); a report folder's parent must be there already. */
async function writeReportFile<T>(
  dir: string,
  name: string,
  mode: number,
  fill: (write: ReportWrite) => Promise<{ tallies: T; end: string }>,
  withParents: boolean,
): Promise<T & { file: string }> {
  if (withParents) await fs.promises.mkdir(dir, { recursive: true });
  else
    await fs.promises.mkdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  const file = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  await createPrivateFile(tmp, mode);
  const out = fs.createWriteStream(tmp, { flags: 'r+', encoding: REPORT_ENCODING });
  const failedOut = new Promise<never>((_, reject) => out.once('error', reject));
  failedOut.catch(() => {});
  try {
    const { tallies, end } = await fill(async (text) => {
      if (!out.write(text)) await Promise.race([new Promise<void>((res) => out.once('drain', () => res())), failedOut]);
    });
    out.end(end);
    await Promise.race([finished(out), failedOut]);
    await commitFile(tmp, file, dir);
    return { ...tallies, file };
  } catch (err) {
    out.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

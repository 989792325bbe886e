import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import type { Config } from '../config/config';
import { readStoreIds, type StoreKind } from '../store/settings/read-store-ids';
import { recordStoreId } from '../store/settings/record-store-id';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { FailureType, permanentFailure } from '../domain/failures';

/**
 * Several worker hosts, one set of files (issue 10): archives, reports and documents are files, and
 * any worker may run any activity, so every worker of a target must see the SAME backup folder and
 * documents folder — a shared mount at the same path on every host. A folder is recognised by its
 * `.nightshift-store` marker (a random store id); the target database records the id the first
 * worker found or wrote. A worker whose folder's marker is missing or different refuses to start;
 * `nightshift doctor` says the same. Patch directories must lie inside such a marked folder.
 */

export const STORE_MARKER_FILE = '.nightshift-store';
export const FOLDER_NAME: Record<StoreKind, string> = { backups: 'backup folder', documents: 'documents folder' };
export type { StoreKind };

const markerSchema = z.object({
  storeId: z.string().regex(/^[0-9a-f]{32}$/),
  createdAt: z.string(),
  createdBy: z.string(),
});

export type MarkerRead = { state: 'present'; storeId: string } | { state: 'missing' } | { state: 'unreadable'; problem: string };

export async function readStoreMarker(folder: string): Promise<MarkerRead> {
  let raw: string;
  try {
    raw = await fs.readFile(path.join(folder, STORE_MARKER_FILE), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { state: 'missing' };
    return { state: 'unreadable', problem: code ?? (err as Error).message };
  }
  try {
    return { state: 'present', storeId: markerSchema.parse(JSON.parse(raw)).storeId };
  } catch {
    return { state: 'unreadable', problem: 'not a Nightshift store marker' };
  }
}

/**
 * Writes the marker unless the folder has one: a temporary file, fsynced, then linked to its name
 * (an exclusive rename: of two workers writing at once, one wins) and the folder fsynced. Returns the
 * id the folder ends up with.
 */
export async function createStoreMarker(folder: string, storeId: string, createdBy: string): Promise<string> {
  await fs.mkdir(folder, { recursive: true });
  const file = path.join(folder, STORE_MARKER_FILE);
  const tmp = path.join(folder, `${STORE_MARKER_FILE}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', 0o644);
  try {
    await handle.writeFile(`${JSON.stringify({ storeId, createdAt: new Date().toISOString(), createdBy })}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const dir = await fs.open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  const now = await readStoreMarker(folder);
  if (now.state !== 'present') throw new Error(`${file} could not be read back (${now.state === 'unreadable' ? now.problem : 'missing'})`);
  return now.storeId;
}

export interface FolderVerdict {
  kind: StoreKind;
  folder: string;
  /** ok: the marker matches; refused: missing/different/unreadable; unrecorded: no worker has recorded a store yet (doctor only) */
  state: 'ok' | 'refused' | 'unrecorded';
  /** refused: why */
  reason?: 'marker missing' | 'marker different' | 'marker unreadable' | 'folder missing' | 'not a folder';
  storeId?: string;
  /** true when this check recorded the store (the first worker) */
  recorded?: boolean;
}


/** What is wrong with a refused folder, and what to do (doctor shows them apart). */
export function refusal(target: string, v: FolderVerdict): { problem: string; fix: string } {
  return {
    problem: `this worker's ${FOLDER_NAME[v.kind]} ${v.folder} is not the shared store of target ${target} (${v.reason ?? 'marker missing'})`,
    fix:
      `mount the shared folder there (every worker of a target must see the same ${FOLDER_NAME[v.kind]}, at the same path), ` +
      `or, if the store moved, copy ${STORE_MARKER_FILE} from the old folder into it` +
      (v.reason === 'marker missing' || v.reason === undefined ? `; the old folder lost: 'nightshift store adopt --target ${target}' marks this one` : '') +
      (v.reason === 'folder missing' ? `; the old folder lost: make this one on the new disk, then 'nightshift store adopt --target ${target}' marks it` : '') +
      // drill K, session 39: a file in the folder's place was said "folder missing"
      (v.reason === 'not a folder' ? '; something other than a folder (a file) stands at that path: move it away first' : ''),
  };
}

/** The one line a worker refuses with. */
export function refusalLine(target: string, v: FolderVerdict): string {
  const r = refusal(target, v);
  return `${r.problem}: ${r.fix}`;
}

/** Compares a folder's marker with the recorded id; never writes (doctor). */
export async function inspectSharedFolder(db: pg.Pool, kind: StoreKind, folder: string): Promise<FolderVerdict> {
  const recorded = (await readStoreIds(db))[kind];
  const marker = await readStoreMarker(folder);
  if (!recorded) return { kind, folder, state: 'unrecorded', ...(marker.state === 'present' ? { storeId: marker.storeId } : {}) };
  if (marker.state === 'present' && marker.storeId === recorded.storeId) return { kind, folder, state: 'ok', storeId: recorded.storeId };
  const reason = marker.state === 'present' ? 'marker different' : marker.state === 'missing' ? await missingWhat(folder) : 'marker unreadable';
  return { kind, folder, state: 'refused', reason, storeId: recorded.storeId };
}

/**
 * No marker: in a folder that is there, no folder at all (what an unmounted share under a missing mount point looks
 * like), or something else at that path (a file).
 */
async function missingWhat(folder: string): Promise<'marker missing' | 'folder missing' | 'not a folder'> {
  const st = await fs.stat(folder).catch(() => undefined);
  return !st ? 'folder missing' : st.isDirectory() ? 'marker missing' : 'not a folder';
}

/**
 * Worker start: with a store recorded, the folder's marker must match it (nothing is written). With
 * none recorded yet, this worker's folder becomes the store: its marker (written if missing) is
 * recorded, unless a worker starting at the same time recorded another one first.
 */
export async function claimSharedFolder(db: pg.Pool, kind: StoreKind, folder: string, host = os.hostname()): Promise<FolderVerdict> {
  const seen = await inspectSharedFolder(db, kind, folder);
  if (seen.state !== 'unrecorded') return seen;
  const marker = await readStoreMarker(folder);
  if (marker.state === 'unreadable') return { kind, folder, state: 'refused', reason: 'marker unreadable' };
  const mine = marker.state === 'present' ? marker.storeId : await createStoreMarker(folder, crypto.randomBytes(16).toString('hex'), `${host} pid ${process.pid}`);
  const winner = await recordStoreId(db, kind, mine, host);
  return winner === mine ? { kind, folder, state: 'ok', storeId: mine, recorded: true } : { kind, folder, state: 'refused', reason: 'marker different', storeId: winner };
}

/** What `nightshift store adopt` finds, or did: a folder's verdict, and whether its marker was written now. */
export interface AdoptVerdict extends FolderVerdict {
  /** refused: never written; ok: already the store, or (`adopted`) marked now with the recorded id */
  adopted?: boolean;
  /** without `write`: the folder has no marker and would be marked (its state stays `refused`, as a worker sees it now) */
  wouldMark?: boolean;
}

/**
 * The old folder is lost (a disk replaced, a share re-created empty): this host's folder becomes the target's recorded
 * store by writing the recorded id's marker into it, so that workers start again. Only a folder with no marker at
 * all: one with another store's marker, or an unreadable one, is refused (it may hold another store's files). With
 * `write` false, only what would be done (nothing is written). No store recorded yet: nothing to adopt.
 */
export async function adoptSharedFolder(db: pg.Pool, kind: StoreKind, folder: string, write: boolean, host = os.hostname()): Promise<AdoptVerdict> {
  const seen = await inspectSharedFolder(db, kind, folder);
  // no folder at all ('folder missing') is what an unmounted share under a missing mount point looks like: never made here
  if (seen.state !== 'refused' || seen.reason !== 'marker missing') return seen;
  if (!write) return { ...seen, adopted: false, wouldMark: true };
  const storeId = await createStoreMarker(folder, seen.storeId!, `${host} pid ${process.pid} (nightshift store adopt)`);
  // a marker written meanwhile by someone else is what the folder has: the verdict says which
  if (storeId !== seen.storeId) return { kind, folder, state: 'refused', reason: 'marker different', storeId: seen.storeId };
  return { kind, folder, state: 'ok', storeId, adopted: true };
}

/**
 * Before an activity writes, reads or deletes in a target's backup folder: it must still be the target's shared
 * store. A share unmounted while the worker runs leaves an empty folder (or none): a backup would write to the local
 * disk, a prune record deleted what it cannot see, a verification record every archive missing. A non-retryable
 * DestinationUnavailable with the worker's start-up line instead (the batch stops at once, as for a full disk).
 * With no store recorded yet (no worker has claimed one) there is nothing to compare with: it passes.
 */
export async function assertBackupStore(db: pg.Pool, target: string, folder: string): Promise<void> {
  const v = await inspectSharedFolder(db, 'backups', folder);
  if (v.state === 'refused') throw permanentFailure(FailureType.DestinationUnavailable, refusalLine(target, v));
}

export class SharedFolderError extends Error {
  override name = 'SharedFolderError';
}

/** The folders a worker of `target` reads and writes: the backup folder as R-BK-9 resolves it here, and the documents folder. */
export async function workerFolders(config: Config, pool: pg.Pool, target: string): Promise<Record<StoreKind, string>> {
  const settings = await loadBackupSettings(pool, config, target);
  return { backups: settings.settings.folder, documents: config.documentsDir };
}

/**
 * Targets whose backup folders are one folder (the same path, after links): a dossier code in two of them would be one
 * B{code}.SVG, one generations folder, one report name; a restore of one firm's would read the other's, a prune of one
 * delete the other's (drill T). `folders`: each target's backup folder. Empty when each has its own.
 */
export async function sharedBackupFolders(folders: { target: string; folder: string }[]): Promise<{ folder: string; targets: string[] }[]> {
  const byPath = new Map<string, string[]>();
  for (const f of folders) {
    const real = await fs.realpath(f.folder).catch(() => path.resolve(f.folder));
    byPath.set(real, [...(byPath.get(real) ?? []), f.target]);
  }
  return [...byPath].filter(([, targets]) => targets.length > 1).map(([folder, targets]) => ({ folder, targets }));
}

/** The one line a worker and doctor refuse a backup folder shared by targets with. */
export function sharedBackupFolderLine(shared: { folder: string; targets: string[] }): string {
  return (
    `targets ${shared.targets.join(', ')} have one backup folder, ${shared.folder}: a dossier code in two of them would be one archive ` +
    `(one firm's restore reading the other's data, one's prune deleting the other's): give each target its own, ` +
    `'nightshift backup settings set folder DIR --target NAME' (or unset NIGHTSHIFT_BACKUP_DIR: with several targets each has <data>/sauve/<target>)`
  );
}

/** Worker start: every target's folders are its shared store, or SharedFolderError with one line. */
export async function assertSharedFolders(
  config: Config,
  pools: { get(target: string): pg.Pool },
  log: (message: string) => void = () => {},
): Promise<FolderVerdict[]> {
  const verdicts: FolderVerdict[] = [];
  const all = await Promise.all(config.targets.map(async (t) => ({ target: t.name, folders: await workerFolders(config, pools.get(t.name), t.name) })));
  // before anything is claimed: no target records another's folder as its store
  const shared = await sharedBackupFolders(all.map((a) => ({ target: a.target, folder: a.folders.backups })));
  if (shared.length) throw new SharedFolderError(sharedBackupFolderLine(shared[0]!));
  for (const t of config.targets) {
    const pool = pools.get(t.name);
    const folders = all.find((a) => a.target === t.name)!.folders;
    for (const kind of ['backups', 'documents'] as const) {
      const v = await claimSharedFolder(pool, kind, folders[kind]);
      if (v.state !== 'ok') throw new SharedFolderError(refusalLine(t.name, v));
      log(`${FOLDER_NAME[kind]} ${v.folder} is ${v.recorded ? 'now ' : ''}the shared store ${v.storeId} of target ${t.name}`);
      verdicts.push(v);
    }
  }
  return verdicts;
}

/**
 * Patch directories are read by whichever worker runs the load: `dir` must lie inside a folder whose
 * marker is one of this target's stores (e.g. <backup folder>/patches/<name>). Undefined when it does,
 * or when no worker has recorded a store yet (nothing to compare with); else the problem, one line.
 */
export async function patchDirectoryProblem(db: pg.Pool, target: string, dir: string): Promise<string | undefined> {
  let ids: string[];
  try {
    ids = Object.values(await readStoreIds(db)).map((r) => r.storeId);
  } catch (err) {
    // a database its workers have not migrated yet (the CLI may run first): no store recorded
    if ((err as { code?: string }).code === '42P01') return undefined;
    throw err;
  }
  if (!ids.length) return undefined;
  let at = path.resolve(dir);
  try {
    at = await fs.realpath(at);
  } catch {
    /* missing: reported by the reader */
  }
  for (let folder = at; ; folder = path.dirname(folder)) {
    const marker = await readStoreMarker(folder);
    if (marker.state === 'present') {
      if (ids.includes(marker.storeId)) return undefined;
      return `the patch directory ${dir} is inside ${folder}, which is not the shared store of target ${target} (marker different): put the patch packages under the shared backup folder (e.g. <backup folder>/patches/<name>), which every worker sees`;
    }
    if (path.dirname(folder) === folder) break;
  }
  return `the patch directory ${dir} is not inside the shared store of target ${target} (no ${STORE_MARKER_FILE} above it), so another worker host may not see it: put the patch packages under the shared backup folder (e.g. <backup folder>/patches/<name>)`;
}

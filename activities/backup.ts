import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { z } from 'zod';
import { parseInput } from '../domain/validation';
import { REASON_FOLDERS, backupDossierInputSchema, destinationSegments, restoreDossierInputSchema } from '../domain/backup';
import { localDateTime } from '../domain/backup-batch';
import type { BackupDossierInput, BackupDossierResult, BackupOffsiteCopy, RestoreDossierInput, RestoreDossierResult, RestoreSource } from '../workflows/backup-dossier.api';
import { type Progress, type RestoreEngineOptions, backupDossierArchive, restoreDossierArchive } from '../archive/engine';
import { type BackupKeyring, loadBackupKeyring } from '../archive/keys';
import { readArchiveHeader } from '../archive/reader';
import type { ArchiveHeader } from '../archive/format';
import { alive } from '../cluster/pids';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { assertBackupStore } from '../shared-store/marker';
import type { ActivityDeps } from './deps';
import { documentsFolder } from '../registry/documents';
import { FailureType, failureTypeOf, permanentFailure } from '../domain/failures';
import { FOUND_BY_RESTORE, type Generation, offsiteCopyOf } from '../domain/generation';
import { ARCHIVE_FILE_MODE } from '../archive/writer';
import { lazyOffsiteStore } from '../offsite/lazy';
import type { OffsiteStore } from '../offsite/store';
import { OffsiteCopyDamaged } from '../offsite/failures';
import { generationById } from '../store/generations/generation-by-id';
import { markOffsiteCopyLost } from '../store/generations/mark-offsite-lost';
import { markGenerationVerified } from '../store/generations/mark-verified';
import { generationAt } from '../store/generations/prune-generation-at';
import { otherGenerationAt } from '../store/generations/other-generation-at';
import { olderRestoreCandidates } from '../store/generations/restore-choice';
import { operatorDateTime } from '../domain/retention';
import { releaseGenerationLease, takeGenerationLease } from '../store/generations/lease';
import { markRestoredUnmodified } from '../store/dossiers/mark-restored-unmodified';
import { targetNameSchema } from '../domain/target';
import { copyGenerationOffsite } from './offsite';
import { putBackFromLinks } from './verify';

/**
 * Single-dossier backup and restore activities (R-BK-3, R-BK-5, R-BK-6, R-BK-9) over the archive engine;
 * archives are encrypted with the operator's current key when one is given (issue 13.2).
 */


const HEARTBEAT_EVERY_MS = 5_000;

/**
 * Heartbeats the latest progress on a timer (also through silent phases such as fsync), and hands
 * the activity's cancellation signal to the engine. Outside an activity (bench, scripts) it does nothing.
 */
async function withHeartbeat<T>(work: (onProgress: (p: Progress) => void, signal?: AbortSignal) => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined;
  }
  let last: Progress = { detail: 'starting', rows: 0, bytes: 0 };
  ctx?.heartbeat(last);
  const timer = ctx ? setInterval(() => ctx.heartbeat(last), HEARTBEAT_EVERY_MS) : undefined;
  try {
    return await work((p) => (last = p), ctx?.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

/** Lease time of a generation being read; renewed well before it runs out while the restore goes on. */
const LEASE_SECONDS = 600;
const LEASE_RENEW_MS = 60_000;

/**
 * Reads a generation under a lease (R-BK-11): a prune skips it until the lease is released or runs out (a
 * worker killed mid-restore: 10 minutes). A generation pruned before the lease is taken is refused, clearly.
 */
async function withGenerationLease<T>(pool: Parameters<typeof takeGenerationLease>[0], id: number, file: string, work: (g: Generation) => Promise<T>): Promise<T> {
  const g = await generationById(pool, id);
  let holder = `restore:${process.pid}:${id}`;
  try {
    const info = Context.current().info;
    holder = `restore:${info.workflowExecution?.workflowId ?? process.pid}:${info.activityId}`;
  } catch {
    // outside an activity: this process's holder
  }
  const gone = () => permanentFailure(FailureType.InvalidInput, `generation ${id} of dossier ${g?.code ?? '?'} is no longer kept (pruned by retention): choose another with 'nightshift backup list ${g?.code ?? 'CODE'} --all'`);
  if (!g || g.deletedAt !== null) throw gone();
  if (g.file !== file) throw permanentFailure(FailureType.InvalidInput, `generation ${id} is the file ${g.file}, not ${file}`);
  if (!(await takeGenerationLease(pool, id, holder, LEASE_SECONDS))) throw gone();
  const renew = setInterval(() => void takeGenerationLease(pool, id, holder, LEASE_SECONDS).catch(() => {}), LEASE_RENEW_MS);
  try {
    return await work(g);
  } finally {
    clearInterval(renew);
    await releaseGenerationLease(pool, id, holder).catch(() => {});
  }
}

/**
 * Whether a file is there: false only when it is not (a folder gone, a share unmounted). Any other trouble (its rights)
 * is the restore's to report when it opens the file.
 */
export async function fileIsThere(file: string): Promise<boolean> {
  try {
    await fs.promises.stat(file);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

/**
 * Where a generation is read from (R-BK-14): the local file, or its off-site copy (`from` auto: when the file is not
 * on this worker; offsite: always). A generation with no copy to read, or no file where only the file will do, is
 * refused here, naming what is there instead.
 */
async function restoreSourceOf(g: Generation, from: RestoreSource, keys: BackupKeyring): Promise<{ bucket: string; key: string } | undefined> {
  const copy = offsiteCopyOf(g);
  const copyState = `off-site ${g.offsiteState}${g.offsiteState === 'failed' ? ': its copy is not done' : ''}`;
  if (from === 'offsite') {
    if (!copy) throw permanentFailure(FailureType.InvalidInput, `generation ${g.id} of dossier ${g.code} has no off-site copy to read (${copyState}): restore it from its file, or choose one with 'nightshift backup list ${g.code}'`);
    return copy;
  }
  if (await fileIsThere(g.file)) return undefined;
  // its own name gone while B{code}.SVG (a link of it) still holds it, checked against the record: put back and read,
  // as the verification and the prune do (drill Y), before the copy is fetched or the restore refused
  const back = await putBackFromLinks(g, keys).catch(() => undefined);
  if (back) return undefined;
  if (from === 'auto' && copy) return copy;
  throw permanentFailure(
    FailureType.InvalidInput,
    `the archive of generation ${g.id} of dossier ${g.code} is not on this worker (${g.file})` +
      (copy ? `: read its off-site copy with --from offsite` : `, and it has no off-site copy (${copyState})`),
  );
}

const copyBackupOffsiteInputSchema = z.object({ target: targetNameSchema, generationId: z.number().int().positive() });

export function createBackupActivities({ config, pools, offsiteStore: injectedStore }: ActivityDeps & { offsiteStore?: () => Promise<OffsiteStore | undefined> }) {
  const offsiteStore = injectedStore ?? lazyOffsiteStore(config.offsite);
  const restoreGeneration = generationRestorer({ config, pools, offsiteStore });
  /** R-BK-14: as the batch decides, this worker copies off-site when it has a bucket (NIGHTSHIFT_OFFSITE_S3_BUCKET) */
  const offsiteOn = injectedStore !== undefined || config.offsite !== undefined;
  return {
    /** Backs one dossier up into B{code}.SVG in the folder its reason and the date sub-folder setting give. */
    async backupDossier(raw: BackupDossierInput): Promise<BackupDossierResult> {
      const input = parseInput(backupDossierInputSchema, raw);
      const pool = pools.get(input.target);
      // the date sub-folder in the operator's zone, as the batch names it (not this worker's TZ)
      const today = localDateTime(new Date(), config.timeZone);
      // R-BK-9: the folder as the batch resolves it (local > common > default), not only this machine's value
      const { settings } = await loadBackupSettings(pool, config, input.target);
      await assertBackupStore(pool, input.target, settings.folder);
      const reasonFolder = REASON_FOLDERS[input.reason];
      const destinationDir = path.join(
        settings.folder,
        ...destinationSegments(input.reason, input.dateSubfolder, today),
      );
      return withHeartbeat((onProgress, signal) =>
        backupDossierArchive({
          pool,
          target: input.target,
          code: input.code,
          destinationDir,
          documentsFolder: input.includeDocuments ? documentsFolder(config.documentsDir, input.target, input.code) : undefined,
          fileMode: config.backupFileMode,
          keys: loadBackupKeyring(config.backupKeys),
          plainOnPurpose: config.backupKeys.plainOnPurpose,
          onProgress,
          signal,
          generation: {
            kindRoot: reasonFolder ? path.join(settings.folder, reasonFolder) : settings.folder,
            kind: reasonFolder === 'EchangePrest' || reasonFolder === 'Cloture' ? reasonFolder : 'normal',
            runId: null,
            reason: input.reason,
          },
        }),
      );
    },

    /**
     * R-BK-14: the generation a single-dossier backup wrote, copied off-site as the batch copies its own (same key,
     * copied or failed recorded on the generation). No bucket on this worker: nothing done, the copy stays `none`.
     * A failed copy is an answer, not a throw: the backup stands, and the next batch copies it first.
     */
    async copyBackupOffsite(raw: { target: string; generationId: number }): Promise<BackupOffsiteCopy | undefined> {
      const input = parseInput(copyBackupOffsiteInputSchema, raw);
      if (!offsiteOn) return undefined;
      const copy = await withHeartbeat((_, signal) => copyGenerationOffsite({ db: pools.get(input.target), store: offsiteStore, target: input.target, generationId: input.generationId, signal }));
      return copy.ok ? { state: 'copied', bucket: copy.bucket, key: copy.key } : { state: 'failed', error: copy.error };
    },

    /**
     * Restores an archive into a dossier (the archive's code, or `as`), all or nothing. A generation (restore --at) is
     * read under its lease, from its file or from its off-site copy (`from`, R-BK-14).
     */
    async restoreDossier(raw: RestoreDossierInput): Promise<RestoreDossierResult> {
      const input = parseInput(restoreDossierInputSchema, raw);
      const pool = pools.get(input.target);
      if (input.generationId === undefined) {
        const keys = loadBackupKeyring(config.backupKeys);
        return withHeartbeat((onProgress, signal) =>
          restoreDossierArchive({ pool, target: input.target, file: input.file, as: input.as, replace: input.replace, documentsDir: config.documentsDir, keys, onProgress, signal }),
        );
      }
      const generationId = input.generationId;
      const from = input.from ?? 'auto';
      return withHeartbeat(async (onProgress, signal) => {
        try {
          return await restoreGeneration({ ...input, generationId, from, onProgress, signal });
        } catch (err) {
          throw await withOlderGenerationHint(pool, generationId, from, config.operatorTimeZone, err);
        }
      });
    },
  };
}

/**
 * A generation's file that is not that generation's (another archive copied over it by hand) is refused before anything
 * changes, as a damaged file (its off-site copy is then offered): its size against the one recorded; its header's
 * snapshot time, when it is that of another generation of the dossier (drill C: an older archive of the same dossier
 * and the same size, copied over a newer one, was restored as the newer generation: another point in time, said to be
 * the one asked for). Its SHA-256, when a verification, a copy or a prune recorded one, is the restore's own read's
 * (`sha256Mismatch`, checked before its commit). A file whose header cannot be read (a key missing, damaged) is left to
 * the restore, which says why; another dossier's archive is the restore's refusal too (expectCode).
 */
async function refuseOtherFile(pool: pg.Pool, g: Generation, keys: BackupKeyring): Promise<void> {
  const size = await fs.promises.stat(g.file).then(
    (st) => st.size,
    () => undefined,
  );
  if (size === undefined) return;
  const notThis = (what: string) => permanentFailure(FailureType.ArchiveInvalid, `${g.file} ${what}: not this generation's file (replaced by hand?); nothing was changed`);
  if (g.size > 0 && size !== g.size) throw notThis(`is ${size} bytes, generation ${g.id} recorded ${g.size}`);
  // another generation's archive of the same dossier (an older one copied over a newer one of the same size)
  const header = await readArchiveHeader(g.file, keys).catch(() => undefined);
  const other = header && header.code === g.code && header.snapshotAt !== g.snapshotAt.toISOString() ? await otherGenerationAt(pool, g.code, header.snapshotAt, g.id) : undefined;
  if (other) {
    throw notThis(`is the archive of generation ${other.id}${other.deleted ? ' (pruned since)' : ''}, taken at ${header!.snapshotAt}; generation ${g.id} was taken at ${g.snapshotAt.toISOString()}`);
  }
}

/** The restore's refusal of a generation's file whose SHA-256, hashed as it was read, is not the one recorded. */
function sha256Mismatch(g: Generation & { sha256: string }) {
  return {
    sha256: g.sha256,
    mismatch: (sha256: string) =>
      permanentFailure(
        FailureType.ArchiveInvalid,
        `${g.file} has the SHA-256 ${sha256.slice(0, 12)}…, generation ${g.id} recorded ${g.sha256.slice(0, 12)}…: damaged, or not this generation's file (replaced by hand?); nothing was changed`,
      ),
  };
}

/**
 * `backup restore CODE --at` of a generation whose file is gone (deleted by hand, not yet found by a verification) with
 * no copy to read: the restore asked for one point in time, so no other is restored in its place (a restore run, over
 * many dossiers, falls back by itself: activities/restore-run.ts); its failure names the next older generation that can
 * be read, from the same list the run falls back on (store/generations/restore-choice.ts), and the command that restores it.
 */
async function withOlderGenerationHint(pool: pg.Pool, generationId: number, from: RestoreSource, zone: string, err: unknown): Promise<unknown> {
  const type = failureTypeOf(err);
  if (from === 'offsite' || (type !== FailureType.InvalidInput && type !== FailureType.OffsiteSourceMissing)) return err;
  const g = await generationById(pool, generationId).catch(() => undefined);
  if (!g || (await fileIsThere(g.file))) return err;
  let older: Generation | undefined;
  for (const c of await olderRestoreCandidates(pool, g.code, g.snapshotAt, g.id, { kind: null, place: from === 'local' ? 'local' : undefined }).catch(() => [])) {
    // its file here, or a copy to read (what the restore run would read)
    if (c.from === undefined) continue;
    if (c.from === 'offsite' || (c.from === 'auto' && offsiteCopyOf(c.g)) || (await fileIsThere(c.g.file))) {
      older = c.g;
      break;
    }
  }
  const at = older && operatorDateTime(older.snapshotAt, zone);
  const hint = older
    ? `; the next older generation that can be read is ${older.id}, taken ${at} (${zone}): nightshift backup restore ${g.code} --at '${at}'${older.kind === 'normal' ? '' : ` --kind ${older.kind}`}`
    : `; no older generation of ${g.code} can be read`;
  return permanentFailure(type!, `${(err as Error).message}${hint}`);
}

/** How the archive engine's failure starts when PostgreSQL refused what it loaded (archive/engine.ts). */
const CONTENT_REFUSED = 'invalid archive: PostgreSQL refused its content';
/** An instant after every snapshot: the dossier's newest kept generation is the one at or before it. */
const NO_LATER = new Date('9999-12-31T23:59:59Z');

const RESTORE_TMP_PREFIX = 'nightshift-restore-';
const DAY_MS = 24 * 3600_000;

/**
 * At a worker's start: the folders a restore from an off-site copy left in TMPDIR when its worker was killed mid-read
 * (a whole archive each, 0600): those of a process no longer running, and unnamed older ones a day old. What is removed.
 */
export async function sweepAbandonedRestoreCopies(dir = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.promises.readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(RESTORE_TMP_PREFIX)) continue;
    const full = path.join(dir, name);
    const pid = /^nightshift-restore-(\d+)-/.exec(name)?.[1];
    const abandoned =
      pid !== undefined
        ? Number(pid) !== process.pid && !alive(Number(pid))
        : await fs.promises.stat(full).then(
            (st) => Date.now() - st.mtimeMs > DAY_MS,
            () => false,
          );
    if (!abandoned) continue;
    await fs.promises.rm(full, { recursive: true, force: true }).then(
      () => removed.push(full),
      () => undefined,
    );
  }
  return removed;
}

/** One generation to restore (restore --at, and each dossier of a bulk restore run). */
export interface GenerationRestore {
  target: string;
  generationId: number;
  /** the generation's file, as the caller chose it (checked against the catalog) */
  file: string;
  as?: string;
  replace: boolean;
  from: RestoreSource;
  /**
   * inside the restore's transaction, just before its commit (a ledger row turned ok there: exactly once), with the
   * off-site copy read when it was read rather than the local file
   */
  beforeCommit?: (tx: pg.PoolClient, header: ArchiveHeader, readFromCopy: { bucket: string; key: string } | undefined) => Promise<void>;
  /** just before the off-site copy is read (not when the local file is): may throw, so that the copy is not tried */
  beforeCopy?: (copy: { bucket: string; key: string }) => void;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * The details of a restore's failure on a generation's own file found damaged (ArchiveInvalid): whether the generation is
 * now recorded corrupt (by this restore or earlier), and what the file said, without the hint to read its copy.
 */
export interface LocalFileDamaged {
  generationId: number;
  recordedCorrupt: boolean;
  why: string;
}

/** A restore's failure's LocalFileDamaged details, when it has them. */
export function localFileDamageOf(err: unknown): LocalFileDamaged | undefined {
  const d = err instanceof ApplicationFailure ? (err.details?.[0] as Partial<LocalFileDamaged> | undefined) : undefined;
  return typeof d?.generationId === 'number' && typeof d.why === 'string' && typeof d.recordedCorrupt === 'boolean' ? (d as LocalFileDamaged) : undefined;
}

/**
 * Restores a generation (R-BK-11, R-BK-14) under its lease, from its file or its off-site copy, in one transaction: what
 * `backup restore CODE --at` runs, and each dossier of a bulk restore run (activities/restore-run.ts). Heartbeats are the
 * caller's (the single restore beats its progress, a run's chunk its own details).
 */
export function generationRestorer({ config, pools, offsiteStore: injectedStore }: Pick<ActivityDeps, 'config' | 'pools'> & { offsiteStore?: () => Promise<OffsiteStore | undefined> }) {
  const offsiteStore = injectedStore ?? lazyOffsiteStore(config.offsite);
  return async function restoreGeneration(r: GenerationRestore): Promise<RestoreDossierResult> {
    const pool = pools.get(r.target);
    const keys = loadBackupKeyring(config.backupKeys);
    const onProgress = r.onProgress ?? (() => {});
    return withGenerationLease(pool, r.generationId, r.file, async (g) => {
      // the archive must be this generation's: of its dossier (a bulk run restores over the archive's own code)
      const restore = (file: string, name: string | undefined, beforeCommit: RestoreEngineOptions['beforeCommit'], expectSha256?: RestoreEngineOptions['expectSha256']) =>
        restoreDossierArchive({ pool, target: r.target, file, name, as: r.as, replace: r.replace, documentsDir: config.documentsDir, keys, onProgress, signal: r.signal, beforeCommit, expectCode: g.code, expectSha256 });
      const copy = await restoreSourceOf(g, r.from, keys);
      if (!copy) {
        try {
          await refuseOtherFile(pool, g, keys);
          // its own code from its own file: the newest generation restored is not a change to back up again (R-BK-2)
          return await restore(
            g.file,
            undefined,
            async (tx, header) => {
              await r.beforeCommit?.(tx, header, undefined);
              if (r.as === undefined || r.as === g.code) await markRestoredUnmodified(tx, g.code, g.id);
            },
            g.sha256 ? sha256Mismatch({ ...g, sha256: g.sha256 }) : undefined,
          );
        } catch (err) {
          if (failureTypeOf(err) !== FailureType.ArchiveInvalid) throw err;
          const recorded = await localDamageNote(pool, g, (err as Error).message);
          // a damaged file whose generation has a copy: say how to read the copy instead
          const other = offsiteCopyOf(g);
          const corrupt = g.verifyState === 'corrupt' || recorded !== '';
          if (!other && !corrupt) throw err;
          const copyHint = other ? ` (its off-site copy ${other.bucket}/${other.key} can be restored with --from offsite)` : '';
          const damaged: LocalFileDamaged = { generationId: g.id, recordedCorrupt: corrupt, why: `${(err as Error).message}${recorded}` };
          throw permanentFailure(FailureType.ArchiveInvalid, `${damaged.why}${copyHint}`, damaged);
        }
      }
      r.beforeCopy?.(copy);
      const fromCopy: RestoreEngineOptions['beforeCommit'] = async (tx, header) => r.beforeCommit?.(tx, header, copy);
      return { ...(await restoreFromCopy(pool, g, copy, (file, name) => restore(file, name, fromCopy), onProgress, r.signal)), offsiteCopy: copy };
    });
  };

  /**
   * The restore read the generation's own file and found it damaged or another archive (R-BK-13): recorded corrupt as a
   * verification records it (store/generations/mark-verified.ts), so that `backup list` shows it, a restore --at passes
   * over it, and the next batch backs the dossier up again when it is its newest normal generation (UNREADABLE_NEWEST_SQL).
   * PostgreSQL refusing the content is not recorded: the live database may be the cause, and a verification (a scratch
   * schema) judges the archive. What the restore's message then says of it.
   */
  async function localDamageNote(pool: pg.Pool, g: Generation, message: string): Promise<string> {
    if (g.verifyState === 'corrupt' || message.startsWith(CONTENT_REFUSED)) return '';
    await markGenerationVerified(pool, g.id, { state: 'corrupt', error: `${FOUND_BY_RESTORE}${message}`.slice(0, 2000), restored: false, sha256: null });
    const newest = await generationAt(pool, g.code, NO_LATER, { kind: 'normal' });
    return newest?.id === g.id
      ? `; recorded corrupt on generation ${g.id}: the next backup batch backs ${g.code} up again`
      : `; recorded corrupt on generation ${g.id} ('nightshift backup list ${g.code}' shows it)`;
  }

  /**
   * A restore found the generation's copy gone or different (R-BK-14): recorded as a verification would
   * (store/generations/mark-offsite-lost.ts), so that `backup list` stops offering it and the next batch copies it
   * again when its file is intact. What the restore's message then says of it.
   */
  async function copyLostNote(pool: pg.Pool, g: Generation, copy: { key: string }, error: string): Promise<string> {
    const lost = await markOffsiteCopyLost(pool, g.id, { key: copy.key, copiedAt: g.offsiteAt, error: `(restore) ${error}` });
    if (!lost.marked) return '';
    return lost.pending ? '; recorded: the next backup batch copies it again first' : '; recorded lost (its local file is gone or damaged too)';
  }

  /**
   * The generation's off-site copy read into a private temporary folder (0700, the file 0600, under the worker's
   * TMPDIR), checked against what the copy recorded (size, SHA-256), restored from there, and removed whatever happens.
   */
  async function restoreFromCopy<T>(
    pool: pg.Pool,
    g: Generation,
    copy: { bucket: string; key: string },
    restore: (file: string, name: string) => Promise<T>,
    onProgress: (p: Progress) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    const store = await offsiteStore();
    if (!store) {
      throw permanentFailure(
        FailureType.OffsiteNotConfigured,
        `generation ${g.id} of dossier ${g.code} is to be read from its off-site copy ${copy.bucket}/${copy.key}, but this worker has no off-site store (NIGHTSHIFT_OFFSITE_S3_BUCKET and its credentials)`,
      );
    }
    // the worker's pid in the name: a worker killed mid-read leaves the folder, which the next start sweeps
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), `${RESTORE_TMP_PREFIX}${process.pid}-`));
    try {
      const file = path.join(dir, path.basename(g.file));
      const out = fs.createWriteStream(file, { flags: 'wx', mode: ARCHIVE_FILE_MODE });
      const read = await store
        .download(copy.key, out, {
          bucket: copy.bucket,
          signal,
          onProgress: (bytes) => onProgress({ detail: `reading the off-site copy ${copy.key}`, rows: 0, bytes }),
        })
        .catch(async (err: unknown) => {
          if (!(err instanceof OffsiteCopyDamaged)) throw err;
          // damaged in the storage: recorded as a verification would, refused at once (not "the storage away")
          const what = `the off-site copy ${copy.bucket}/${copy.key} of generation ${g.id} is damaged: ${err.message}`;
          throw permanentFailure(FailureType.ArchiveInvalid, `${what}${await copyLostNote(pool, g, copy, what)}; nothing was restored`);
        });
      if (!read) {
        out.destroy();
        const what = `the off-site copy of generation ${g.id} of dossier ${g.code} is not in the storage (no object ${copy.key} in bucket ${copy.bucket})`;
        throw permanentFailure(FailureType.OffsiteSourceMissing, `${what}${await copyLostNote(pool, g, copy, what)}: restore another generation ('nightshift backup list ${g.code}')`);
      }
      const expected = g.sha256 ?? read.sha256;
      if (read.size !== g.size || read.sha256 !== expected) {
        const what = `the off-site copy ${copy.bucket}/${copy.key} is not the archive of generation ${g.id}: read ${read.size} bytes, sha256 ${read.sha256}; recorded ${g.size} bytes, sha256 ${expected}`;
        throw permanentFailure(FailureType.ArchiveInvalid, `${what}${await copyLostNote(pool, g, copy, what)}`);
      }
      // the archive's own failures (a key, its content) name the copy the operator knows, not a folder gone by now
      return await restore(file, `the off-site copy ${copy.bucket}/${copy.key}`);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }
}

import { STORAGE_DOWN_PAUSE_MS } from './offsite';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { z } from 'zod';
import { operatorDateTime } from '../domain/retention';
import { REPORT_EOL, REPORT_FOLDER, compactTimestamp, localDateTime } from '../domain/backup-batch';
import {
  DEFAULT_SAMPLE_PERCENT,
  VERIFY_FAILED_LIST_FILE_NAME,
  verifyMailBody,
  type VerifyItemStatus,
  type VerifyScope,
  OFFSITE_ONLY_MARK,
  backupVerifyInputSchema,
  inSample,
  TOLD_MARK,
  isToldProblem,
  isVerifyProblem,
  olderCopiesStep,
  olderLostStep,
  newestOfKindLostStep,
  verifyMailSubject,
  generationShownText,
  verifyProblemCause,
  verifyReportFileName,
  verifyReportLine,
  verifySummaryLines,
  nextRotatingPart,
  type VerifyPart,
  verifyPartReportLine,
} from '../domain/backup-verify';
import { FailureType, failureTypeOf, permanentFailure } from '../domain/failures';
import type { Generation, GenerationKind } from '../domain/generation';
import { DETAILS_FAILURES_SHOWN, FAILURES_CAP, type DossierFailure, type FanOutChunkResult, type FanOutLedgerView, capFailures } from '../domain/run-details';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import { verifyArchive } from '../archive/verify';
import { scratchRestoreCompare } from '../archive/scratch-restore';
import { type BackupKeyring, NO_KEYS, loadBackupKeyring } from '../archive/keys';
import { syncDir } from '../archive/writer';
import { linkRefused, secondName, syncFile } from '../archive/generations';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { generationById } from '../store/generations/generation-by-id';
import { newestOfKindAmong } from '../store/generations/is-newest-of-kind';
import { releaseGenerationLease, takeGenerationLease } from '../store/generations/lease';
import { markGenerationVerified } from '../store/generations/mark-verified';
import { OFFSITE_LOST_ERROR_PREFIX, markOffsiteCopyLost } from '../store/generations/mark-offsite-lost';
import { verifyScopeAnchor } from '../store/generations/verify-scope-anchor';
import { verifyScopeCount } from '../store/generations/verify-scope-count';
import { verifyScopePage } from '../store/generations/verify-scope-page';
import { closeVerifyRun } from '../store/verify/close-run';
import { insertVerifyRun } from '../store/verify/insert-run';
import { verifyItemsInLedger } from '../store/verify/items-in-ledger';
import { latestVerifyProblems } from '../store/verify/latest-problems';
import { latestKeyProblems } from '../store/verify/latest-key-problems';
import { problemToldBefore } from '../store/verify/problem-told-before';
import { markVerifyMail } from '../store/verify/mark-mail';
import { verifyProblemCodesPage } from '../store/verify/problem-codes-page';
import { type VerifyProblemStepRow, verifyProblemStepRows } from '../store/verify/problem-step-rows';
import { firstVerifyProblems } from '../store/verify/first-problems';
import { verifyProblemKeyIds } from '../store/verify/problem-key-ids';
import { recordVerifyItem } from '../store/verify/record-item';
import { verifyReportPage } from '../store/verify/report-page';
import { verifyRunByRef } from '../store/verify/run-by-ref';
import { lastRotatingPart } from '../store/verify/last-rotating-part';
import { lockVerifyRotation } from '../store/verify/rotation-lock';
import { withTransaction } from '../store/transaction';
import { verifyRunProgress } from '../store/verify/run-progress';
import { type VerifyRunRow, type VerifyRunSettings, verifyRunPart } from '../store/verify/run-row';
import { touchVerifyRun } from '../store/verify/touch-run';
import { setVerifyRunNote } from '../store/verify/set-note';
import { verifyUnreadCodesPage } from '../store/verify/unread-codes-page';
import {
  type BackupVerifyInput,
  type BackupVerifyResult,
  type VerifyNextStep,
  type VerifySampleSettings,
  NEXT_STEP_CODES_MAX,
  verifyNextSteps,
  verifyStoppedStep,
} from '../workflows/backup-verify.api';
import type { ActivityDeps } from './deps';
import { type DossierOutcome, dossiersInFlight, runChunk } from './fan-out';
import { writeRunReport } from './report-file';
import { assertBackupStore } from '../shared-store/marker';

/**
 * Verification of kept generations (R-BK-13) over the fan-out engine: the run ledger (claim, pages of
 * generation ids, one row per generation), chunks that read each generation under a lease (prune never
 * deletes one being read), the report streamed from the ledger, and the mail on a problem.
 *
 * Per generation: the file is there; its SHA-256 is the recorded one (when recorded; else it is recorded
 * now); the whole archive reads back with every part's checksum and the manifest (verifyArchive); for the
 * sample (every one with `full`) it is restored into a scratch schema and each table compared with the
 * archive (archive/scratch-restore.ts); an off-site copy is checked with the off-site store's checkObject, and one
 * found missing or different is recorded failed (R-BK-14: the next batch copies the dossier's newest again, first).
 * The copy is checked also when the local file is found corrupt or missing: it is then what a restore reads, and what
 * retention counts the generation restorable by (domain/retention.ts isRestorable).
 */

/** What the chunk returns: the engine's result, the problems named by dossier and generation date. */
export type VerifyChunkResult = FanOutChunkResult & { restored: number };

export interface VerifyClaim {
  runId: number;
  scope: VerifyScope;
  sample: VerifySampleSettings;
  selected: number;
}

/** The off-site check (offsite/store.ts checkObject), when this worker has an off-site store. */
export type OffsiteObjectCheck = (
  key: string,
  expected: { size: number; sha256: string },
  options: { readBack: boolean; signal?: AbortSignal; bucket?: string },
) => Promise<{ status: 'ok' } | { status: 'missing' | 'corrupt'; reason: string }>;

export interface VerifyActivityDeps extends ActivityDeps {
  /** R-BK-14 hook: absent when the worker has no off-site store (a generation's copy is then not checked, and the ledger says so) */
  offsiteCheck?: () => Promise<OffsiteObjectCheck | undefined>;
}

export interface VerifyHooks {
  /** tests: before each generation is read */
  beforeGeneration?: (g: Generation) => Promise<void>;
}

const LEASE_SECONDS = 6 * 3600;
const ATTEMPTS = 3;

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** What the verification and the prune say of a generation's path that holds no regular file (a FIFO, a directory, a device). */
export const notAFileText = (file: string): string => `${file} n'est pas un fichier`;

/** The path holds something else than a regular file (swapped in after its stat): the generation is corrupt, never read. */
class NotAFile extends Error {
  override name = 'NotAFile';
}

/**
 * Opened without blocking (O_NONBLOCK: a FIFO would hold a worker thread in open() for ever, and the worker could no
 * longer exit), then fstat'ed: only a regular file is read, even one swapped in between the caller's stat and here.
 */
export async function sha256OfFile(file: string, signal?: AbortSignal): Promise<string> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    // a socket cannot be opened at all
    if ((err as NodeJS.ErrnoException).code === 'ENXIO' || (err as NodeJS.ErrnoException).code === 'EISDIR') throw new NotAFile(notAFileText(file));
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) throw new NotAFile(notAFileText(file));
    const hash = crypto.createHash('sha256');
    await pipeline(fh.createReadStream({ autoClose: false }), hash, { signal });
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/** What a file is against a generation's record (checkAgainstRecord). */
export type RecordCheck =
  | { state: 'ok'; sha256: string; dev: number; ino: number }
  | { state: 'corrupt' | 'missing'; reason: string }
  /** the archive is encrypted with a key this worker lacks: nothing is known of it */
  | { state: 'unknown'; reason: string };

/**
 * One file against a generation's record (R-BK-13 steps 1 and 2, the prune's check before it deletes, R-BK-11): there,
 * of the size written, of the SHA-256 recorded. Without a recorded SHA-256 (never verified, never copied), the archive
 * is read back whole instead (every part's checksum, verifyArchive); `sameArchive` then also asks its header to name
 * this generation (code and snapshot): another name of the dossier may hold a newer generation of the same size.
 */
export async function checkAgainstRecord(
  file: string,
  g: Pick<Generation, 'code' | 'size' | 'sha256' | 'snapshotAt'>,
  keys: BackupKeyring,
  o: { sameArchive?: boolean; signal?: AbortSignal } = {},
): Promise<RecordCheck> {
  let s: fs.Stats;
  try {
    s = await fs.promises.stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing', reason: `le fichier ${file} n'existe plus` };
    throw err;
  }
  if (!s.isFile()) return { state: 'corrupt', reason: notAFileText(file) };
  if (s.size !== g.size) return { state: 'corrupt', reason: `${s.size} octets au lieu de ${g.size} à l'écriture` };
  let sha256: string;
  try {
    sha256 = await sha256OfFile(file, o.signal);
  } catch (err) {
    if (err instanceof NotAFile) return { state: 'corrupt', reason: err.message };
    throw err;
  }
  const ok = { state: 'ok' as const, sha256, dev: s.dev, ino: s.ino };
  if (g.sha256) return g.sha256 === sha256 ? ok : { state: 'corrupt', reason: `SHA-256 ${sha256.slice(0, 12)}… au lieu de ${g.sha256.slice(0, 12)}… à l'écriture` };
  try {
    const a = await verifyArchive(file, keys);
    if (o.sameArchive && (a.code !== g.code || a.snapshotAt !== g.snapshotAt.toISOString())) {
      return { state: 'corrupt', reason: `${file} est une autre sauvegarde (${a.code} du ${utcText(a.snapshotAt)})` };
    }
    return ok;
  } catch (err) {
    const type = failureTypeOf(err);
    if (type === FailureType.BackupKeyMissing || type === FailureType.BackupKeyWrong) return { state: 'unknown', reason: (err as Error).message };
    if (type === FailureType.ArchiveInvalid) return { state: 'corrupt', reason: (err as Error).message };
    throw err;
  }
}

/** What the report and the generation's row say of a file put back from another name (said, never as missing). */
export const PUT_BACK_MARK = 'fichier de la génération absent, remis depuis';

/**
 * R-BK-11 / R-BK-13: a generation's own file gone while one of its other names (B{code}.SVG, a hard link made with it)
 * still holds it: the file is put back from that name when its content is the record's (checkAgainstRecord, the header
 * naming this generation when no SHA-256 was recorded), as a hard link again, or a copy (temporary file, fsync, rename)
 * where links are refused. The name must still be the file checked once linked (same inode): a backup that replaced it
 * meanwhile puts nothing back. Undefined: no name holds it.
 */
export async function putBackFromLinks(
  g: Pick<Generation, 'code' | 'size' | 'sha256' | 'snapshotAt' | 'file' | 'links'>,
  keys: BackupKeyring,
  signal?: AbortSignal,
): Promise<{ from: string; sha256: string } | undefined> {
  for (const link of g.links) {
    if (link === g.file) continue;
    const c = await checkAgainstRecord(link, g, keys, { sameArchive: true, signal });
    if (c.state !== 'ok') continue;
    const dir = path.dirname(g.file);
    await fs.promises.mkdir(dir, { recursive: true });
    try {
      await fs.promises.link(link, g.file);
      const s = await fs.promises.stat(g.file);
      if (s.dev !== c.dev || s.ino !== c.ino) {
        await fs.promises.unlink(g.file);
        continue;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // another reader put it back first
      if (code === 'EEXIST') return { from: link, sha256: c.sha256 };
      if (code === 'ENOENT') continue;
      if (!linkRefused(err)) throw err;
      const tmp = `${g.file}.${crypto.randomBytes(3).toString('hex')}.tmp`;
      try {
        await fs.promises.copyFile(link, tmp, fs.constants.COPYFILE_EXCL);
        // the copy is checked itself: the name may have changed since it was
        if ((await checkAgainstRecord(tmp, { ...g, sha256: c.sha256 }, keys, { signal })).state !== 'ok') continue;
        await syncFile(tmp);
        await fs.promises.rename(tmp, g.file);
      } finally {
        await fs.promises.rm(tmp, { force: true });
      }
    }
    await syncDir(dir);
    return { from: link, sha256: c.sha256 };
  }
  return undefined;
}

/**
 * What a file that is no longer the generation as written holds, when it is still a whole archive: another dossier's,
 * or another backup of the same one (drill V2, session 36: a file swapped for another dossier's archive only read
 * "SHA-256 … au lieu de …"), or where the reader finds it broken; empty when a key is what it cannot be read with.
 */
async function whatItHolds(g: Pick<Generation, 'code' | 'file' | 'snapshotAt'>, keys: BackupKeyring): Promise<string> {
  try {
    const a = await verifyArchive(g.file, keys);
    if (a.code !== g.code) return ` (le fichier est une archive valide du dossier ${a.code}, sauvegarde du ${utcText(a.snapshotAt)})`;
    if (a.snapshotAt !== g.snapshotAt.toISOString()) return ` (le fichier est une autre sauvegarde valide de ${a.code}, du ${utcText(a.snapshotAt)})`;
    return '';
  } catch (err) {
    // the reader's reason says where it breaks; a key it cannot be read with says nothing of the bytes
    return failureTypeOf(err) === FailureType.ArchiveInvalid ? `; ${oneLine((err as Error).message)}` : '';
  }
}

/** What the report says of a B{code}.SVG put right from its generation (an ok line, as PUT_BACK_MARK). */
export const LATEST_NAME_MARK = 'remis depuis la génération';

/**
 * R-BK-5 / R-BK-13: the seed's B{code}.SVG (the generation's other name) is where its tools and its restore procedure
 * read a dossier's latest archive. Of a sound generation that is its dossier's newest of its kind, a name that is gone,
 * or that holds other bytes (another dossier's archive, an older one, a damaged copy) is put right from the generation
 * (a hard link again, else a synced copy; a temporary name renamed over it), and said on its ok line (drills V2 and R2,
 * session 36: every check read only generations/, and a wrong B{code}.SVG went unseen). A name that holds a newer valid
 * archive of the dossier (a backup written whose record failed, or one being recorded now) is left as it is.
 */
async function putLatestNameRight(g: Generation, keys: BackupKeyring): Promise<string | undefined> {
  const own = await fs.promises.stat(g.file);
  for (const link of g.links) {
    if (link === g.file) continue;
    let st: fs.Stats | undefined;
    try {
      st = await fs.promises.stat(link);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st && st.dev === own.dev && st.ino === own.ino) continue;
    let what = 'absent';
    if (st) {
      if (st.isDirectory()) return `${path.basename(link)} est un dossier, pas l'archive : à retirer à la main, la vérification suivante le remet`;
      if (!st.isFile()) what = "ce n'était pas un fichier";
      else if (st.size === g.size && g.sha256 && (await sha256OfFile(link)) === g.sha256) continue;
      else {
        const a = await verifyArchive(link, keys).catch(() => undefined);
        if (a && a.code === g.code && a.snapshotAt > g.snapshotAt.toISOString()) continue;
        what = a ? `il contenait ${a.code === g.code ? 'une sauvegarde plus ancienne' : `une archive du dossier ${a.code}`} du ${utcText(a.snapshotAt)}` : 'il ne se lisait pas comme une archive de ce dossier';
      }
    }
    const tmp = `${link}.${crypto.randomBytes(3).toString('hex')}.tmp`;
    try {
      await secondName(g.file, tmp);
      await fs.promises.rename(tmp, link);
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
    await syncDir(path.dirname(link));
    return `${path.basename(link)} ${LATEST_NAME_MARK} (${what})`;
  }
  return undefined;
}

/** The same key problem recorded by an earlier run, and no verification has read the generation since. */
async function keyProblemTold(pool: pg.Pool, g: Pick<Generation, 'id' | 'verifiedAt'>, error: string | null): Promise<boolean> {
  const [p] = await latestKeyProblems(pool, [g.id]);
  if (!p) return false;
  const earlier = (p.error ?? '').startsWith(TOLD_MARK) ? p.error!.slice(TOLD_MARK.length) : p.error;
  return earlier === error && (!g.verifiedAt || g.verifiedAt < p.at);
}

/** An archive header's ISO time as the report's dates read, in UTC (the header's zone). */
const utcText = (iso: string): string => `${iso.slice(0, 19).replace('T', ' ')} UTC`;

/** PostgreSQL refusing what a scratch restore loads (bad data, broken constraint) is the archive's fault. */
function isContentError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && ['22', '23', '42', '2B', '0A'].includes(code.slice(0, 2));
}

const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ').trim().slice(0, 1000);
/**
 * A failure of the result (the CLI prints it) as the report file has it: the date, the file, then the whole stored
 * reason (oneLine above), whose end often names what to do (the key id of a wrong key). REASON_MAX cut it there.
 */
const FAILURE_TEXT_MAX = 1500;

/** What the check of a generation's copy found, when its local file cannot be read back whole (corrupt or missing). */
type CopyFinding =
  /** no copy recorded `copied` (or no SHA-256 to check one against) */
  | { state: 'none' }
  | { state: 'ok'; where: string }
  /** the storage's answer: no such object, or another size or checksum */
  | { state: 'lost'; where: string; reason: string }
  /** no store on this worker, or the storage refused or did not answer: the copy stays as recorded */
  | { state: 'unverified'; where: string; why: string };

/** `local` cut so that `note` (what the copy is) is kept whole within oneLine's length. */
const withCopyNote = (local: string, note: string) => oneLine(`${local.slice(0, Math.max(0, 1000 - note.length - 2))}; ${note}`);

interface Checked {
  status: Exclude<VerifyItemStatus, 'pruned'>;
  restored: boolean;
  sha256: string | null;
  error: string | null;
  /** the local file is gone or damaged and its off-site copy too, or is another archive: the copy is recorded lost */
  copyLost?: boolean;
  /** the local file is gone and its off-site copy read back whole (where it is): what a restore would read */
  copyOnly?: string;
  /** the generation's own state when it is not `status` (a file reported missing before, its copy whole: ok, still missing) */
  keepState?: 'missing';
  /** what the generation's own row keeps, when not `error` (a copy told restorable before, unverified this time) */
  storedError?: string;
  /** a check that failed on the off-site storage after the local archive read back whole: that much is recorded */
  localOk?: { restored: boolean; sha256: string | null };
  /** the copy was recorded lost by an earlier verification and not made again since: reported again, marked nothing */
  copyRecordedLost?: boolean;
}

/** What the report says of a copy recorded lost whose local archive is whole: the next batch copies it again, first. */
const OFFSITE_RECOPY_NOTE = 'copie à refaire, la prochaine sauvegarde la recopie en premier';

/** A copy a verification recorded lost (store/generations/mark-offsite-lost.ts), not made again since. */
const copyRecordedLost = (g: Pick<Generation, 'offsiteState' | 'offsiteError'>): boolean =>
  g.offsiteState === 'failed' && (g.offsiteError ?? '').startsWith(OFFSITE_LOST_ERROR_PREFIX);

/** One generation's check within a verify run (the run: the storage's health is the run's on this worker). */
interface CheckLine {
  runId: number;
  signal: AbortSignal | undefined;
  /** this run already recorded the copy lost (an attempt killed before its ledger row) */
  lostThisRun: boolean;
}

/** The local archive read back whole, then the storage did not answer while its copy was checked (the error is rethrown). */
const LOCAL_OK = new WeakMap<object, { restored: boolean; sha256: string | null }>();

/**
 * How long the check of one copy keeps asking a storage that refuses or does not answer (OffsiteUnavailable): a blip of
 * 15-20 s (a restart) passes, the line ends `ok` (tester, 2026-12-08: a 15 s outage made 19 lines "Vérification
 * impossible", each after ~2.5 s of tries).
 */
export const STORAGE_PATIENCE_MS = 30_000;
// Once a check gave up on the storage, the next checks of the same run on this worker try once each (no waits) for
// STORAGE_DOWN_PAUSE_MS (the batch's copies' pause, activities/offsite.ts), then one waits again: a storage away all night
// does not cost every line its patience. At worst half the time, a few lanes wait; the others go on.
/** Waits between tries within the patience: 0.5, 1, 2, 4 s, then 5 s. */
const storageBackoffMs = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 5_000);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export function createVerifyActivities(deps: VerifyActivityDeps, hooks: VerifyHooks = {}) {
  const { config, pools, mail } = deps;
  /** per verify run on this worker: until when the storage is taken as away (STORAGE_DOWN_PAUSE_MS) */
  const storageDown = new Map<number, number>();

  /**
   * One check of a copy on the storage, tried again for up to STORAGE_PATIENCE_MS while the storage refuses or does not
   * answer; once this run's checks gave up on it, a single try (STORAGE_DOWN_PAUSE_MS). A refusal that no try mends
   * (credentials, no bucket: non-retryable) is thrown at once.
   */
  async function patiently<T>(runId: number, call: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await call();
        storageDown.delete(runId);
        return r;
      } catch (err) {
        if (signal?.aborted || (err instanceof ApplicationFailure && err.nonRetryable)) throw err;
        const now = Date.now();
        const down = storageDown.get(runId);
        if (down !== undefined && now < down) throw err;
        const left = STORAGE_PATIENCE_MS - (now - started);
        if (left <= 0) {
          for (const [id, until] of storageDown) if (until < now) storageDown.delete(id);
          storageDown.set(runId, now + STORAGE_DOWN_PAUSE_MS);
          throw err;
        }
        await sleep(Math.min(storageBackoffMs(attempt), left), signal);
      }
    }
  }

  async function getRun(pool: pg.Pool, runId: number): Promise<VerifyRunRow> {
    const run = await verifyRunByRef(pool, runId, 'id');
    if (!run) throw permanentFailure(FailureType.InvalidInput, `unknown verify run ${runId}`);
    return run;
  }

  function scopeOf(run: VerifyRunRow): VerifyScope {
    if (run.scope === 'run') return { kind: 'run', runId: Number(run.backup_run_id) };
    if (run.scope === 'codes') return { kind: 'codes', codes: run.codes ?? [] };
    const part = verifyRunPart(run);
    return part ? { kind: 'all', part } : { kind: 'all' };
  }

  /** the result's part, only for a run of one part (results of other runs stay as they were) */
  function partField(run: VerifyRunRow): { part?: VerifyPart } {
    const part = verifyRunPart(run);
    return part ? { part } : {};
  }

  /** why a closed run stopped early (its note); an abandoned run's note says it too */
  const stopReasonOf = (run: VerifyRunRow): string | null => (run.state === 'failed' ? run.note : null);

  function sampleOf(run: VerifyRunRow): VerifySampleSettings {
    return { full: run.full_restore, samplePercent: Number(run.sample_percent), seed: Number(run.seed), anchor: run.anchor_generation === null ? null : Number(run.anchor_generation) };
  }

  /** One generation read and checked; a transient error (I/O, connection) is thrown and retried by the caller. */
  async function check(pool: pg.Pool, g: Generation, restore: boolean, line: CheckLine, newestOfKind = false): Promise<Checked> {
    const { signal, lostThisRun } = line;
    // a keyring that does not load is the archive's `key` outcome below (as before), not this check's failure
    let keys = NO_KEYS;
    let keysProblem: unknown;
    try {
      keys = loadBackupKeyring(config.backupKeys);
    } catch (err) {
      keysProblem = err;
    }
    let st: fs.Stats;
    // the file put back from another of its names (B{code}.SVG) holding it: said first, then checked as any file
    let putBack: string | undefined;
    try {
      st = await fs.promises.stat(g.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const back = await putBackFromLinks(g, keys, signal);
      if (!back) return unreadableCopy(g, await missingFile(g, line), keys, keysProblem);
      putBack = `${PUT_BACK_MARK} ${back.from} (même contenu que la génération)`;
      st = await fs.promises.stat(g.file);
    }
    // a FIFO, a directory or a device in the generation's place is never opened (a FIFO would block the read for
    // ever): corrupt at once, in the prune's words (checkAgainstRecord)
    if (!st.isFile()) return corruptWithCopy(g, notAFileText(g.file), { restored: false, sha256: null }, line);
    const size = st.size;
    let sha256: string;
    try {
      sha256 = await sha256OfFile(g.file, signal);
    } catch (err) {
      // swapped in after the stat
      if (err instanceof NotAFile) return corruptWithCopy(g, err.message, { restored: false, sha256: null }, line);
      throw err;
    }
    // what differs from the generation as it was written is said first, and the file is read no further: a changed first
    // line would pass for a key problem (drill V2, session 36: a damaged salt read "give the original key" and left the
    // generation ok), and another dossier's archive in its place would restore and compare clean
    const changed: string[] = [];
    if (size !== g.size) changed.push(`${size} octets au lieu de ${g.size} à l'écriture`);
    if (g.sha256 && g.sha256 !== sha256) changed.push(`SHA-256 ${sha256.slice(0, 12)}… au lieu de ${g.sha256.slice(0, 12)}… à l'écriture`);
    if (changed.length) {
      if (putBack) changed.unshift(putBack);
      return corruptWithCopy(g, `${changed.join('; ')}${await whatItHolds(g, keys)}`, { restored: false, sha256 }, line);
    }
    const problems: string[] = [];
    let status: Checked['status'] = 'ok';
    let restored = false;
    try {
      if (keysProblem) throw keysProblem;
      if (restore) {
        const r = await scratchRestoreCompare({ pool, file: g.file, keys, signal });
        restored = true;
        if (r.differences.length) {
          status = 'corrupt';
          problems.push(`restaurée, elle diffère de l'archive : ${r.differences.join('; ')}`);
        }
      } else {
        await verifyArchive(g.file, keys);
      }
    } catch (err) {
      const type = failureTypeOf(err);
      const message = err instanceof Error ? err.message : String(err);
      if (type === FailureType.BackupKeyMissing || type === FailureType.BackupKeyWrong) {
        return { status: 'key', restored: false, sha256, error: message };
      }
      if (type === FailureType.ArchiveInvalid || isContentError(err)) {
        status = 'corrupt';
        problems.push(isContentError(err) ? `invalid archive: PostgreSQL refused its content: ${message}` : message);
      } else throw err;
    }
    if (putBack) problems.unshift(putBack);
    if (status === 'corrupt') return corruptWithCopy(g, problems.join('; '), { restored, sha256 }, line);
    if (status === 'ok' && !lostThisRun && copyRecordedLost(g)) {
      // R-BK-14: a copy an earlier verification found gone or different is still no copy until the next batch makes it
      // again (then `copied`, and checked again): still this problem (tester, 2026-12-08: the next run said ok, exit 0)
      const found = g.offsiteError!.slice(OFFSITE_LOST_ERROR_PREFIX.length).replace(/^:\s*/, '');
      return { status: 'offsite', restored, sha256, error: oneLine(`${OFFSITE_RECOPY_NOTE}; ${found}`), copyRecordedLost: true };
    }
    if (status === 'ok' && (g.offsiteState === 'copied' || lostThisRun) && g.offsiteKey) {
      // R-BK-14: the off-site copy is this archive (size and SHA-256), checked by the off-site store
      const offsite = await deps.offsiteCheck?.();
      if (offsite) {
        // a restored generation's copy is read back too (the storage's own checksum is not taken for it then)
        // the bucket the copy was made to, whatever this worker's bucket is now
        const key = g.offsiteKey;
        const c = await patiently(line.runId, () => offsite(key, { size, sha256: g.sha256 ?? sha256 }, { readBack: restore, signal, bucket: g.offsiteBucket ?? undefined }), signal).catch((err: unknown) => {
          if (err instanceof Object) LOCAL_OK.set(err, { restored, sha256 });
          throw err;
        });
        if (c.status !== 'ok') return { status: 'offsite', restored, sha256, error: `copie externe ${g.offsiteBucket ?? ''}/${g.offsiteKey} : ${c.reason}` };
      } else {
        activityContext()?.log.warn('off-site copy not checked: no off-site store on this worker', { generation: g.id, key: g.offsiteKey });
      }
    }
    if (status === 'ok' && newestOfKind) {
      const latest = await putLatestNameRight(g, keys);
      if (latest) problems.push(latest);
    }
    return { status, restored, sha256, error: problems.length ? oneLine(problems.join('; ')) : null };
  }

  /**
   * A corrupt local archive (`local`: what is wrong with it). R-BK-14: the copy is now what a restore reads and what
   * retention counts on: checked as any copy (its size and SHA-256 as written, not the damaged file's), recorded lost
   * when gone or different.
   */
  async function corruptWithCopy(
    g: Generation,
    problem: string,
    read: { restored: boolean; sha256: string | null },
    line: CheckLine,
  ): Promise<Checked> {
    const status = 'corrupt' as const;
    const local = oneLine(problem);
    const copy = await checkCopy(g, line);
    if (copy.state === 'none') return { status, ...read, error: local };
    if (copy.state === 'ok') return { status, ...read, error: withCopyNote(local, `${copy.where} ${OFFSITE_ONLY_MARK}`) };
    if (copy.state === 'lost') return { status, ...read, error: withCopyNote(local, `${copy.where} : ${copy.reason}`), copyLost: true };
    return { status, ...read, error: withCopyNote(local, `${copy.where} non vérifiée : ${copy.why}`) };
  }

  /**
   * The copy of a generation whose local file cannot be read back whole (R-BK-14): checked as it is for a file that is
   * there (size and SHA-256 as written), read back whole (it is what a restore reads now), in the bucket it was copied to. Only the
   * storage's answer makes it lost: a storage that cannot answer (or no store on this worker) leaves it as it was.
   */
  async function checkCopy(g: Generation, { runId, signal, lostThisRun }: CheckLine): Promise<CopyFinding> {
    const copy = g.offsiteKey && g.sha256 && (g.offsiteState === 'copied' || lostThisRun) ? { bucket: g.offsiteBucket ?? undefined, key: g.offsiteKey, sha256: g.sha256 } : undefined;
    const offsite = copy && (await deps.offsiteCheck?.());
    if (!copy) return { state: 'none' };
    const where = `copie externe ${copy.bucket ?? ''}/${copy.key}`;
    if (!offsite) return { state: 'unverified', where, why: 'pas de stockage externe sur ce worker (NIGHTSHIFT_OFFSITE_S3_BUCKET)' };
    try {
      // the copy is what a restore reads now: read back whole in any run (drill E: a damaged object said "a restore
      // reads it" on the storage's checksum alone, written down at the upload)
      const c = await patiently(runId, () => offsite(copy.key, { size: g.size, sha256: copy.sha256 }, { readBack: true, signal, bucket: copy.bucket }), signal);
      return c.status === 'ok' ? { state: 'ok', where } : { state: 'lost', where, reason: c.reason };
    } catch (err) {
      if (signal?.aborted) throw err;
      return { state: 'unverified', where, why: oneLine(err instanceof Error ? err.message : String(err)) };
    }
  }

  /**
   * A generation whose file is gone and whose off-site copy is whole is restorable only with the key it was encrypted
   * with: without it, `key` (drill D: the old key lost after a rotation, every copy-only generation said ok while no
   * restore could read one). The copy's size and SHA-256 do not say it; the key id recorded at the backup does.
   */
  function unreadableCopy(g: Generation, found: Checked, keys: BackupKeyring, keysProblem: unknown): Checked {
    if (!g.keyId || found.copyOnly === undefined || (!keysProblem && keys.key(g.keyId))) return found;
    const given = keysProblem ? `the worker's keys do not load (${oneLine(keysProblem instanceof Error ? keysProblem.message : String(keysProblem)).slice(0, 200)})` : keys.ids.length ? `the keys given are ${keys.ids.join(', ')}` : 'no backup key is given';
    // whole, but no restore reads it now
    const whole = `le fichier ${g.file} n'existe plus; ${found.copyOnly} entière`;
    return {
      status: 'key',
      restored: false,
      sha256: null,
      error: `${whole}, but encrypted with backup key ${g.keyId}, and ${given}: no restore can read it until that key is given (NIGHTSHIFT_BACKUP_KEYS_FILE or NIGHTSHIFT_BACKUP_KEYS)`,
    };
  }

  /**
   * The local file is gone (a disk lost, a hand): the generation is still restorable while its off-site copy is whole
   * (R-BK-14: a restore reads it), so the copy is checked (checkCopy), and the report says which.
   */
  async function missingFile(g: Generation, line: CheckLine): Promise<Checked> {
    const missing = `le fichier ${g.file} n'existe plus`;
    const copy = await checkCopy(g, line);
    if (copy.state === 'none') return { status: 'missing', restored: false, sha256: null, error: missing };
    // told once: a file a verification already reported gone, whose copy was found whole, is restorable and no longer
    // a problem (no mail night after night until retention lets the generation go); the line still says it
    const told = g.verifyState === 'missing' && (g.verifyError ?? '').endsWith(OFFSITE_ONLY_MARK);
    if (copy.state === 'ok') {
      if (told) return { status: 'ok', keepState: 'missing', restored: false, sha256: null, error: `${missing} (signalé déjà); ${copy.where} ${OFFSITE_ONLY_MARK}`, copyOnly: copy.where };
      return { status: 'missing', restored: false, sha256: null, error: `${missing}; ${copy.where} ${OFFSITE_ONLY_MARK}`, copyOnly: copy.where };
    }
    if (copy.state === 'lost') return { status: 'missing', restored: false, sha256: null, error: `${missing}; ${copy.where} : ${copy.reason}`, copyLost: true };
    // a copy that could not be checked this time is this run's problem (verify again), but what was told stays told:
    // the generation's row keeps it, so that the storage back does not mail it again as news
    return {
      status: 'missing',
      restored: false,
      sha256: null,
      error: `${missing}; ${copy.where} non vérifiée : ${copy.why}`,
      ...(told ? { storedError: g.verifyError! } : {}),
    };
  }

  async function writeReport(pool: pg.Pool, run: VerifyRunRow, stopped: string | null): Promise<{ file: string; ok: number; problems: number; restored: number; fresh: number }> {
    const name = verifyReportFileName(compactTimestamp(localDateTime(run.started_at, config.timeZone)), Number(run.id));
    // an unwritable report folder sends the report under the data folder (writeRunReport); the run notes nothing of it, as before
    const r = await writeRunReport({ folder: run.settings.reportFolder, dataDir: config.dataDir, name, mode: config.backupFileMode }, async (write) => {
      let ok = 0;
      let problems = 0;
      let restored = 0;
      // problems that are news (not found as an earlier run recorded them): what a mail is for
      let fresh = 0;
      // streamed from the ledger by dossier and generation date: memory does not grow with the generations
      let after: { code: string; snapshotAt: Date; id: string } | null = null;
      for (;;) {
        const rows = await verifyReportPage(pool, Number(run.id), after);
        if (!rows.length) break;
        let text = '';
        for (const r of rows) {
          if (r.status === 'pruned') continue;
          const line = { code: r.code, date: operatorDateTime(r.snapshot_at, config.timeZone), file: r.file, status: r.status, restored: r.restored, error: r.error };
          text += verifyReportLine(line) + REPORT_EOL;
          if (isVerifyProblem(r.status)) {
            problems++;
            if (!isToldProblem(r.error)) fresh++;
          } else ok++;
          if (r.restored) restored++;
        }
        await write(text);
        const last = rows[rows.length - 1]!;
        after = { code: last.code, snapshotAt: last.snapshot_at, id: last.generation_id };
      }
      const part = verifyRunPart(run);
      // a part says so before the summary, which stays the report's end
      const lines = [...(part ? [verifyPartReportLine(part)] : []), ...verifySummaryLines(ok, problems, restored, { selected: run.selected, stopped })];
      return { tallies: { ok, problems, restored, fresh }, end: lines.join(REPORT_EOL) + REPORT_EOL };
    });
    return { file: r.file, ok: r.ok, problems: r.problems, restored: r.restored, fresh: r.fresh };
  }

  /** How many problem rows the next steps are computed from at most (one per generation; a run's problems are usually few). */
  const NEXT_STEP_ROWS = 5000;

  /**
   * The run's next steps (the result, the Web UI, the mail): the same verification again when it stopped early, then
   * those of every problem.
   */
  async function nextStepsOf(pool: pg.Pool, target: string, run: VerifyRunRow, problems: number, stopReason: string | null): Promise<VerifyNextStep[]> {
    // a run stopped early: first, the same verification again once what stopped it is fixed
    const stopped = stopReason ? [verifyStoppedStep(target, scopeOf(run))] : [];
    return [...stopped, ...(await problemStepsOf(pool, target, Number(run.id), problems))];
  }

  async function problemStepsOf(pool: pg.Pool, target: string, runId: number, problems: number): Promise<VerifyNextStep[]> {
    if (!problems) return [];
    // every problem up to NEXT_STEP_ROWS (not the 20 shown alone: a command naming those would leave the others
    // unchecked; past it, the commands name no dossier), each with its generation's kind and whether it is the newest
    const rows = await verifyProblemStepRows(pool, runId, NEXT_STEP_ROWS);
    const complete = rows.length >= problems;
    // decided per generation, not per dossier (tester, 2026-12-08: an older generation's problem made its dossier "back
    // up again", and a damaged older one whose copy read back whole was called lost)
    const forDossiers: VerifyProblemStepRow[] = [];
    const older = new Set<string>();
    const olderLost = new Set<string>();
    const kindLost = new Map<string, { code: string; kind: GenerationKind }>();
    for (const r of rows) {
      const cause = verifyProblemCause(r);
      const newestNormal = r.newest && r.kind === 'normal';
      // the file gone or damaged, its copy read back whole: a new backup puts back only the newest archive (the batch
      // retakes the dossier); an older generation's file nothing puts back, and nothing needs to: a restore reads its copy
      const copyWhole = (r.status === 'missing' || r.status === 'corrupt') && (r.error ?? '').endsWith(OFFSITE_ONLY_MARK);
      if (copyWhole && !newestNormal) older.add(r.code);
      else if (cause === 'archive' && !newestNormal && ['corrupt', 'missing', 'failed'].includes(r.status)) {
        // the newest EchangePrest / Cloture archive at fault: a batch would not take that event's backup again, and
        // retention keeps it (drill R2, session 36); an older one: a point in time lost, which no backup brings back
        // (drill B, session 35)
        if (r.newest) kindLost.set(`${r.code}|${r.kind}`, { code: r.code, kind: r.kind });
        else olderLost.add(r.code);
      } else forDossiers.push(r);
    }
    const keyCodes = [...new Set(forDossiers.filter((f) => f.status === 'key').map((f) => f.code))];
    const keysOf = keyCodes.length ? await verifyProblemKeyIds(pool, runId, keyCodes) : [];
    const steps = verifyNextSteps(target, forDossiers, keysOf, complete);
    const named = <T>(list: T[]) => (complete && list.length <= NEXT_STEP_CODES_MAX ? list : undefined);
    if (older.size) steps.push(olderCopiesStep(target, named([...older].sort())));
    if (kindLost.size) steps.push(newestOfKindLostStep(target, named([...kindLost.values()].sort((a, b) => (a.code === b.code ? a.kind.localeCompare(b.kind) : a.code < b.code ? -1 : 1)))));
    if (olderLost.size) steps.push(olderLostStep(target, named([...olderLost].sort())));
    return steps;
  }

  /** A generation as the problems name it: its date in the operator's zone, said (R-OP-1), and its file's name. */
  const shownGeneration = (at: Date, file: string) => generationShownText(operatorDateTime(at, config.timeZone), config.timeZone, path.basename(file));

  /**
   * A run's problems as its result and details show them: while it runs, the newest `limit` (what it just found); once
   * closed (`first`), the first `limit` in the order `backup verify status` lists them all, so that "and N more" are the
   * last ones (tester, 2026-12-08: the one left out was from the middle).
   */
  async function failuresOf(pool: pg.Pool, runId: number, limit: number, first = false): Promise<DossierFailure[]> {
    const rows = first ? await firstVerifyProblems(pool, runId, limit) : await latestVerifyProblems(pool, runId, limit);
    return capFailures(
      rows.map((r) => ({ code: r.code, status: r.status, error: `${shownGeneration(r.snapshot_at, r.file)} : ${r.error ?? r.status}` })),
      limit,
      FAILURE_TEXT_MAX,
    );
  }

  return {
    /** Claims the verify run: scope, sample (seed drawn here when not given, recorded with the anchor), report settings. */
    async claimVerifyRun(raw: BackupVerifyInput & { workflowId: string }): Promise<VerifyClaim> {
      const input = parseInput(backupVerifyInputSchema, { ...raw, workflowId: undefined, state: undefined });
      const workflowId = parseInput(z.string().min(1).max(400), raw.workflowId);
      const pool = pools.get(input.target);
      const existing = await verifyRunByRef(pool, workflowId, 'workflow_id');
      if (existing) {
        // this activity's earlier attempt committed before its answer was lost: the same run
        return { runId: Number(existing.id), scope: scopeOf(existing), sample: sampleOf(existing), selected: existing.selected };
      }
      const seed = input.seed ?? crypto.randomInt(0, 2 ** 31 - 1);
      const { settings } = await loadBackupSettings(pool, config, input.target);
      const runSettings: VerifyRunSettings = { reportFolder: path.join(settings.folder, REPORT_FOLDER), reportRecipients: settings['report-recipients'] };
      try {
        // one transaction: a rotating run's part is chosen and recorded under one lock (two at once read two parts)
        return await withTransaction(pool, async (client) => {
          const subset = input.subset;
          let part: VerifyPart | undefined;
          if (subset?.part !== undefined) part = { part: subset.part, of: subset.of, rotating: false };
          else if (subset) {
            await lockVerifyRotation(client);
            part = { part: nextRotatingPart(await lastRotatingPart(client, subset.of), subset.of), of: subset.of, rotating: true };
          }
          const scope: VerifyScope = input.codes
            ? { kind: 'codes', codes: input.codes }
            : input.backupRunId !== undefined
              ? { kind: 'run', runId: input.backupRunId }
              : { kind: 'all', ...(part && { part }) };
          const selected = await verifyScopeCount(client, scope);
          const anchor = selected > 0 ? await verifyScopeAnchor(client, scope, seed % selected) : null;
          const sample: VerifySampleSettings = { full: Boolean(input.full), samplePercent: input.samplePercent ?? DEFAULT_SAMPLE_PERCENT, seed, anchor };
          const runId = await insertVerifyRun(client, { workflowId, scope, full: sample.full, samplePercent: sample.samplePercent, seed, anchor, selected, settings: runSettings });
          return { runId, scope, sample, selected };
        });
      } catch (err) {
        // two attempts at once: the other one's row wins
        const again = (err as { code?: string }).code === '23505' ? await verifyRunByRef(pool, workflowId, 'workflow_id') : undefined;
        if (again) return { runId: Number(again.id), scope: scopeOf(again), sample: sampleOf(again), selected: again.selected };
        throw err;
      }
    },

    /** The next page of generation ids of the scope after the cursor (local activity). */
    async selectVerifyPage(raw: { target: string; scope: VerifyScope; cursor: number; limit: number }): Promise<{ codes: string[]; cursor: number; exhausted: boolean }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const ids = await verifyScopePage(pool, raw.scope, raw.cursor, raw.limit);
      return { codes: ids.map(String), cursor: ids.length ? ids[ids.length - 1]! : raw.cursor, exhausted: ids.length < raw.limit };
    },

    /** Verifies a chunk of generations (their ids as the engine's "codes"), one ledger row each. */
    async verifyChunk(input: { target: string; runId: number; codes: string[]; sample: VerifySampleSettings; concurrency: number; timeBudgetMs: number }): Promise<VerifyChunkResult> {
      const pool = pools.get(parseInput(targetNameSchema, input.target));
      for (const c of input.codes) parseInput(z.coerce.number().int().positive(), c);
      const run = await getRun(pool, input.runId);
      if (run.state !== 'running') throw permanentFailure(FailureType.InvalidInput, `verify run ${run.id} is ${run.state}: its late work is refused`);
      // archives not seen because the share is unmounted must not be recorded missing
      try {
        await assertBackupStore(pool, input.target, (await loadBackupSettings(pool, config, input.target)).settings.folder);
      } catch (err) {
        // the run's, not a generation's: recorded on the run (status, report, mail), as the batch records its stop reason
        if (failureTypeOf(err) === FailureType.DestinationUnavailable) await setVerifyRunNote(pool, input.runId, oneLine((err as Error).message));
        throw err;
      }
      const holder = `verify:${run.workflow_id}`;
      let closed = false;
      let restoredCount = 0;
      const described = new Map<string, string>();
      // the chunk's generations that are their dossier's newest of a kind (their B{code}.SVG is checked): one statement
      let newest: Promise<Set<number>> | undefined;
      const newestOfKind = () =>
        (newest ??= newestOfKindAmong(pool, input.codes.map(Number)).catch((err: unknown) => {
          // a connection lost: the next attempt asks again
          newest = undefined;
          throw err;
        }));

      async function one(idText: string, signal: AbortSignal | undefined): Promise<DossierOutcome | undefined> {
        const started = Date.now();
        const id = Number(idText);
        const g = await generationById(pool, id);
        // no such row: nothing to verify (rows are never deleted, only marked pruned)
        if (!g) return { status: 'ok' };
        const restore = inSample(id, input.sample);
        // this run already recorded the copy lost (an attempt killed before its ledger row): checked again, so that
        // the run still reports it
        const lostThisRun =
          g.offsiteState === 'failed' && !!g.offsiteAt && g.offsiteAt >= run.started_at && (g.offsiteError ?? '').startsWith(OFFSITE_LOST_ERROR_PREFIX);
        let c: Checked | undefined;
        let pruned = false;
        if (!(await takeGenerationLease(pool, id, holder, LEASE_SECONDS))) pruned = true;
        else {
          try {
            await hooks.beforeGeneration?.(g);
            for (let attempt = 1; ; attempt++) {
              try {
                c = await check(pool, g, restore, { runId: input.runId, signal, lostThisRun }, (await newestOfKind()).has(id));
                break;
              } catch (err) {
                if (signal?.aborted) throw err;
                const permanent = err instanceof ApplicationFailure && err.nonRetryable;
                const localOk = err instanceof Object ? LOCAL_OK.get(err) : undefined;
                // the storage was given its patience already (patiently): the archive is not read again for it
                if (permanent || attempt >= ATTEMPTS || localOk) {
                  c = { status: 'failed', restored: false, sha256: null, error: oneLine(err instanceof Error ? err.message : String(err)), ...(localOk && { localOk }) };
                  break;
                }
                await new Promise((r) => setTimeout(r, 500 * attempt));
              }
            }
          } finally {
            await releaseGenerationLease(pool, id, holder).catch(() => {});
          }
        }
        if (c?.localOk) {
          // the storage did not answer: the copy stays as recorded, but the local archive was read back whole (as the
          // mail says): its own verification is recorded, so that `backup list` does not show it unverified
          await markGenerationVerified(pool, id, { state: 'ok', error: null, restored: c.localOk.restored, sha256: c.localOk.sha256 });
        } else if (c && (c.status === 'ok' || c.status === 'corrupt' || c.status === 'missing' || c.status === 'offsite')) {
          // the generation's own verification state (R-BK-13); an off-site problem leaves the local archive ok
          await markGenerationVerified(pool, id, {
            state: c.keepState ?? (c.status === 'offsite' ? 'ok' : c.status),
            error: c.storedError ?? c.error,
            restored: c.restored,
            // recorded only from a file that read back whole: a damaged file's checksum is never the reference
            sha256: c.status === 'ok' || c.status === 'offsite' ? c.sha256 : null,
          });
        }
        if ((c?.status === 'offsite' || c?.copyLost) && !c.copyRecordedLost && g.offsiteKey) {
          // R-BK-14: a copy that is gone or different is no copy: recorded failed, copied again first by the next
          // batch (the pending set of migrations 0017/0019, any kept generation), instead of passing for done every night
          const lost = await markOffsiteCopyLost(pool, id, { key: g.offsiteKey, copiedAt: g.offsiteAt, error: `(verify run ${run.id}) ${c.error ?? ''}` });
          if (lost.marked) {
            // said first: the failures shown in the run's details are cut at a few hundred characters
            const note = lost.pending ? OFFSITE_RECOPY_NOTE : "copie perdue, pas recopiée (l'archive locale est corrompue ou absente)";
            c.error = `${note}; ${c.error ?? ''}`;
          }
        }
        const status: VerifyItemStatus = pruned ? 'pruned' : c!.status;
        // found as an earlier run recorded it: reported again, mailed no more (TOLD_MARK)
        // (a copy found lost, or left unchecked this time, is news of its own)
        // (a state this run recorded, an attempt killed before its ledger row, is this run's news: still mailed)
        const foundThisRun = !!g.verifiedAt && g.verifiedAt >= run.started_at;
        // a key still lacking since an earlier run said so, with no read of the generation since: told too (drills K3 and V2,
        // session 36: a lost key's generations, kept for months, were mailed at every run)
        const keyTold = !pruned && status === 'key' && (await keyProblemTold(pool, g, c!.error ?? null));
        const seenBefore =
          keyTold ||
          (!pruned && (status === 'corrupt' || status === 'missing') && g.verifyState === status && !foundThisRun && !c!.copyLost && c!.storedError === undefined) ||
          // a copy an earlier run recorded lost, still not made again
          (status === 'offsite' && !!c!.copyRecordedLost);
        // and told: an earlier run's mail carried it (drill F, session 36: found while no recipient was set, it was never mailed)
        const told = seenBefore && (await problemToldBefore(pool, id, status, input.runId));
        const error = pruned ? `supprimée par ${g.deletedBy ?? 'la rétention'}` : told ? `${TOLD_MARK}${c!.error ?? ''}` : (c!.error ?? null);
        const recorded = await recordVerifyItem(pool, input.runId, {
          generationId: id,
          code: g.code,
          file: g.file,
          snapshotAt: g.snapshotAt,
          status,
          restored: c?.restored ?? false,
          sha256: c?.sha256 ?? null,
          error,
          durationMs: Date.now() - started,
        });
        if (!recorded) {
          closed = true;
          return undefined;
        }
        if (c?.restored) restoredCount++;
        described.set(idText, `${g.code}|${shownGeneration(g.snapshotAt, g.file)}`);
        // a generation pruned while the run waited for it is no problem of the archives
        return { status: pruned ? 'ok' : status, error };
      }

      const r = await runChunk({
        codes: input.codes,
        concurrency: input.concurrency,
        timeBudgetMs: input.timeBudgetMs,
        alreadyDone: async (todo) => (await verifyItemsInLedger(pool, input.runId, todo.map(Number))).map(String),
        perDossier: one,
        shouldStop: () => closed,
        onTick: () => void touchVerifyRun(pool, input.runId).catch(() => {}),
      });
      if (closed) throw permanentFailure(FailureType.InvalidInput, `verify run ${input.runId} was closed while its workflow still worked on it`);
      // the engine's failures name generation ids: named here by dossier and generation
      const failures = r.failures.map((f) => {
        const d = described.get(f.code);
        if (!d) return f;
        const [code, what] = d.split('|') as [string, string];
        return { code, status: f.status, error: `${what} : ${f.error}` };
      });
      return { counts: r.counts, ok: r.ok, failed: r.failed, skipped: r.skipped, remaining: r.remaining, failures: capFailures(failures), failuresTotal: r.failuresTotal, restored: restoredCount };
    },

    /** The details refresh: the ledger now, and the generations this worker reads for the workflow (local activity). */
    async verifyLedgerView(raw: { target: string; runId: number }): Promise<FanOutLedgerView> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const p = await verifyRunProgress(pool, raw.runId);
      const failures = p.problems ? await failuresOf(pool, raw.runId, DETAILS_FAILURES_SHOWN) : [];
      const workflowId = activityContext()?.info.workflowExecution?.workflowId;
      const inFlight = workflowId ? dossiersInFlight(workflowId).map((f) => ({ ...f, code: `generation ${f.code}` })) : [];
      return { done: p.done, failed: p.problems, failures, failuresTotal: p.problems, sinceLastEndSeconds: p.sinceLastEndSeconds, inFlight };
    },

    /**
     * Ends the run: totals from the ledger, the report written atomically, the mail wanted only on a problem or an early
     * stop (`reason`: the workflow's, when no chunk recorded one on the run). Idempotent.
     */
    async finishVerifyRun(raw: { target: string; runId: number; endedEarly: boolean; reason?: string }): Promise<Omit<BackupVerifyResult, 'target' | 'runId'>> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const run = await getRun(pool, raw.runId);
      const tail = async (problems: number, stopReason: string | null) => {
        const failures = problems ? await failuresOf(pool, raw.runId, FAILURES_CAP, true) : [];
        const nextSteps = await nextStepsOf(pool, raw.target, run, problems, stopReason);
        return { failures, failuresTotal: problems, nextCommand: nextSteps[0]?.command ?? null, nextSteps, stopReason };
      };
      if (run.state !== 'running') {
        // this activity's earlier attempt closed it: the same answer again
        const stopReason = stopReasonOf(run);
        return { state: run.state, total: run.total, ok: run.ok, problems: run.problems, restored: run.restored, seed: Number(run.seed), reportPath: run.report_path, mail: run.mail_state !== 'none', ...partField(run), ...(await tail(run.problems, stopReason)) };
      }
      // R-BK-13: why it stopped (a chunk recorded the backup folder's refusal; else what ended the workflow's fan-out)
      const stopReason = raw.endedEarly ? (run.note ?? oneLine(raw.reason ?? 'ended early')) : null;
      const { file, ok, problems, restored, fresh } = await writeReport(pool, run, stopReason);
      const state = raw.endedEarly ? 'failed' : problems > 0 ? 'problems' : 'completed';
      // a mail for news only: problems all found as earlier runs recorded them were mailed then; a run stopped early
      // is mailed as a failed batch is (R-BK-13)
      const mailWanted = (fresh > 0 || stopReason !== null) && run.settings.reportRecipients.length > 0;
      await closeVerifyRun(pool, raw.runId, { state, ok, problems, restored, reportPath: file, mailWanted, note: stopReason });
      return { state, total: ok + problems, ok, problems, restored, seed: Number(run.seed), reportPath: file, mail: mailWanted, ...partField(run), ...(await tail(problems, stopReason)) };
    },

    /** R-BK-8 style, on a problem or an early stop only: the report and the list of dossiers in error, to the report recipients. */
    async mailVerifyReport(raw: { target: string; runId: number }): Promise<{ messageId: string; recipients: string[] }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const run = await getRun(pool, raw.runId);
      if (!mail) throw permanentFailure(FailureType.InvalidInput, 'no mail transport in this worker');
      if (!run.report_path) throw permanentFailure(FailureType.InvalidInput, `verify run ${run.id} has no report`);
      const stopReason = stopReasonOf(run);
      let list = '';
      let after = '';
      for (;;) {
        const codes = await verifyProblemCodesPage(pool, Number(run.id), after);
        if (!codes.length) break;
        for (const code of codes) list += code + REPORT_EOL;
        after = codes[codes.length - 1]!;
      }
      if (stopReason) {
        // a run stopped early also lists the dossiers it did not read, as the batch lists those not done
        const codes = new Set(list.split(REPORT_EOL).filter(Boolean));
        for (after = ''; ; ) {
          const page = await verifyUnreadCodesPage(pool, Number(run.id), scopeOf(run), after);
          if (!page.length) break;
          for (const code of page) codes.add(code);
          after = page[page.length - 1]!;
        }
        list = [...codes].sort().map((code) => code + REPORT_EOL).join('');
      }
      const info = await mail.sendMail({
        from: { name: config.smtp.fromName, address: config.smtp.fromAddress },
        to: run.settings.reportRecipients,
        subject: verifyMailSubject(config.appName, config.targets.length > 1 ? raw.target : undefined),
        text: verifyMailBody(await nextStepsOf(pool, raw.target, run, run.problems, stopReason), stopReason),
        attachments: [
          { filename: path.basename(run.report_path), path: run.report_path, contentType: 'text/plain; charset=utf-8', contentTransferEncoding: 'base64' },
          { filename: VERIFY_FAILED_LIST_FILE_NAME, content: list, contentType: 'text/plain; charset=utf-8', contentTransferEncoding: 'base64' },
        ],
      });
      await markVerifyMail(pool, Number(run.id), 'sent');
      return { messageId: String(info.messageId), recipients: run.settings.reportRecipients };
    },

    async markVerifyMailFailed(raw: { target: string; runId: number; error: string }): Promise<void> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      await markVerifyMail(pool, raw.runId, 'failed', oneLine(raw.error));
    },
  };
}

/** What verification needs of the off-site store: its checkObject (offsite/store.ts), when the store has one. */
interface CheckingStore {
  checkObject?(key: string, expected: { size: number; sha256: string }, options?: { readBack?: boolean; signal?: AbortSignal; bucket?: string }): Promise<{ status: string; reason?: string }>;
}

/**
 * R-BK-14 hook: the worker's lazy off-site store as the check of a generation's copy (size and SHA-256 of the
 * stored object, offsite/store.ts checkObject). Undefined when no store is configured or it cannot check.
 */
export function offsiteCheckOf(store: () => Promise<CheckingStore | undefined>): () => Promise<OffsiteObjectCheck | undefined> {
  return async () => {
    const s = await store();
    if (!s?.checkObject) return undefined;
    return async (key, expected, options) => {
      const c = await s.checkObject!(key, expected, options);
      return c.status === 'ok' ? { status: 'ok' } : { status: c.status === 'missing' ? 'missing' : 'corrupt', reason: c.reason ?? c.status };
    };
  };
}

import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { dossierCodeSchema } from '../domain/dossier';
import { FailureType, permanentFailure } from '../domain/failures';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import { isCancellation } from '../offsite/failures';
import { generationObjectName, objectNameSchema } from '../offsite/keys';
import type { OffsiteStore, UploadProgress, UploadResult } from '../offsite/store';
import type { Generation } from '../domain/generation';
import { generationById } from '../store/generations/generation-by-id';
import { markGenerationOffsite } from '../store/generations/mark-offsite';
import { offsitePendingGeneration } from '../store/generations/offsite-pending-generation';
import { runGeneration } from '../store/generations/run-generation';
import type { Queryable } from '../store/queryable';

/**
 * Off-site copies (R-BK-14): one archive of one dossier to the S3-compatible store.
 *
 * A retry, or a new attempt after the worker died, starts the upload over: the store aborts the
 * unfinished multipart uploads a dead attempt left under the key, and S3 shows an object only once
 * complete, so no attempt ever leaves a visible partial copy. The copy counts as done only when this
 * activity returns, after the stored object's size and SHA-256 were checked.
 */

export const copyArchiveOffsiteInputSchema = z.object({
  target: targetNameSchema,
  code: dossierCodeSchema,
  /** the local archive (absolute path) */
  file: z.string().min(1).max(4096).refine((f) => path.isAbsolute(f), 'expected an absolute path'),
  /** its name below the dossier's folder in the bucket: B{code}.SVG, 2026-12-02/B{code}.SVG */
  key: objectNameSchema,
});
export type CopyArchiveOffsiteInput = z.infer<typeof copyArchiveOffsiteInputSchema>;

export interface CopyArchiveOffsiteResult {
  /** the full object key: <prefix><target>/<code>/<key> */
  objectKey: string;
  bucket: string;
  size: number;
  sha256: string;
  /** what the storage computed and checked (SHA-256 per part) */
  storageChecksum?: string;
  /** unfinished uploads of a dead attempt, aborted before this one */
  abortedStaleUploads: number;
  attempt: number;
}

export interface OffsiteActivityDeps {
  /** the store, built on first use (a promise: the AWS SDK is loaded only then); undefined when not configured */
  offsiteStore: () => OffsiteStore | undefined | Promise<OffsiteStore | undefined>;
}

const HEARTBEAT_EVERY_MS = 5_000;

export function createOffsiteActivities({ offsiteStore }: OffsiteActivityDeps) {
  return {
    async copyArchiveOffsite(raw: CopyArchiveOffsiteInput): Promise<CopyArchiveOffsiteResult> {
      const input = parseInput(copyArchiveOffsiteInputSchema, raw);
      const store = await offsiteStore();
      if (!store) throw permanentFailure(FailureType.OffsiteNotConfigured, 'off-site copies are not configured on this worker: set NIGHTSHIFT_OFFSITE_S3_BUCKET (and _ENDPOINT, credentials)');
      const ctx = Context.current();
      const objectKey = store.keyOf(input.target, input.code, input.key);
      let last: UploadProgress & { phase: string } = { phase: 'checksum', loaded: 0, total: 0 };
      ctx.heartbeat(last);
      // on a timer too: the checksum pass and the final check send no progress
      const timer = setInterval(() => ctx.heartbeat(last), HEARTBEAT_EVERY_MS);
      try {
        const up = await store.upload({
          file: input.file,
          key: objectKey,
          signal: ctx.cancellationSignal,
          onProgress: (p) => {
            last = { phase: 'upload', ...p };
            ctx.heartbeat(last);
          },
        });
        ctx.log.info('archive copied off-site', { target: input.target, code: input.code, bucket: store.bucket, key: objectKey, size: up.size, abortedStaleUploads: up.abortedStaleUploads });
        return {
          objectKey,
          bucket: store.bucket,
          size: up.size,
          sha256: up.sha256,
          storageChecksum: up.storageChecksum,
          abortedStaleUploads: up.abortedStaleUploads,
          attempt: ctx.info.attempt,
        };
      } finally {
        clearInterval(timer);
      }
    },
  };
}

/** Tries of one generation's copy inside the batch's per-dossier step (each S3 request has its own SDK attempts too). */
const COPY_ATTEMPTS = 3;
/**
 * Once a copy failed all its tries on a storage that is away (retryable failures), the next copies of the same batch
 * run on this worker fail at once for this long, then one try each tells whether it is back. Without it, a storage
 * unreachable all night costs every dossier its full tries: 3 × 3 requests × the 5 s connect timeout, about 50 s per
 * dossier. Kept per run (the caller's `health`): a `backup retry` started once the storage is back tries at once.
 */
export const STORAGE_DOWN_PAUSE_MS = 30_000;
export interface StorageHealth {
  down?: { since: Date; until: number; error: string };
}

export type GenerationCopy =
  | { ok: true; bucket: string; key: string; size: number; sha256: string; storageChecksum?: string; attempts: number }
  | { ok: false; error: string; attempts: number };

/**
 * The batch's copy step (R-BK-14): one recorded generation to the bucket under
 * `<prefix><target>/<code>/<its own file name>`, then its row marked copied (bucket, key, SHA-256 the storage
 * checked per part and the store checked on the whole object) or failed (the reason). A storage that is away is
 * tried COPY_ATTEMPTS times, then the copy fails: an answer, not a throw, so that the batch goes on with the
 * other dossiers (which then fail at once for STORAGE_DOWN_PAUSE_MS, then try once each until one succeeds).
 * Throws only when cancelled, or when the ledger itself cannot be written.
 *
 * Uploading the same generation again (a retried chunk after its worker died mid-upload) goes to the same key:
 * the store aborts the dead attempt's unfinished multipart upload first, and S3 shows an object only once
 * complete, so there is never a visible partial object nor a second object for one generation.
 */
export async function copyGenerationOffsite(o: {
  db: Queryable;
  /** the store, built on first use (undefined: not configured on this worker) */
  store: () => OffsiteStore | undefined | Promise<OffsiteStore | undefined>;
  target: string;
  generationId: number;
  signal?: AbortSignal;
  /** ms before try n+1 (default 500 × n) */
  backoffMs?: (n: number) => number;
  /** what the copies of the same run learnt of the storage (default: this copy's alone) */
  health?: StorageHealth;
}): Promise<GenerationCopy> {
  const health = o.health ?? {};
  const g = await generationById(o.db, o.generationId);
  if (!g) throw permanentFailure(FailureType.InvalidInput, `unknown backup generation ${o.generationId}`);
  let store: OffsiteStore | undefined;
  let key: string | undefined;
  let attempts = 0;
  const failed = async (error: string): Promise<GenerationCopy> => {
    await markGenerationOffsite(o.db, g.id, { state: 'failed', bucket: store?.bucket ?? null, key: key ?? null, error });
    return { ok: false, error, attempts };
  };
  for (;;) {
    attempts++;
    let up: UploadResult | undefined;
    let notTried: string | undefined;
    try {
      // an unreadable secret file is this copy's failure, told like the others, not the chunk's
      store = await o.store();
      if (!store) throw permanentFailure(FailureType.OffsiteNotConfigured, 'off-site copies are not configured on this worker: set NIGHTSHIFT_OFFSITE_S3_BUCKET (and _ENDPOINT, credentials) on every worker');
      key = store.keyOf(o.target, g.code, generationObjectName(g));
      const down = health.down;
      if (down && Date.now() < down.until) {
        // the storage failed a whole copy moments ago: this dossier fails at once instead of waiting out its own
        // timeouts (a storage away for the night must not stretch the night); a try again once the pause is over
        notTried = `off-site copy failed: not tried, the off-site storage has been failing since ${down.since.toISOString()} (last: ${down.error.slice(0, 300)})`;
      } else up = await store.upload({ file: g.file, key, signal: o.signal });
    } catch (err) {
      if (o.signal?.aborted || isCancellation(err)) throw err;
      const permanent = err instanceof ApplicationFailure && err.nonRetryable;
      const wasDown = health.down;
      // after a pause, one try tells whether the storage is back
      if (permanent || attempts >= COPY_ATTEMPTS || wasDown) {
        const message = err instanceof Error ? err.message : String(err);
        if (store && !permanent) health.down = { since: wasDown?.since ?? new Date(), until: Date.now() + STORAGE_DOWN_PAUSE_MS, error: message };
        return await failed(`off-site copy failed: ${message}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, o.backoffMs?.(attempts) ?? 500 * attempts);
        o.signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      continue;
    }
    if (notTried || !up || !store || !key) return await failed(notTried ?? 'off-site copy failed: no upload result');
    delete health.down;
    await markGenerationOffsite(o.db, g.id, { state: 'copied', bucket: store.bucket, key, sha256: up.sha256 });
    return { ok: true, bucket: store.bucket, key, size: up.size, sha256: up.sha256, storageChecksum: up.storageChecksum, attempts };
  }
}

/**
 * What the batch's dossier step takes without writing a new archive (R-BK-14): the generation this run already
 * wrote (a retried chunk whose killed attempt wrote it), else, for a pending dossier, its newest generation while
 * still current (unmodified since, and it is the run's own B{code}.SVG in `seedFile`: a run writing to another
 * folder, a date sub-folder, writes a new one): to copy when its copy failed or never ran, already copied when
 * only older copies are to make again. No generation: back it up (also a dossier whose archive predates
 * generations). `olderCopies`: the step looks up the dossier's older copies to make (failed, or never made) after its
 * own; only a pending dossier can have any (the triggers of migrations 0019 and 0025 keep it so), so the others spare
 * that query; a retried attempt always looks.
 */
export async function generationToCopy(
  db: Queryable,
  o: { code: string; runId: number; retried: boolean; seedFile: string },
): Promise<{ generation?: Generation; olderCopies: boolean }> {
  const written = o.retried ? await runGeneration(db, o.runId, o.code) : undefined;
  if (written) return { generation: written, olderCopies: true };
  const { pending, generation } = await offsitePendingGeneration(db, o.code);
  return { generation: generation?.links.includes(o.seedFile) ? generation : undefined, olderCopies: pending || o.retried };
}

/**
 * The batch's line for a dossier whose own archive is copied but an older one's copy, made again, failed: which
 * archive (file name, snapshot time in UTC) and the copy's own reason.
 */
/** A dossier's failure when its batch was cancelled after its archive was written, during its off-site copy. */
export function copyCutShortText(generationId: number): string {
  return `off-site copy cut short: the batch was cancelled; the archive is written (generation ${generationId}), its copy is left to the next batch or a retry`;
}

export function olderCopyFailedText(g: Generation, error: string): string {
  const reason = error.replace(/^off-site copy failed: /, '');
  return `off-site copy failed: older archive ${path.basename(g.file)} (${g.kind}, ${g.snapshotAt.toISOString()}) not copied${g.offsiteState === 'none' ? '' : ' again'}: ${reason}`;
}

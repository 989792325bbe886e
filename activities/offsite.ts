import path from 'node:path';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { dossierCodeSchema } from '../domain/dossier';
import { FailureType, permanentFailure } from '../domain/failures';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import { objectNameSchema } from '../offsite/keys';
import type { OffsiteStore, UploadProgress } from '../offsite/store';

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
  /** the store, built on first use by workers/ (undefined: no NIGHTSHIFT_OFFSITE_S3_BUCKET) */
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

import crypto from 'node:crypto';
import fs from 'node:fs';
import { Transform, pipeline as pipeStreams, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  paginateListObjectsV2,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { OffsiteSettings } from '../config/config';
import { FailureType, permanentFailure } from '../domain/failures';
import { OffsiteCopyDamaged, isCancellation, offsiteFailure } from './failures';
import { dossierObjectKey, dossierPrefix, targetPrefix } from './keys';
import { s3RetryStrategy } from './retry';

/**
 * The off-site store: one bucket of S3-compatible object storage, through the AWS SDK.
 *
 * Atomicity: an object is visible only once whole. S3 makes a PutObject or a CompleteMultipartUpload
 * visible at once, never a part of it, and replaces an older object under the same key atomically, so
 * the archive is uploaded under its final key: a temporary key plus CopyObject would double the bytes
 * written (and needs UploadPartCopy beyond 5 GB) and leave a *visible* temporary object when a worker
 * dies between the copy and the delete. What a dead upload leaves is an unfinished multipart upload,
 * invisible to GET and LIST; the next attempt aborts those of its key before it starts (and a bucket
 * lifecycle rule AbortIncompleteMultipartUpload is the backstop, see the README).
 *
 * Integrity: every part (or the single PUT) carries its SHA-256 (`x-amz-checksum-sha256`), which the
 * storage checks before it accepts the bytes; the whole file's SHA-256, read before the upload, is
 * stored as the object's metadata `sha256`, compared with the bytes actually sent, and checked again
 * before the copy counts as done: for a single PUT by the storage's answer (the whole object's SHA-256 it
 * verified), for a multipart upload on the stored object's head (size and metadata).
 */

export interface OffsiteObject {
  key: string;
  /** the key below the dossier's folder (B{code}.SVG, 2026-12-02/B{code}.SVG) */
  name: string;
  size: number;
  lastModified?: Date;
}

export interface UploadResult {
  key: string;
  size: number;
  /** hex SHA-256 of the whole file, as stored in the object's metadata */
  sha256: string;
  etag?: string;
  /** the checksum the storage computed and verified (per part; `…-N` for N parts) */
  storageChecksum?: string;
  /** unfinished multipart uploads of this key, left by a dead attempt, aborted first */
  abortedStaleUploads: number;
}

/** what checkObject found: `reason` says, on one line, what differs (sizes, checksums) */
export type ObjectCheck =
  | { status: 'ok'; size: number; sha256: string; method: 'storage-checksum' | 'read-back' }
  | { status: 'missing'; reason: string }
  | { status: 'corrupt'; reason: string; method: 'size' | 'metadata' | 'storage-checksum' | 'read-back' };

export interface UploadProgress {
  loaded: number;
  total: number;
}

/**
 * The operations on an existing copy (head, getStream, deleteObject, checkObject, abortIncompleteUploads) take the
 * bucket the copy was recorded in (default: the configured one, `bucket`): a copy made before
 * NIGHTSHIFT_OFFSITE_S3_BUCKET changed is still in the old bucket. Their messages name the bucket used.
 */
export interface OffsiteStore {
  /** the configured bucket: where uploads go */
  readonly bucket: string;
  keyOf(target: string, code: string, name: string): string;
  upload(input: { file: string; key: string; signal?: AbortSignal; onProgress?: (p: UploadProgress) => void }): Promise<UploadResult>;
  listDossier(target: string, code: string): Promise<OffsiteObject[]>;
  /** undefined only when the storage says the object is not there (a missing bucket or refused credentials throw) */
  head(key: string, bucket?: string): Promise<{ size: number; sha256?: string; storageChecksum?: string } | undefined>;
  getStream(key: string, bucket?: string): Promise<Readable>;
  /**
   * Reads the object into `to` (a restore from the copy), hashing what it reads: its size and SHA-256, or undefined
   * when the storage says the object is not there. The storage away mid-read is OffsiteUnavailable (retryable); bytes
   * the storage's own checksum refuses throw OffsiteCopyDamaged.
   */
  download(key: string, to: Writable, options?: { bucket?: string; signal?: AbortSignal; onProgress?: (bytes: number) => void }): Promise<{ size: number; sha256: string } | undefined>;
  /** deletes the object; idempotent: an object that is not there (already deleted, never copied) is fine */
  deleteObject(key: string, bucket?: string): Promise<void>;
  /**
   * Is the stored object this archive? HEAD with the storage's checksum when it has the whole object's
   * SHA-256 (a single PUT), else the object is read back and hashed (a multipart object's checksum is a
   * checksum of its parts' checksums, which no whole-file SHA-256 can be compared with). `readBack`
   * always reads and hashes the bytes (what a full verification wants: the storage's own word is then
   * not taken for it). `missing` only when the storage says the object is not there; a missing bucket, refused
   * credentials or an unreachable storage throw (never a verdict on the copy).
   */
  checkObject(key: string, expected: { size: number; sha256: string }, options?: { readBack?: boolean; signal?: AbortSignal; bucket?: string }): Promise<ObjectCheck>;
  /** aborts the unfinished multipart uploads of exactly this key; how many */
  abortIncompleteUploads(key: string, bucket?: string): Promise<number>;
  /**
   * Aborts the unfinished multipart uploads of a target's dossier keys (`<prefix><target>/<code>/…`) started before
   * `startedBefore`: what a worker killed mid-upload left (storage held, invisible to GET and LIST). Younger ones
   * (a copy that may still be running), one without a start date, and any key Nightshift would not have written
   * are left. `signal` ends it early (what was aborted stays aborted; the next call goes on).
   */
  abortStaleUploads(target: string, startedBefore: Date, options?: { signal?: AbortSignal }): Promise<StaleUploadSweep>;
  close(): void;
}

export interface StaleUploadSweep {
  aborted: number;
  /** unfinished uploads seen under the target's prefix that were left (young, undated, or not a dossier key) */
  kept: number;
}

export interface OffsiteStoreOptions {
  /** S3 SDK attempts per request before the failure is handed to Temporal's retry (default 3; a silent request: 1) */
  maxAttempts?: number;
  /** ms to open a connection before a request fails (default 5 s) */
  connectionTimeoutMs?: number;
  /**
   * ms without a byte sent or received on a request's connection before it fails (default 30 s): a storage that
   * accepts the connection and never answers. Silence, not duration: a long part upload whose bytes flow is never cut.
   */
  idleTimeoutMs?: number;
}

/** The SDK's handler writes its warnings (a request too long, sockets in short supply) to the console unless given a logger. */
const SILENT_LOGGER = { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

function secretOf(settings: OffsiteSettings): string | undefined {
  const c = settings.credentials;
  if (!c) return undefined;
  if ('secretAccessKey' in c) return c.secretAccessKey.reveal();
  try {
    const value = fs.readFileSync(c.secretAccessKeyFile, 'utf8').trim();
    if (!value) throw new Error('empty');
    return value;
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw permanentFailure(FailureType.OffsiteNotConfigured, `the secret key file of NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE (${c.secretAccessKeyFile}) cannot be read (${why})`);
  }
}

interface S3Answer {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** the storage's own word that the object is not there (GET's, DELETE's NoSuchKey: a body that says so) */
function saysNoSuchKey(err: unknown): boolean {
  const e = err as S3Answer | undefined;
  return e?.Code === 'NoSuchKey' || e?.name === 'NoSuchKey';
}

/**
 * A refusal without an S3 error code: a HEAD's answer has no body, so its 404 may be a missing object, a missing
 * bucket or an unknown key (versitygw), its 403 any refusal of the credentials. A network error or a 5xx is not this.
 */
function isBodilessRefusal(err: unknown): boolean {
  const e = err as S3Answer | undefined;
  const status = e?.$metadata?.httpStatusCode;
  return status !== undefined && status < 500 && !e?.Code;
}

/** A stream that counts and hashes what goes through it (`pass`: and hands it on; else it is dropped, read back only). */
function hashing(o: { pass: boolean; onProgress?: (bytes: number) => void }): { stream: Transform; result(): { size: number; sha256: string } } {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      hash.update(chunk);
      o.onProgress?.(size);
      done(null, o.pass ? chunk : undefined);
    },
  });
  return { stream, result: () => ({ size, sha256: hash.digest('hex') }) };
}

async function sha256OfFile(file: string, signal?: AbortSignal): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash, { signal });
  return hash.digest('hex');
}

export function createOffsiteStore(settings: OffsiteSettings, options: OffsiteStoreOptions = {}): OffsiteStore {
  // The SDK warns once, on stderr in several lines, that its releases after January 2027 want Node 22:
  // the pinned version runs on Node 20 (package.json engines), and the worker's logs stay one line each.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const secret = secretOf(settings);
  const secrets = [secret ?? '', settings.credentials?.accessKeyId ?? ''].filter((s) => s.length >= 4);
  const config: S3ClientConfig = {
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials && secret ? { accessKeyId: settings.credentials.accessKeyId, secretAccessKey: secret } : undefined,
    maxAttempts: options.maxAttempts ?? 3,
    retryStrategy: s3RetryStrategy(options.maxAttempts ?? 3),
    // Silence fails a request (socketTimeout: Node counts the bytes a long write hands to the network as activity),
    // not its duration: requestTimeout runs until the answer's headers, so it would cut a large part upload whose
    // bytes flow, and without throwOnRequestTimeout it only prints a warning.
    requestHandler: { connectionTimeout: options.connectionTimeoutMs ?? 5_000, socketTimeout: options.idleTimeoutMs ?? 30_000, logger: SILENT_LOGGER },
    // The SDK must print nothing: what goes wrong reaches the caller as an error (its default no-op logger still lets
    // the handler and the retry step fall back on the console).
    logger: SILENT_LOGGER,
  };
  const client = new S3Client(config);
  const endpoint = settings.endpoint ?? `AWS S3 ${settings.region}`;
  const Bucket = settings.bucket;
  const fail = (err: unknown, doing: string, bucket = Bucket) => offsiteFailure(err, { doing, bucket, endpoint, secrets });

  async function abortIncompleteUploads(key: string, bucket = Bucket): Promise<number> {
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker, UploadIdMarker }));
      for (const u of page.Uploads ?? []) {
        if (u.Key !== key || !u.UploadId) continue;
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: u.UploadId }));
        aborted++;
      }
      if (!page.IsTruncated) return aborted;
      KeyMarker = page.NextKeyMarker;
      UploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /**
   * Resolves when `err` is the storage's word that the object is not there; throws what it is otherwise. A refusal
   * without an S3 error code (a HEAD's) is asked again as a listing of the same bucket, whose refusal has a body
   * that names the S3 error (NoSuchBucket, SignatureDoesNotMatch, InvalidAccessKeyId): that refusal is thrown.
   */
  async function confirmMissing(err: unknown, bucket: string, key: string): Promise<void> {
    if (saysNoSuchKey(err)) return;
    if (!isBodilessRefusal(err)) throw err;
    // the listing's own failure (a missing bucket, refused credentials, the storage gone) is the answer
    await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
    const status = (err as S3Answer).$metadata?.httpStatusCode;
    if (status === 404) return;
    // the bucket may be listed but the object not read: the key's rights on objects
    throw status === 403 ? Object.assign(new Error('the key may list the bucket but not read its objects'), { name: 'AccessDenied', $metadata: { httpStatusCode: status } }) : err;
  }

  async function head(key: string, bucket = Bucket) {
    try {
      const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
      return { size: h.ContentLength ?? 0, sha256: h.Metadata?.sha256, storageChecksum: h.ChecksumSHA256 };
    } catch (err) {
      await confirmMissing(err, bucket, key);
      return undefined;
    }
  }

  return {
    bucket: Bucket,
    keyOf: (target, code, name) => dossierObjectKey(settings.prefix, target, code, name),

    async upload({ file, key, signal, onProgress }) {
      let size: number;
      try {
        size = (await fs.promises.stat(file)).size;
      } catch (err) {
        throw permanentFailure(FailureType.OffsiteSourceMissing, `the archive to copy off-site cannot be read: ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      const doing = `uploading ${key}`;
      try {
        const sha256 = await sha256OfFile(file, signal);
        // an archive smaller than a part goes up in one PUT: an attempt of it never leaves an unfinished
        // multipart upload, so the listing is spared (one request less per dossier in the batch)
        const single = size < settings.partSizeBytes;
        const abortedStaleUploads = single ? 0 : await abortIncompleteUploads(key);
        const sent = hashing({ pass: true });
        // pipeline, not .pipe(): the body destroyed (an upload that failed or was cancelled) closes the file too, and
        // a read error fails the body instead of being an unhandled 'error' event
        const body = pipeStreams(fs.createReadStream(file), sent.stream, () => {});
        const upload = new Upload({
          client,
          params: { Bucket, Key: key, Body: body, ContentLength: size, ChecksumAlgorithm: 'SHA256', Metadata: { sha256 } },
          partSize: settings.partSizeBytes,
          queueSize: settings.concurrency,
          leavePartsOnError: false,
        });
        const onAbort = () => void upload.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        upload.on('httpUploadProgress', (p) => onProgress?.({ loaded: p.loaded ?? 0, total: p.total ?? size }));
        let result;
        try {
          result = await upload.done();
        } finally {
          signal?.removeEventListener('abort', onAbort);
          body.destroy();
        }
        const sentSha = sent.result().sha256;
        // one PUT: the storage verified the whole object's SHA-256 before it kept it, and says which; when that is
        // the file's, the object is this archive and a HEAD would add nothing
        const whole = Buffer.from(sha256, 'hex').toString('base64');
        if (single && sentSha === sha256 && result.ChecksumSHA256 === whole) {
          return { key, size, sha256, etag: result.ETag, storageChecksum: result.ChecksumSHA256, abortedStaleUploads };
        }
        const stored = await head(key);
        if (!stored || stored.size !== size || stored.sha256 !== sha256 || sentSha !== sha256) {
          // What is there is not this archive (the file changed while it was read, or the storage kept
          // something else): it must not pass for a copy.
          if (stored) await client.send(new DeleteObjectCommand({ Bucket, Key: key }));
          const why = !stored
            ? 'the object is not there after the upload'
            : sentSha !== sha256
              ? 'the file changed while it was uploaded'
              : `stored ${stored.size} bytes, sha256 ${stored.sha256 ?? 'none'}; sent ${size} bytes, sha256 ${sha256}`;
          throw new Error(`the stored copy does not match the archive (${why}): deleted`);
        }
        return { key, size, sha256, etag: result.ETag, storageChecksum: result.ChecksumSHA256 ?? stored.storageChecksum, abortedStaleUploads };
      } catch (err) {
        if (isCancellation(err) || signal?.aborted) throw err;
        const failure = fail(err, doing);
        if (failure.type === FailureType.OffsiteUnavailable && /\b(ECONNRESET|EPIPE)\b/.test(failure.message)) {
          // a server that refuses a request (credentials, bucket) may close the connection while the body of a
          // one-PUT upload is still being sent: the client sees a reset, not the answer. A small signed request
          // tells which (a listing: unlike a HEAD, its refusal has a body that names the S3 error); a refusal is
          // then said as such (not retried), anything else stays the reset.
          try {
            await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: key, MaxUploads: 1 }));
          } catch (probe) {
            const said = fail(probe, doing);
            if (said.nonRetryable) throw said;
          }
        }
        throw failure;
      }
    },

    async listDossier(target, code) {
      const Prefix = dossierPrefix(settings.prefix, target, code);
      const out: OffsiteObject[] = [];
      try {
        for await (const page of paginateListObjectsV2({ client }, { Bucket, Prefix })) {
          for (const o of page.Contents ?? []) {
            if (!o.Key) continue;
            out.push({ key: o.Key, name: o.Key.slice(Prefix.length), size: o.Size ?? 0, lastModified: o.LastModified });
          }
        }
      } catch (err) {
        throw fail(err, `listing ${Prefix}`);
      }
      return out;
    },

    async head(key, bucket = Bucket) {
      try {
        return await head(key, bucket);
      } catch (err) {
        throw fail(err, `reading ${key}`, bucket);
      }
    },

    async getStream(key, bucket = Bucket) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }));
        return r.Body as Readable;
      } catch (err) {
        throw fail(err, `reading ${key}`, bucket);
      }
    },

    async download(key, to, { bucket = Bucket, signal, onProgress } = {}) {
      let r;
      try {
        r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
      } catch (err) {
        if (isCancellation(err) || signal?.aborted) throw err;
        try {
          await confirmMissing(err, bucket, key);
        } catch (why) {
          throw fail(why, `reading ${key}`, bucket);
        }
        return undefined;
      }
      const counted = hashing({ pass: true, onProgress });
      // the local side's failure (a full disk) is its own, not the storage's
      let local: Error | undefined;
      to.once('error', (e: Error) => (local ??= e));
      try {
        await pipeline(r.Body as Readable, counted.stream, to, { signal });
      } catch (err) {
        if (isCancellation(err) || signal?.aborted || local) throw local ?? err;
        // the SDK checks what it read against the storage's own whole-object checksum: the copy is damaged, not away
        const said = (err as Error)?.message ?? '';
        if (/^Checksum mismatch/i.test(said)) throw new OffsiteCopyDamaged(`the bytes read do not match the storage's own checksum (${said.replace(/[\r\n]+/g, ' ').slice(0, 200)})`);
        throw fail(err, `reading ${key}`, bucket);
      }
      return counted.result();
    },

    async deleteObject(key, bucket = Bucket) {
      try {
        // S3 answers 204 for a key that is not there; some S3-compatible servers answer 404: both are "gone"
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (err) {
        try {
          await confirmMissing(err, bucket, key);
        } catch (why) {
          throw fail(why, `deleting ${key}`, bucket);
        }
      }
    },

    async checkObject(key, expected, { readBack = false, signal, bucket = Bucket } = {}) {
      const sha256 = expected.sha256.toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`checkObject: expected a hex SHA-256, got ${JSON.stringify(expected.sha256.slice(0, 80))}`);
      const doing = `checking ${key}`;
      try {
        const stored = await head(key, bucket);
        if (!stored) return { status: 'missing', reason: `no object ${key} in bucket ${bucket}` };
        if (stored.size !== expected.size) return { status: 'corrupt', method: 'size', reason: `stored ${stored.size} bytes, expected ${expected.size}` };
        if (stored.sha256 !== undefined && stored.sha256 !== sha256) {
          return { status: 'corrupt', method: 'metadata', reason: `the object's sha256 metadata is ${stored.sha256}, expected ${sha256}` };
        }
        const whole = stored.storageChecksum && !stored.storageChecksum.includes('-') ? Buffer.from(stored.storageChecksum, 'base64').toString('hex') : undefined;
        if (whole && !readBack) {
          if (whole !== sha256) return { status: 'corrupt', method: 'storage-checksum', reason: `the storage's SHA-256 is ${whole}, expected ${sha256}` };
          return { status: 'ok', size: stored.size, sha256, method: 'storage-checksum' };
        }
        // the storage cannot say (a multipart object, or a server without checksums): read it back
        let r;
        try {
          r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
        } catch (err) {
          if (isCancellation(err) || signal?.aborted) throw err;
          await confirmMissing(err, bucket, key);
          return { status: 'missing', reason: `no object ${key} in bucket ${bucket} (gone while it was read)` };
        }
        const counted = hashing({ pass: false });
        await pipeline(r.Body as Readable, counted.stream, { signal });
        const { size, sha256: got } = counted.result();
        if (size !== expected.size || got !== sha256) {
          return { status: 'corrupt', method: 'read-back', reason: `read back ${size} bytes, sha256 ${got}; expected ${expected.size} bytes, sha256 ${sha256}` };
        }
        return { status: 'ok', size, sha256, method: 'read-back' };
      } catch (err) {
        // the SDK checks the bytes it reads against the storage's whole-object checksum when the storage sends one
        const said = (err as Error)?.message ?? '';
        if (/^Checksum mismatch/i.test(said)) return { status: 'corrupt', method: 'read-back', reason: `the bytes read back do not match the storage's own checksum (${said.replace(/[\r\n]+/g, ' ').slice(0, 200)})` };
        if (isCancellation(err) || signal?.aborted) throw err;
        throw fail(err, doing, bucket);
      }
    },

    async abortIncompleteUploads(key, bucket = Bucket) {
      try {
        return await abortIncompleteUploads(key, bucket);
      } catch (err) {
        throw fail(err, `aborting unfinished uploads of ${key}`, bucket);
      }
    },

    async abortStaleUploads(target, startedBefore, { signal } = {}) {
      const Prefix = targetPrefix(settings.prefix, target);
      const sweep: StaleUploadSweep = { aborted: 0, kept: 0 };
      // a dossier's key as the copy step writes it, and nothing else (a bucket shared with other tools, an empty prefix)
      const ours = (key: string) => {
        const [code, ...name] = key.slice(Prefix.length).split('/');
        try {
          return name.length > 0 && dossierObjectKey(settings.prefix, target, code!, name.join('/')) === key;
        } catch {
          return false;
        }
      };
      let KeyMarker: string | undefined;
      let UploadIdMarker: string | undefined;
      try {
        for (;;) {
          const page = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix, KeyMarker, UploadIdMarker }), { abortSignal: signal });
          for (const u of page.Uploads ?? []) {
            if (!u.Key || !u.UploadId || !u.Initiated || !(u.Initiated < startedBefore) || !ours(u.Key)) {
              sweep.kept++;
              continue;
            }
            await client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal });
            sweep.aborted++;
          }
          if (!page.IsTruncated) return sweep;
          KeyMarker = page.NextKeyMarker;
          UploadIdMarker = page.NextUploadIdMarker;
        }
      } catch (err) {
        if (isCancellation(err) || signal?.aborted) throw Object.assign(new Error(`stopped after ${sweep.aborted} stale uploads aborted under ${Prefix}`), { sweep });
        throw Object.assign(fail(err, `aborting stale uploads under ${Prefix}`), { sweep });
      }
    },

    close: () => client.destroy(),
  };
}

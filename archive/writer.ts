import crypto from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import zlib from 'node:zlib';
import { ChunkSealer, newEnvelope } from './envelope';
import {
  type ArchiveHeader,
  type ArchiveManifest,
  type Codec,
  DATA_CHUNK_BYTES,
  FRAME_HEADER_BYTES,
  FrameKind,
  type PartKind,
  magicLine,
} from './format';

/** Compression settings, chosen by measurement (`BENCH_CODECS=1 npm run bench:backup`; figures in the README). */
export interface CodecSettings {
  codec: Codec;
  /** gzip level 1-9, or brotli quality 0-11 */
  level: number;
}
/**
 * brotli quality 1: about half gzip 1's CPU for a slightly smaller archive, and faster to read back (README, *Backups:
 * the archive and why brotli quality 1*). Archives written with gzip before stay readable: the codec is in the magic line.
 */
export const DEFAULT_CODEC: CodecSettings = { codec: 'brotli', level: 1 };

/**
 * Frames are packed into batches of this size before they reach the compressor: each write to a zlib
 * stream is a trip to the thread pool and back, and a ~200 KB dossier now takes one or two instead of
 * one per frame (bench:backup, README).
 */
export const WRITE_BATCH_BYTES = 256 * 1024;

/**
 * The compressor's output is written in pieces of about this size (one writev each): a ~200 KB dossier's
 * archive is one write. Each write, like each compressor call, is a trip to the thread pool and back.
 */
export const OUT_BATCH_BYTES = 256 * 1024;

function compressor(settings: CodecSettings): zlib.Gzip | zlib.BrotliCompress {
  // an output chunk as large as an input batch: a batch is compressed in one call to the thread pool, not four
  return settings.codec === 'gzip'
    ? zlib.createGzip({ level: settings.level, chunkSize: WRITE_BATCH_BYTES })
    : zlib.createBrotliCompress({ chunkSize: WRITE_BATCH_BYTES, params: { [zlib.constants.BROTLI_PARAM_QUALITY]: settings.level } });
}

/** Writes `pieces` at the file's position, whatever a single writev leaves undone. */
async function writeAll(fh: fs.promises.FileHandle, pieces: Buffer[]): Promise<void> {
  while (pieces.length) {
    let { bytesWritten: n } = await fh.writev(pieces);
    if (n === 0) throw new Error('the file took no bytes');
    while (pieces.length && n >= pieces[0]!.length) n -= pieces.shift()!.length;
    if (n) pieces[0] = pieces[0]!.subarray(n);
  }
}

export interface WriterFileOptions {
  /** the file, already open for writing (openPrivateFile); the writer owns it from then on and closes it */
  handle?: fs.promises.FileHandle;
  /** fsync the file before closing it, so that finish() returns a durable file (R-BK-6) */
  sync?: boolean;
}

/**
 * Streams frames into `file` through the compressor with backpressure: memory stays bounded by the
 * batch and chunk sizes whatever the dossier's size. Parts are hashed as they are written for the
 * manifest. One stage after the compressor: its output is encrypted (when a key is given) and queued
 * in its 'data' handler, then written by this writer itself in OUT_BATCH_BYTES pieces, without a stream
 * in between.
 */
export class ArchiveWriter {
  private readonly zip: zlib.Gzip | zlib.BrotliCompress;
  private readonly done: Promise<void>;
  private readonly parts: ArchiveManifest['parts'] = [];
  private current?: { kind: PartKind; name: string; hash: crypto.Hash; bytes: number };
  /** frames waiting for the compressor, packed from the start of `batch` up to `pos` */
  private batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  private pos = 0;
  /** where the open data frame's header sits in `batch` (its length is written when it closes), -1: none */
  private frameAt = -1;
  private failed?: Error;
  private handle?: fs.promises.FileHandle;
  /** compressed bytes written so far */
  bytesOut = 0;
  /** bytes in the file once finish() returns (magic line and encryption included) */
  fileBytes = 0;

  /**
   * `file` has been created by the caller (exclusively, so that an unwritable folder fails early), and
   * is opened here unless `options.handle` is the open file.
   * With `key`, the compressed stream is encrypted (envelope.ts) and the key id written in the magic line.
   */
  constructor(readonly file: string, settings: CodecSettings, key?: { id: string; key: Buffer }, options: WriterFileOptions = {}) {
    const zip = compressor(settings);
    this.zip = zip;
    this.handle = options.handle;
    let sealer: ChunkSealer | undefined;
    let magic: Buffer;
    if (key) {
      const { params, fileKey } = newEnvelope(key.id, key.key);
      magic = Buffer.from(magicLine(settings.codec, params), 'latin1');
      sealer = new ChunkSealer(fileKey, magic);
    } else {
      magic = Buffer.from(magicLine(settings.codec), 'latin1');
    }
    // what waits to be written, and the write under way
    let queued: Buffer[] = [];
    let queuedBytes = 0;
    let writing = false;
    let ended = false;
    this.done = new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        reject(err);
        zip.destroy();
      };
      const opened = options.handle ? Promise.resolve(options.handle) : fs.promises.open(file, 'w');
      opened.then((fh) => {
        if (this.failed) void fh.close().catch(() => {});
        else this.handle = fh;
      }, fail);
      // one write at a time, of a full batch (`now`, or at the end: whatever is queued)
      const pump = (now = false): void => {
        if (writing || this.failed) return;
        if (queuedBytes < OUT_BATCH_BYTES && !((now || ended) && queuedBytes)) {
          if (ended) void this.closeFile(options.sync === true).then(resolve, fail);
          return;
        }
        const pieces = queued;
        this.fileBytes += queuedBytes;
        queued = [];
        queuedBytes = 0;
        writing = true;
        zip.resume();
        opened
          .then((fh) => writeAll(fh, pieces))
          .then(() => {
            writing = false;
            pump();
          }, fail);
      };
      const queue = (pieces: Buffer[]) => {
        for (const p of pieces) {
          queued.push(p);
          queuedBytes += p.length;
        }
        // the compressor waits while a full batch is queued behind the write under way
        if (queuedBytes >= OUT_BATCH_BYTES && writing) zip.pause();
        pump();
      };
      zip.on('data', (c: Buffer) => {
        this.bytesOut += c.length;
        queue(sealer ? sealer.push(c) : [c]);
      });
      zip.on('error', fail);
      // destroyed (abort) before its end: nothing more will come
      zip.on('close', () => ended || fail(new Error(`archive ${file} closed before its end`)));
      zip.on('end', () => {
        ended = true;
        queue(sealer ? sealer.final() : []);
      });
      // the magic line at once: from its first moments, the temporary file is recognisably an archive being written
      queued.push(magic);
      queuedBytes = magic.length;
      pump(true);
    });
    // surface a write error (disk full, ...) to the next write instead of an unhandled rejection
    this.done.catch((err: Error) => {
      this.failed = err;
      void this.closeFile(false).catch(() => {});
    });
  }

  /** Closes the file once (after an fsync when asked). */
  private async closeFile(sync: boolean): Promise<void> {
    const fh = this.handle;
    if (!fh) return;
    this.handle = undefined;
    try {
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /** Writes the open data frame's length, or drops it if it holds nothing. */
  private closeFrame(): void {
    if (this.frameAt < 0) return;
    const length = this.pos - this.frameAt - FRAME_HEADER_BYTES;
    if (length) this.batch.writeUInt32BE(length, this.frameAt + 1);
    else this.pos = this.frameAt;
    this.frameAt = -1;
  }

  /** Hands the batch to the compressor, waiting while it is behind. */
  private async send(): Promise<void> {
    this.closeFrame();
    if (this.failed) throw this.failed;
    if (!this.pos) return;
    const full = this.batch.subarray(0, this.pos);
    // the compressor keeps a reference until it is done with it: a new batch, never an overwrite
    this.batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    this.pos = 0;
    if (!this.zip.write(full)) {
      await Promise.race([once(this.zip, 'drain'), this.done]);
      if (this.failed) throw this.failed;
    }
  }

  private async frame(kind: FrameKind, payload: Buffer): Promise<void> {
    this.closeFrame();
    const bytes = FRAME_HEADER_BYTES + payload.length;
    if (this.pos + bytes > this.batch.length) await this.send();
    // a manifest bigger than a batch goes alone, in a batch of its size
    if (bytes > this.batch.length) this.batch = Buffer.allocUnsafe(bytes);
    this.batch[this.pos] = kind;
    this.batch.writeUInt32BE(payload.length, this.pos + 1);
    payload.copy(this.batch, this.pos + FRAME_HEADER_BYTES);
    this.pos += bytes;
  }

  private jsonFrame(kind: FrameKind, value: unknown): Promise<void> {
    return this.frame(kind, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  async header(h: ArchiveHeader): Promise<void> {
    await this.jsonFrame(FrameKind.Header, h);
  }

  async startPart(kind: PartKind, name: string): Promise<void> {
    if (this.current) throw new Error('previous part not ended');
    this.current = { kind, name, hash: crypto.createHash('sha256'), bytes: 0 };
    await this.jsonFrame(FrameKind.PartStart, { kind, name });
  }

  /**
   * Small chunks (a COPY read each) are copied once, straight into data frames of up to
   * DATA_CHUNK_BYTES inside the batch (a frame also ends where a batch does).
   */
  async data(chunk: Buffer): Promise<void> {
    const p = this.current!;
    p.hash.update(chunk);
    p.bytes += chunk.length;
    while (chunk.length) {
      if (this.frameAt >= 0 && this.pos - this.frameAt - FRAME_HEADER_BYTES === DATA_CHUNK_BYTES) this.closeFrame();
      if (this.frameAt < 0) {
        if (this.pos + FRAME_HEADER_BYTES >= this.batch.length) await this.send();
        this.frameAt = this.pos;
        this.batch[this.pos] = FrameKind.Data;
        this.pos += FRAME_HEADER_BYTES;
      }
      const n = Math.min(chunk.length, DATA_CHUNK_BYTES - (this.pos - this.frameAt - FRAME_HEADER_BYTES), this.batch.length - this.pos);
      chunk.copy(this.batch, this.pos, 0, n);
      this.pos += n;
      chunk = chunk.subarray(n);
      if (this.pos === this.batch.length) await this.send();
    }
  }

  async endPart(): Promise<{ bytes: number; sha256: string }> {
    this.closeFrame();
    const p = this.current!;
    this.current = undefined;
    const end = { bytes: p.bytes, sha256: p.hash.digest('hex') };
    this.parts.push({ kind: p.kind, name: p.name, ...end });
    await this.jsonFrame(FrameKind.PartEnd, end);
    return end;
  }

  async finish(manifest: Omit<ArchiveManifest, 'parts' | 'documents'>): Promise<ArchiveManifest> {
    const documents = this.parts.filter((p) => p.kind === 'document').map((p) => ({ path: p.name, bytes: p.bytes }));
    const full: ArchiveManifest = { ...manifest, documents, parts: this.parts };
    await this.jsonFrame(FrameKind.Manifest, full);
    await this.frame(FrameKind.End, Buffer.alloc(0));
    this.closeFrame();
    if (this.failed) throw this.failed;
    // the last batch goes with the end of the stream: compressed and finished in one call to the thread pool
    this.zip.end(this.batch.subarray(0, this.pos));
    await this.done;
    return full;
  }

  /** Stops writing after a failure; the caller removes the file. */
  async abort(): Promise<void> {
    this.failed ??= new Error('archive aborted');
    this.zip.destroy();
    await this.done.catch(() => {});
    await this.closeFile(false).catch(() => {});
  }
}

/** Archives and batch reports hold client accounting data: owner read/write only unless the operator says otherwise. */
export const ARCHIVE_FILE_MODE = 0o600;

/**
 * Creates `file` exclusively with `mode` before any byte is written (the chmod makes the umask
 * irrelevant) and returns it open for writing; writing into it and renaming it keep the mode.
 */
export async function openPrivateFile(file: string, mode: number): Promise<fs.promises.FileHandle> {
  const fh = await fs.promises.open(file, 'wx', mode);
  try {
    await fh.chmod(mode);
  } catch (err) {
    await fh.close();
    await fs.promises.rm(file, { force: true });
    throw err;
  }
  return fh;
}

/** openPrivateFile, closed again: for a file written later by name. */
export async function createPrivateFile(file: string, mode: number): Promise<void> {
  await (await openPrivateFile(file, mode)).close();
}

/** Makes a folder's entries (a rename, a new name) durable. */
export async function syncDir(dir: string): Promise<void> {
  const dh = await fs.promises.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Gives a complete, already synced temporary file its final name durably: rename, then sync the folder (R-BK-6). */
export async function publishSyncedFile(tmp: string, final: string, dir: string): Promise<void> {
  await fs.promises.rename(tmp, final);
  await syncDir(dir);
}

/** Makes a finished temporary file durable under its final name (R-BK-6). */
export async function commitFile(tmp: string, final: string, dir: string): Promise<void> {
  const fh = await fs.promises.open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await publishSyncedFile(tmp, final, dir);
}

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

/** Compression settings, chosen by measurement (bench/archive-codecs.ts; figures in the README). */
export interface CodecSettings {
  codec: Codec;
  /** gzip level 1-9, or brotli quality 0-11 */
  level: number;
}
export const DEFAULT_CODEC: CodecSettings = { codec: 'gzip', level: 1 };

/**
 * Frames are packed into batches of this size before they reach the compressor: each write to a zlib
 * stream is a trip to the thread pool and back, and a ~200 KB dossier now takes one or two instead of
 * one per frame (bench:backup, README).
 */
export const WRITE_BATCH_BYTES = 256 * 1024;

function compressor(settings: CodecSettings): zlib.Gzip | zlib.BrotliCompress {
  return settings.codec === 'gzip'
    ? zlib.createGzip({ level: settings.level, chunkSize: 64 * 1024 })
    : zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: settings.level } });
}

/**
 * Streams frames into `file` through the compressor with backpressure: memory stays bounded by the
 * batch and chunk sizes whatever the dossier's size. Parts are hashed as they are written for the
 * manifest. One stage after the compressor: its output is encrypted (when a key is given) and written
 * in its 'data' handler, without a stream in between.
 */
export class ArchiveWriter {
  private readonly zip: zlib.Gzip | zlib.BrotliCompress;
  private readonly out: fs.WriteStream;
  private readonly done: Promise<void>;
  private readonly parts: ArchiveManifest['parts'] = [];
  private current?: { kind: PartKind; name: string; hash: crypto.Hash; bytes: number };
  /** frames waiting for the compressor, packed from the start of `batch` up to `pos` */
  private batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  private pos = 0;
  /** where the open data frame's header sits in `batch` (its length is written when it closes), -1: none */
  private frameAt = -1;
  private failed?: Error;
  /** compressed bytes written so far */
  bytesOut = 0;

  /**
   * `file` has been created by the caller (exclusively, so that an unwritable folder fails early).
   * With `key`, the compressed stream is encrypted (envelope.ts) and the key id written in the magic line.
   */
  constructor(readonly file: string, settings: CodecSettings, key?: { id: string; key: Buffer }) {
    const zip = compressor(settings);
    const out = fs.createWriteStream(file, { flags: 'w', highWaterMark: 256 * 1024 });
    this.zip = zip;
    this.out = out;
    let sealer: ChunkSealer | undefined;
    if (key) {
      const { params, fileKey } = newEnvelope(key.id, key.key);
      const magic = Buffer.from(magicLine(settings.codec, params), 'latin1');
      out.write(magic);
      sealer = new ChunkSealer(fileKey, magic);
    } else {
      out.write(magicLine(settings.codec));
    }
    const write = (pieces: Buffer[]) => {
      let room = true;
      for (const p of pieces) room = out.write(p) && room;
      if (!room) zip.pause();
    };
    zip.on('data', (c: Buffer) => {
      this.bytesOut += c.length;
      write(sealer ? sealer.push(c) : [c]);
    });
    out.on('drain', () => zip.resume());
    this.done = new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        reject(err);
        zip.destroy();
        out.destroy();
      };
      zip.on('error', fail);
      out.on('error', fail);
      zip.on('end', () => {
        if (sealer) write(sealer.final());
        out.end();
      });
      out.on('close', () => (out.writableFinished ? resolve() : reject(new Error(`archive ${file} closed before its end`))));
    });
    // surface a write error (disk full, ...) to the next write instead of an unhandled rejection
    this.done.catch((err: Error) => (this.failed = err));
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
    await this.send();
    this.zip.end();
    await this.done;
    return full;
  }

  /** Stops writing after a failure; the caller removes the file. */
  async abort(): Promise<void> {
    this.zip.destroy();
    this.out.destroy();
    await this.done.catch(() => {});
  }
}

/** Archives and batch reports hold client accounting data: owner read/write only unless the operator says otherwise. */
export const ARCHIVE_FILE_MODE = 0o600;

/**
 * Creates `file` exclusively with `mode` before any byte is written (the chmod makes the umask
 * irrelevant); writing into it and renaming it keep the mode.
 */
export async function createPrivateFile(file: string, mode: number): Promise<void> {
  const fh = await fs.promises.open(file, 'wx', mode);
  try {
    await fh.chmod(mode);
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    throw err;
  } finally {
    await fh.close();
  }
}

/** Makes a finished temporary file durable under its final name (R-BK-6). */
export async function commitFile(tmp: string, final: string, dir: string): Promise<void> {
  const fh = await fs.promises.open(tmp, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, final);
  const dh = await fs.promises.open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

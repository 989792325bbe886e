import crypto from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { EncryptStream, newEnvelope } from './envelope';
import {
  type ArchiveHeader,
  type ArchiveManifest,
  type Codec,
  DATA_CHUNK_BYTES,
  FrameKind,
  type PartKind,
  frame,
  jsonFrame,
  magicLine,
} from './format';

/** Compression settings, chosen by measurement (bench/archive-codecs.ts; figures in the README). */
export interface CodecSettings {
  codec: Codec;
  /** gzip level 1-9, or brotli quality 0-11 */
  level: number;
}
export const DEFAULT_CODEC: CodecSettings = { codec: 'gzip', level: 1 };

function compressor(settings: CodecSettings): zlib.Gzip | zlib.BrotliCompress {
  return settings.codec === 'gzip'
    ? zlib.createGzip({ level: settings.level, chunkSize: 64 * 1024 })
    : zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: settings.level } });
}

/**
 * Streams frames into `file` through the compressor with backpressure: memory stays bounded by the
 * chunk size whatever the dossier's size. Parts are hashed as they are written for the manifest.
 */
export class ArchiveWriter {
  private readonly zip: zlib.Gzip | zlib.BrotliCompress;
  private readonly done: Promise<void>;
  private readonly parts: ArchiveManifest['parts'] = [];
  private current?: { kind: PartKind; name: string; hash: crypto.Hash; bytes: number; pending: Buffer[]; pendingBytes: number };
  private failed?: Error;
  /** compressed bytes written so far */
  bytesOut = 0;

  /**
   * `file` has been created by the caller (exclusively, so that an unwritable folder fails early).
   * With `key`, the compressed stream is encrypted (envelope.ts) and the key id written in the magic line.
   */
  constructor(readonly file: string, settings: CodecSettings, key?: { id: string; key: Buffer }) {
    this.zip = compressor(settings);
    const out = fs.createWriteStream(file, { flags: 'w', highWaterMark: 256 * 1024 });
    this.zip.on('data', (c: Buffer) => (this.bytesOut += c.length));
    if (key) {
      const { params, fileKey } = newEnvelope(key.id, key.key);
      const magic = Buffer.from(magicLine(settings.codec, params), 'latin1');
      out.write(magic);
      this.done = pipeline(this.zip, new EncryptStream(fileKey, magic), out);
    } else {
      out.write(magicLine(settings.codec));
      this.done = pipeline(this.zip, out);
    }
    // surface a write error (disk full, ...) to the next write instead of an unhandled rejection
    this.done.catch((err: Error) => (this.failed = err));
  }

  private async push(buf: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.zip.write(buf)) {
      await Promise.race([once(this.zip, 'drain'), this.done]);
      if (this.failed) throw this.failed;
    }
  }

  async header(h: ArchiveHeader): Promise<void> {
    await this.push(jsonFrame(FrameKind.Header, h));
  }

  async startPart(kind: PartKind, name: string): Promise<void> {
    if (this.current) throw new Error('previous part not ended');
    this.current = { kind, name, hash: crypto.createHash('sha256'), bytes: 0, pending: [], pendingBytes: 0 };
    await this.push(jsonFrame(FrameKind.PartStart, { kind, name }));
  }

  /** Small chunks (a COPY row each) are coalesced into data frames of up to DATA_CHUNK_BYTES. */
  async data(chunk: Buffer): Promise<void> {
    const p = this.current!;
    p.hash.update(chunk);
    p.bytes += chunk.length;
    p.pending.push(chunk);
    p.pendingBytes += chunk.length;
    if (p.pendingBytes >= DATA_CHUNK_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    const p = this.current!;
    if (!p.pendingBytes) return;
    const all = Buffer.concat(p.pending, p.pendingBytes);
    p.pending = [];
    p.pendingBytes = 0;
    for (let i = 0; i < all.length; i += DATA_CHUNK_BYTES) {
      await this.push(frame(FrameKind.Data, all.subarray(i, i + DATA_CHUNK_BYTES)));
    }
  }

  async endPart(): Promise<{ bytes: number; sha256: string }> {
    await this.flush();
    const p = this.current!;
    this.current = undefined;
    const end = { bytes: p.bytes, sha256: p.hash.digest('hex') };
    this.parts.push({ kind: p.kind, name: p.name, ...end });
    await this.push(jsonFrame(FrameKind.PartEnd, end));
    return end;
  }

  async finish(manifest: Omit<ArchiveManifest, 'parts' | 'documents'>): Promise<ArchiveManifest> {
    const documents = this.parts.filter((p) => p.kind === 'document').map((p) => ({ path: p.name, bytes: p.bytes }));
    const full: ArchiveManifest = { ...manifest, documents, parts: this.parts };
    await this.push(jsonFrame(FrameKind.Manifest, full));
    await this.push(frame(FrameKind.End, Buffer.alloc(0)));
    this.zip.end();
    await this.done;
    return full;
  }

  /** Stops writing after a failure; the caller removes the file. */
  async abort(): Promise<void> {
    this.zip.destroy();
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

import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { FailureType, permanentFailure } from '../domain/failures';

/**
 * The encryption envelope of an archive (R-BK-12; format.ts describes the whole file): AES-256-GCM over the
 * compressed stream cut into chunks, STREAM-style (Hoang, Reyhanitabar, Rogaway, Vizár 2015, as in
 * age and Tink's streaming AEAD), with Node's own crypto only:
 *
 *   file key, key check = HKDF-SHA256(operator key, salt = 32 random bytes per archive,
 *                                     info = "nightshift-svg 1 aes-256-gcm") → 32 + 32 bytes
 *   chunk i   = AES-256-GCM(file key, nonce = 3 zero bytes ‖ i as uint64 BE ‖ final flag (1 byte),
 *                           AAD = the magic line ‖ i as uint64 BE ‖ final flag,
 *                           64 KiB of plaintext, the last chunk 0-64 KiB) → ciphertext ‖ 16-byte tag
 *
 * A fresh key per archive makes the counter nonces unique; the index and the final flag in nonce and
 * AAD make a reordered, dropped, truncated or extended stream fail authentication; the magic line in
 * the AAD binds the codec, key id, salt and key check to every chunk. The key check (the other half of
 * HKDF's output) tells a wrong key from a damaged file before any chunk is read, and commits the
 * archive to one key (GCM alone does not).
 */

export const CIPHER = 'aes-256-gcm';
export const SALT_BYTES = 32;
export const KEY_CHECK_BYTES = 32;
export const PLAIN_CHUNK_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
/** a whole chunk on disk */
export const RECORD_BYTES = PLAIN_CHUNK_BYTES + TAG_BYTES;
const HKDF_INFO = Buffer.from('nightshift-svg 1 aes-256-gcm');

export interface EnvelopeParams {
  keyId: string;
  salt: Buffer;
  check: Buffer;
}

/** The per-archive file key and key check from the operator's key and the archive's salt. */
export function deriveKeys(key: Buffer, salt: Buffer): { fileKey: Buffer; check: Buffer } {
  const okm = Buffer.from(crypto.hkdfSync('sha256', key, salt, HKDF_INFO, 64));
  return { fileKey: okm.subarray(0, 32), check: okm.subarray(32) };
}

/** Fresh parameters for a new archive written with `key`. */
export function newEnvelope(keyId: string, key: Buffer): { params: EnvelopeParams; fileKey: Buffer } {
  const salt = crypto.randomBytes(SALT_BYTES);
  const { fileKey, check } = deriveKeys(key, salt);
  return { params: { keyId, salt, check }, fileKey };
}

/** The file key if `key` is the one the archive was written with (constant-time check), else undefined. */
export function openEnvelope(params: EnvelopeParams, key: Buffer): Buffer | undefined {
  const { fileKey, check } = deriveKeys(key, params.salt);
  return params.check.length === check.length && crypto.timingSafeEqual(params.check, check) ? fileKey : undefined;
}

function chunkIv(index: number, final: boolean): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeBigUInt64BE(BigInt(index), 3);
  iv[11] = final ? 1 : 0;
  return iv;
}

function chunkAad(magic: Buffer, index: number, final: boolean): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(index), 0);
  tail[8] = final ? 1 : 0;
  return Buffer.concat([magic, tail]);
}

/** Bytes in arrival order, taken in exact sizes without copying more than needed. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length) {
      this.chunks.push(b);
      this.length += b.length;
    }
  }
  take(n: number): Buffer {
    this.length -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; ) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}

/**
 * The sealing side, synchronous: plaintext pieces in, sealed chunks out (as the pieces to write, in
 * order: ciphertext then tag, no copy into one buffer). The archive writer calls it on each piece the
 * compressor hands over, in the same stage: no stream between the compressor and the file.
 */
export class ChunkSealer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;

  constructor(
    private readonly fileKey: Buffer,
    private readonly magic: Buffer,
  ) {}

  private seal(final: boolean): Buffer[] {
    const c = crypto.createCipheriv(CIPHER, this.fileKey, chunkIv(this.index, final), { authTagLength: TAG_BYTES });
    c.setAAD(chunkAad(this.magic, this.index, final));
    const out = this.pending.map((p) => c.update(p));
    c.final();
    out.push(c.getAuthTag());
    this.pending = [];
    this.pendingBytes = 0;
    this.index++;
    return out;
  }

  /** The chunks `plain` completes; a full chunk is sealed as not-final only once more plaintext follows it. */
  push(plain: Buffer): Buffer[] {
    const out: Buffer[] = [];
    while (plain.length) {
      if (this.pendingBytes === PLAIN_CHUNK_BYTES) out.push(...this.seal(false));
      const n = Math.min(plain.length, PLAIN_CHUNK_BYTES - this.pendingBytes);
      this.pending.push(plain.subarray(0, n));
      this.pendingBytes += n;
      plain = plain.subarray(n);
    }
    return out;
  }

  /** The last chunk (0-64 KiB of plaintext, sealed as final). */
  final(): Buffer[] {
    return this.seal(true);
  }
}

function damaged(message: string): Error {
  return permanentFailure(FailureType.ArchiveInvalid, `invalid archive: ${message}`);
}

/** Chunks in, plaintext out; any chunk that does not authenticate, or a missing final chunk, fails. */
export class DecryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private index = 0;

  constructor(
    private readonly fileKey: Buffer,
    private readonly magic: Buffer,
  ) {
    super({ highWaterMark: RECORD_BYTES * 2 });
  }

  private open(record: Buffer, final: boolean): Buffer {
    const d = crypto.createDecipheriv(CIPHER, this.fileKey, chunkIv(this.index, final), { authTagLength: TAG_BYTES });
    d.setAAD(chunkAad(this.magic, this.index, final));
    d.setAuthTag(record.subarray(record.length - TAG_BYTES));
    const plain = d.update(record.subarray(0, record.length - TAG_BYTES));
    try {
      d.final();
    } catch {
      throw damaged(
        final
          ? `encrypted chunk ${this.index} does not authenticate as the last one: the file was cut short, changed or damaged`
          : `encrypted chunk ${this.index} does not authenticate: the file was changed or damaged`,
      );
    }
    this.index++;
    return plain;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.queue.push(chunk);
    try {
      // a whole record is the last one only if nothing follows it
      while (this.queue.length > RECORD_BYTES) this.push(this.open(this.queue.take(RECORD_BYTES), false));
    } catch (err) {
      return done(err as Error);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.queue.length < TAG_BYTES) return done(damaged(`truncated (the encrypted data ends inside chunk ${this.index})`));
    try {
      this.push(this.open(this.queue.take(this.queue.length), true));
    } catch (err) {
      return done(err as Error);
    }
    done();
  }
}

import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import type { z } from 'zod';
import { DecryptStream, type EnvelopeParams, KEY_CHECK_BYTES, SALT_BYTES, openEnvelope } from './envelope';
import { type BackupKeyring, keyFileWords } from './keys';
import { FailureType, failureTypeOf, permanentFailure } from '../domain/failures';
import {
  type ArchiveHeader,
  type ArchiveManifest,
  type Codec,
  CODECS,
  FORMAT_VERSION,
  FRAME_HEADER_BYTES,
  FRAME_NAMES,
  FrameKind,
  MAGIC_MAX_BYTES,
  MAGIC_PREFIX,
  MAX_FRAME_BYTES,
  MAX_JSON_FRAME_BYTES,
  type PartStart,
  type Structure,
  documentPathSchema,
  headerSchema,
  manifestSchema,
  partEndSchema,
  partStartSchema,
  structureSchema,
} from './format';

/**
 * Reads a B{code}.SVG archive once, front to back, checking everything as it goes: magic line,
 * framing, frame order, each part's length and sha256, then the manifest against what was seen
 * (parts, table row counts, documents). The handlers do the work (restore into PostgreSQL, write
 * documents) and are awaited, so reading follows their pace. Any defect is an ArchiveInvalid
 * failure; the caller rolls back whatever its handlers did.
 */

export interface ArchiveHandlers {
  header?(h: ArchiveHeader): Promise<void> | void;
  structure?(s: Structure): Promise<void> | void;
  partStart?(p: PartStart): Promise<void> | void;
  data?(chunk: Buffer, p: PartStart): Promise<void> | void;
  partEnd?(p: PartStart, info: { bytes: number; rows: number }): Promise<void> | void;
  /** called once the manifest has been checked against every part */
  manifest?(m: ArchiveManifest): Promise<void> | void;
}

/** An archive's text in a message: quoted, cut, every control character escaped or replaced (terminals). */
function shown(text: string): string {
  return JSON.stringify(text.slice(0, 100)).replace(/[\u007f-\u009f]/g, '?');
}

export function invalid(message: string): Error {
  return permanentFailure(FailureType.ArchiveInvalid, `invalid archive: ${message}`);
}

function parseJson<T>(schema: z.ZodType<T>, payload: Buffer, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw invalid(`${what} is not JSON`);
  }
  const r = schema.safeParse(value);
  if (!r.success) throw invalid(`${what}: ${r.error.issues.map((i) => (i.path.length ? `${i.path.join('.')} ${i.message}` : i.message)).join('; ').slice(0, 300)}`);
  return r.data;
}

const FILE_KINDS: [(s: fs.Stats) => boolean, string][] = [
  [(s) => s.isDirectory(), 'a directory'],
  [(s) => s.isFIFO(), 'a FIFO'],
  [(s) => s.isCharacterDevice() || s.isBlockDevice(), 'a device'],
  [(s) => s.isSocket(), 'a socket'],
];

/**
 * Opens the archive once, without blocking (O_NONBLOCK: a FIFO would hold a worker thread in open()),
 * and refuses anything but a regular file, also behind a symlink, before reading a byte of it.
 */
async function openArchive(file: string, name: string): Promise<fs.promises.FileHandle> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // a socket cannot be opened at all
    if (code === 'ENXIO') throw invalid(`${name} is not a regular file`);
    // the code first: a reason capped in a run's ledger keeps it
    const why = code === 'ENOENT' ? 'ENOENT (no such file where the worker reads it)' : code === 'EACCES' ? 'EACCES (permission denied to the worker)' : (code ?? String(err));
    throw permanentFailure(FailureType.InvalidInput, `cannot read archive ${name}: ${why}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw invalid(`${name} is not a regular file (${FILE_KINDS.find(([is]) => is(st))?.[1] ?? 'not a file'})`);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

interface Magic {
  codec: Codec;
  length: number;
  /** the magic line itself (an encrypted archive's chunks authenticate it) */
  line: Buffer;
  envelope?: EnvelopeParams;
}

const B64URL = (bytes: number) => `[A-Za-z0-9_-]{${Math.ceil((bytes * 4) / 3)}}`;
const ENVELOPE_FIELDS = new RegExp(`^aes-256-gcm key=([A-Za-z0-9][A-Za-z0-9_.-]{0,39}) salt=(${B64URL(SALT_BYTES)}) check=(${B64URL(KEY_CHECK_BYTES)})$`);

async function readMagic(fh: fs.promises.FileHandle): Promise<Magic> {
  const buf = Buffer.alloc(MAGIC_MAX_BYTES);
  const { bytesRead } = await fh.read(buf, 0, MAGIC_MAX_BYTES, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
  if (nl < 0) throw invalid('not a Nightshift archive (no magic line)');
  const m = /^([A-Z-]+) (\d+) ([a-z]+)(?: (.*))?$/.exec(buf.subarray(0, nl).toString('latin1'));
  if (!m || m[1] !== MAGIC_PREFIX) throw invalid('not a Nightshift archive (unknown magic)');
  if (Number(m[2]) !== FORMAT_VERSION) throw invalid(`format version ${m[2]} is not supported (this Nightshift reads version ${FORMAT_VERSION})`);
  if (!(CODECS as readonly string[]).includes(m[3]!)) throw invalid(`unknown codec ${m[3]}`);
  const magic: Magic = { codec: m[3] as Codec, length: nl + 1, line: Buffer.from(buf.subarray(0, nl + 1)) };
  if (m[4] !== undefined) {
    const e = ENVELOPE_FIELDS.exec(m[4]);
    if (!e) throw invalid('unknown encryption in the magic line (this Nightshift reads aes-256-gcm key=… salt=… check=…)');
    magic.envelope = { keyId: e[1]!, salt: Buffer.from(e[2]!, 'base64url'), check: Buffer.from(e[3]!, 'base64url') };
  }
  return magic;
}

/** The archive's file key from the keyring: a key not given, or not the one the archive was written with, is said plainly. */
function fileKeyFor(name: string, envelope: EnvelopeParams, keys: BackupKeyring | undefined): Buffer {
  const key = keys?.key(envelope.keyId);
  if (!key) {
    const given = keys?.ids.length ? `the keys given are ${keys.ids.join(', ')}` : 'no backup key is given';
    throw permanentFailure(
      FailureType.BackupKeyMissing,
      `${name} is encrypted with backup key ${envelope.keyId}, and ${given}: add that key to ${keyFileWords(keys?.file)} (or NIGHTSHIFT_BACKUP_KEYS)`,
    );
  }
  const fileKey = openEnvelope(envelope, key);
  if (!fileKey) {
    throw permanentFailure(
      FailureType.BackupKeyWrong,
      `${name} was not encrypted with the key given as ${envelope.keyId} (a different key under the same id, or a damaged first line): give the original key ${envelope.keyId}`,
    );
  }
  return fileKey;
}

/**
 * Splits the decompressed stream into frames, never holding more than one frame. A frame's length is
 * checked against its kind's bound as soon as its 5 header bytes are in; the chunks of a frame are
 * collected and joined once, so reading stays linear in the frame's size.
 */
async function* frames(source: AsyncIterable<Buffer>): AsyncGenerator<{ kind: number; payload: Buffer }> {
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (n: number): Buffer => {
    pendingBytes -= n;
    const first = pending[0]!;
    if (first.length >= n) {
      if (first.length === n) pending.shift();
      else pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; ) {
      const c = pending[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) pending.shift();
      else pending[0] = c.subarray(k);
    }
    return out;
  };
  let head: { kind: FrameKind; len: number } | undefined;
  for await (const chunk of source) {
    if (!chunk.length) continue;
    pending.push(chunk);
    pendingBytes += chunk.length;
    for (;;) {
      if (!head) {
        if (pendingBytes < FRAME_HEADER_BYTES) break;
        const h = take(FRAME_HEADER_BYTES);
        const kind = h.readUInt8(0) as FrameKind;
        const len = h.readUInt32BE(1);
        if (!(kind in MAX_FRAME_BYTES)) throw invalid(`unknown frame kind 0x${kind.toString(16)}`);
        if (len > MAX_FRAME_BYTES[kind]) throw invalid(`${FRAME_NAMES[kind]} frame of ${len} bytes exceeds the limit of ${MAX_FRAME_BYTES[kind]}`);
        head = { kind, len };
      }
      if (pendingBytes < head.len) break;
      const payload = head.len ? take(head.len) : Buffer.alloc(0);
      const kind = head.kind;
      head = undefined;
      yield { kind, payload };
    }
  }
  if (head || pendingBytes) throw invalid('truncated (incomplete frame at the end)');
}

function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** Which archive it is and what it needs, from the first line alone (no key needed). */
export interface ArchiveInfo {
  codec: Codec;
  /** the key id of an encrypted archive; undefined for a plain one */
  keyId?: string;
}

/**
 * `keys`: the operator's keys (archive/keys.ts); an encrypted archive whose key is not in them is a
 * BackupKeyMissing failure, a key that is not the archive's a BackupKeyWrong one. Plain archives need none.
 */
export async function readArchive(
  file: string,
  handlers: ArchiveHandlers = {},
  keys?: BackupKeyring,
  /** what the failures call the archive (default: its path): a copy read into a temporary file is named as the copy */
  name = file,
  /** hashFile: the SHA-256 of the whole file as read (the same read: a generation's restore checks it before its commit) */
  options: { hashFile?: boolean } = {},
): Promise<{ header: ArchiveHeader; manifest: ArchiveManifest; info: ArchiveInfo; fileSha256?: string }> {
  const fh = await openArchive(file, name);
  let magic: Magic;
  let fileKey: Buffer | undefined;
  try {
    magic = await readMagic(fh);
    if (magic.envelope) fileKey = fileKeyFor(name, magic.envelope, keys);
  } catch (err) {
    await fh.close();
    throw err;
  }
  const { codec, length } = magic;
  // the same descriptor: the path is not opened a second time (it could be another file by now)
  const input = fh.createReadStream({ start: length, highWaterMark: 256 * 1024 });
  const fileHash = options.hashFile ? crypto.createHash('sha256').update(magic.line) : undefined;
  // beside the pipe below: every byte the archive's streams read, in order, the magic line first
  if (fileHash) input.on('data', (chunk) => void fileHash.update(chunk));
  const unzip = codec === 'gzip' ? zlib.createGunzip() : zlib.createBrotliDecompress();
  let inflateError: Error | undefined;
  unzip.on('error', (err) => (inflateError ??= err));
  // a read error (EIO, ...) is not the archive's fault: it stays a plain, retryable error
  input.on('error', (err) => unzip.destroy(err));
  let decrypt: DecryptStream | undefined;
  if (fileKey) {
    decrypt = new DecryptStream(fileKey, magic.line);
    // an authentication failure is already an ArchiveInvalid failure: it reaches the reader as it is
    decrypt.on('error', (err) => unzip.destroy(err));
    input.pipe(decrypt).pipe(unzip);
  } else input.pipe(unzip);

  let header: ArchiveHeader | undefined;
  let manifest: ArchiveManifest | undefined;
  let ended = false;
  let part: { start: PartStart; hash: crypto.Hash; bytes: number; rows: number; structure: Buffer[] } | undefined;
  const seen: ArchiveManifest['parts'] = [];
  const tableRows = new Map<string, number>();
  const documents: { path: string; bytes: number }[] = [];
  let structure: Structure | undefined;

  try {
    for await (const { kind, payload } of frames(unzip)) {
      if (ended) throw invalid('data after the end marker');
      if (!header) {
        if (kind !== FrameKind.Header) throw invalid('the first frame is not a header');
        header = parseJson(headerSchema, payload, 'header');
        if (header.codec !== codec) throw invalid('the header codec differs from the magic line');
        await handlers.header?.(header);
        continue;
      }
      switch (kind) {
        case FrameKind.PartStart: {
          if (part || manifest) throw invalid('part started out of order');
          const start = parseJson(partStartSchema, payload, 'part start');
          if (!seen.length && start.kind !== 'structure') throw invalid('the structure is not the first part');
          if (seen.length && start.kind === 'structure') throw invalid('a second structure part');
          if (start.kind === 'table' && !structure?.tables.some((t) => t.name === start.name)) throw invalid(`data for table ${start.name} absent from the structure`);
          if (start.kind === 'table' && tableRows.has(start.name)) throw invalid(`table ${start.name} twice`);
          if (start.kind === 'document') {
            const p = documentPathSchema.safeParse(start.name);
            if (!p.success) throw invalid(`document path ${shown(start.name)}: ${p.error.issues[0]?.message}`);
            if (documents.some((d) => d.path === start.name)) throw invalid(`document ${shown(start.name)} twice`);
          }
          part = { start, hash: crypto.createHash('sha256'), bytes: 0, rows: 0, structure: [] };
          if (start.kind !== 'structure') await handlers.partStart?.(start);
          break;
        }
        case FrameKind.Data: {
          if (!part) throw invalid('data outside a part');
          part.hash.update(payload);
          part.bytes += payload.length;
          if (part.start.kind === 'structure') {
            if (part.bytes > MAX_JSON_FRAME_BYTES) throw invalid('structure too large');
            part.structure.push(Buffer.from(payload));
          } else {
            if (part.start.kind === 'table') part.rows += countNewlines(payload);
            await handlers.data?.(payload, part.start);
          }
          break;
        }
        case FrameKind.PartEnd: {
          if (!part) throw invalid('part end outside a part');
          const end = parseJson(partEndSchema, payload, 'part end');
          const sha256 = part.hash.digest('hex');
          if (end.bytes !== part.bytes || end.sha256 !== sha256) throw invalid(`checksum mismatch in ${part.start.kind} ${shown(part.start.name)}`);
          seen.push({ kind: part.start.kind, name: part.start.name, bytes: part.bytes, sha256 });
          if (part.start.kind === 'structure') {
            structure = parseJson(structureSchema, Buffer.concat(part.structure), 'structure');
            await handlers.structure?.(structure);
          } else {
            if (part.start.kind === 'table') tableRows.set(part.start.name, part.rows);
            if (part.start.kind === 'document') documents.push({ path: part.start.name, bytes: part.bytes });
            await handlers.partEnd?.(part.start, { bytes: part.bytes, rows: part.rows });
          }
          part = undefined;
          break;
        }
        case FrameKind.Manifest: {
          if (part || manifest) throw invalid('manifest out of order');
          manifest = parseJson(manifestSchema, payload, 'manifest');
          checkManifest(manifest, header, seen, tableRows, documents, structure);
          await handlers.manifest?.(manifest);
          break;
        }
        case FrameKind.End:
          if (!manifest || payload.length) throw invalid('end marker out of order');
          ended = true;
          break;
        default:
          throw invalid('unexpected frame');
      }
    }
  } catch (err) {
    input.destroy();
    decrypt?.destroy();
    unzip.destroy();
    // the decompressor's own checks (corrupt deflate data, CRC, unexpected end) mean a damaged file
    if (err === inflateError && !(err as NodeJS.ErrnoException).syscall && failureTypeOf(err) === undefined) throw invalid(`damaged compressed data (${(err as Error).message})`);
    throw err;
  }
  if (!header) throw invalid('empty archive');
  if (!ended || !manifest) throw invalid('truncated (no manifest or end marker)');
  return { header, manifest, info: { codec, keyId: magic.envelope?.keyId }, ...(fileHash && { fileSha256: fileHash.digest('hex') }) };
}

function checkManifest(
  m: ArchiveManifest,
  h: ArchiveHeader,
  seen: ArchiveManifest['parts'],
  tableRows: Map<string, number>,
  documents: { path: string; bytes: number }[],
  structure: Structure | undefined,
): void {
  if (m.code !== h.code || m.snapshotAt !== h.snapshotAt || m.patchLevel !== h.patchLevel) throw invalid('manifest and header disagree');
  if (m.parts.length !== seen.length) throw invalid(`manifest lists ${m.parts.length} parts, the archive holds ${seen.length}`);
  m.parts.forEach((p, i) => {
    const s = seen[i]!;
    if (p.kind !== s.kind || p.name !== s.name || p.bytes !== s.bytes || p.sha256 !== s.sha256) {
      throw invalid(`manifest part ${i} (${p.kind} ${shown(p.name)}) does not match the archive`);
    }
  });
  const structTables = (structure?.tables ?? []).map((t) => t.name).sort();
  const manifestTables = m.tables.map((t) => t.name).sort();
  if (JSON.stringify(structTables) !== JSON.stringify(manifestTables) || tableRows.size !== m.tables.length) {
    throw invalid('the manifest tables differ from the structure or the data parts');
  }
  for (const t of m.tables) {
    if (tableRows.get(t.name) !== t.rows) throw invalid(`table ${t.name}: manifest says ${t.rows} rows, the archive holds ${tableRows.get(t.name)}`);
  }
  if (JSON.stringify(m.documents) !== JSON.stringify(documents)) throw invalid('the manifest documents differ from the document parts');
}

/** The header alone (the CLI names the restore workflow after the archive's code): reads the first frame only. */
export async function readArchiveHeader(file: string, keys?: BackupKeyring): Promise<ArchiveHeader> {
  const stop = new Error('header read');
  let header: ArchiveHeader | undefined;
  try {
    await readArchive(file, {
      header(h) {
        header = h;
        throw stop;
      },
    }, keys);
  } catch (err) {
    if (err !== stop) throw err;
  }
  return header!;
}

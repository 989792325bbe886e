import crypto from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import {
  MANIFEST_FILE,
  MAX_PATCH_FILE_BYTES,
  checksumListing,
  numberingProblem,
  patchManifestSchema,
  referencedFiles,
  type PatchManifest,
} from '../domain/patch';
import { ApplicationFailure } from '@temporalio/common';
import { PatchFailure, type PatchFailureType } from '../workflows/patch-integration.api';

/**
 * Patch packages on disk: a directory per patch with `patch.json` and the files it names.
 * Reading verifies everything (R-PI-1 stray entries, manifest, numbering, checksum) before any
 * dossier is touched; the result is what the ledger stores and the engine applies.
 */

export interface PatchPackage {
  manifest: PatchManifest;
  /** package-relative path -> UTF-8 content, every file the manifest names */
  files: Record<string, string>;
  /** the package folder's name inside the patch directory */
  folder: string;
}

const sha256 = (data: string | Buffer) => crypto.createHash('sha256').update(data).digest('hex');

/** The package checksum from the manifest (its checksum field ignored) and the files' contents. */
export function packageChecksum(manifest: Omit<PatchManifest, 'checksum'> & { checksum?: string }, files: Record<string, string | Buffer>): string {
  const { checksum: _ignored, ...rest } = manifest;
  const digests = Object.fromEntries(Object.entries(files).map(([p, c]) => [p, sha256(c)]));
  return sha256(checksumListing(rest, sha256, digests));
}

/** A permanent patch problem: non-retryable, with a named type the tests and the CLI read. */
export function patchFailure(type: PatchFailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details === undefined ? undefined : [details] });
}

const invalid = (message: string) => patchFailure(PatchFailure.PackageInvalid, message);

class NotRegularFile extends Error {}

/**
 * A package's file, read only if it is a regular file itself: no symlink (O_NOFOLLOW, so a link to a
 * secret is never read, let alone quoted), no FIFO or device (O_NONBLOCK, then fstat), and bounded.
 */
async function readRegularFile(file: string, maxBytes: number): Promise<Buffer> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new NotRegularFile('a symbolic link');
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFile('not a regular file');
    if (st.size > maxBytes) throw new NotRegularFile(`larger than ${maxBytes} bytes`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** A manifest's problems, by field; a key the manifest should not have is counted, never quoted (it is the file's content). */
function manifestProblems(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.join('.') || 'manifest'}: ${i.code === 'unrecognized_keys' ? `${i.keys.length} unknown field(s)` : i.message}`)
    .join('; ');
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A package file's text: UTF-8, a leading byte-order mark dropped (as Flyway does: PostgreSQL reads it as part of the
 * first word). Other bytes are refused, naming the line and the byte (drill M: a file saved as Windows-1252 had every
 * « é » stored as U+FFFD in every dossier, without a word).
 */
export function packageText(buf: Buffer, where: string): string {
  try {
    return STRICT_UTF8.decode(buf);
  } catch {
    const loose = buf.toString('utf8');
    let from = 0;
    for (;;) {
      const i = loose.indexOf('\uFFFD', from);
      // cannot happen (the strict decoder refused something), said plainly rather than looped on
      if (i < 0) throw invalid(`${where}: not UTF-8 text, refused: save it as UTF-8`);
      const byte = Buffer.byteLength(loose.slice(0, i));
      // a U+FFFD written in the file (EF BF BD) is text; the first one that is not marks the bad bytes
      if (buf[byte] === 0xef && buf[byte + 1] === 0xbf && buf[byte + 2] === 0xbd) {
        from = i + 1;
        continue;
      }
      const line = loose.slice(0, i).split('\n').length;
      throw invalid(
        `${where}: not UTF-8 (byte 0x${buf[byte]!.toString(16).padStart(2, '0')} at line ${line}, byte ${byte + 1}), refused: save it as UTF-8 ` +
          '(a file in Windows-1252 or Latin-1 would have each accented letter stored wrong in every dossier)',
      );
    }
  }
}

/** The manifest's JSON, or a message that says where it is wrong without quoting it (Node's message does). */
function parseManifestJson(raw: Buffer, where: string): unknown {
  try {
    return JSON.parse(packageText(raw, where));
  } catch (err) {
    if (err instanceof ApplicationFailure) throw err;
    throw invalid(`${where}: not JSON`);
  }
}

async function readManifestFile(root: string, where: string): Promise<Buffer> {
  try {
    return await readRegularFile(path.join(root, MANIFEST_FILE), MAX_PATCH_FILE_BYTES);
  } catch (err) {
    if (err instanceof NotRegularFile) throw invalid(`${where}: ${err.message}, refused (a package holds regular files only)`);
    throw invalid(`${where}: missing or unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Every file under `dir`, as package-relative posix paths (an empty folder holds nothing to refuse). */
async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listTree(path.join(dir, e.name), rel)));
    else out.push(e.isFile() ? rel : `${rel} (not a regular file)`);
  }
  return out;
}

/** Reads and verifies one package folder; every problem names the folder (and the patch number once known). */
export async function readPatchPackage(dir: string, folder: string): Promise<PatchPackage> {
  const root = path.join(dir, folder);
  const where = `${folder}/${MANIFEST_FILE}`;
  const json = parseManifestJson(await readManifestFile(root, where), where);
  const parsed = patchManifestSchema.safeParse(json);
  if (!parsed.success) throw invalid(`${where}: ${manifestProblems(parsed.error)}`);
  const manifest = parsed.data;
  const name = `patch ${manifest.number} (${folder})`;
  const wanted = referencedFiles(manifest);
  const present = (await listTree(root)).filter((p) => p !== MANIFEST_FILE);
  const stray = present.filter((p) => !wanted.includes(p));
  if (stray.length) throw invalid(`${name}: files not named by the manifest: ${stray.join(', ')}`);
  const files: Record<string, string> = {};
  const raws: Record<string, Buffer> = {};
  for (const p of wanted) {
    let buf: Buffer;
    try {
      buf = await readRegularFile(path.join(root, p), MAX_PATCH_FILE_BYTES);
    } catch (err) {
      if (err instanceof NotRegularFile) throw invalid(`${name}: ${p} is ${err.message}, refused`);
      throw invalid(`${name}: missing file ${p}`);
    }
    raws[p] = buf;
    files[p] = packageText(buf, `${name}: ${p}`);
  }
  const actual = packageChecksum(manifest, raws);
  if (actual === manifest.checksum) return { manifest, files, folder };
  // only its line endings changed (a copy through Windows, git's autocrlf): the package as it was sealed, whose
  // checksum it carries, is read (Flyway's checksum ignores line endings too); any other change is a mismatch
  for (const eol of ['\n', '\r\n'] as const) {
    const sealed = Object.fromEntries(Object.entries(raws).map(([p, b]) => [p, withLineEndings(b, eol)]));
    if (packageChecksum(manifest, sealed) !== manifest.checksum) continue;
    return { manifest, files: Object.fromEntries(Object.entries(sealed).map(([p, b]) => [p, packageText(b, `${name}: ${p}`)])), folder };
  }
  throw patchFailure(PatchFailure.ChecksumMismatch, `${name}: checksum mismatch (manifest ${manifest.checksum}, content ${actual}): the package was changed or damaged`);
}

/** A file's bytes with every line ending made `eol` (CRLF and LF alike; a lone CR is left as it is). */
function withLineEndings(b: Buffer, eol: '\n' | '\r\n'): Buffer {
  const lf = b.toString('latin1').replace(/\r\n/g, '\n');
  return Buffer.from(eol === '\n' ? lf : lf.replace(/\n/g, '\r\n'), 'latin1');
}

/**
 * R-PI-1: the directory holds nothing but patch packages (folders with a patch.json); anything else
 * is refused with the list. Then every package is verified and the numbering checked (R-PI-8).
 */
export async function readPatchDirectory(dir: string): Promise<PatchPackage[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    // said plainly (drill M: a mistyped folder was said to be outside the shared store, or quoted as `scandir`)
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw invalid(`no patch directory ${dir} on host ${os.hostname()} (mistyped, or not on the shared store this host sees)`);
    throw invalid(`cannot read the patch directory ${dir} on host ${os.hostname()}: ${code ?? (err as Error).message}`);
  }
  const stray: string[] = [];
  const folders: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!e.isDirectory()) stray.push(e.name);
    else if (!(await fs.stat(path.join(dir, e.name, MANIFEST_FILE)).catch(() => undefined))?.isFile()) stray.push(`${e.name}/`);
    else folders.push(e.name);
  }
  if (stray.length) {
    throw patchFailure(PatchFailure.StrayFiles, `the patch directory ${dir} holds entries that are not patch packages: ${stray.join(', ')}`, { stray });
  }
  if (!folders.length) throw invalid(`the patch directory ${dir} holds no patch package`);
  const packages: PatchPackage[] = [];
  for (const f of folders) packages.push(await readPatchPackage(dir, f));
  const problem = numberingProblem(packages.map((p) => p.manifest.number));
  if (problem) throw patchFailure(PatchFailure.Numbering, `${dir}: ${problem}`);
  return packages.sort((a, b) => a.manifest.number - b.manifest.number);
}

/** Writes a package folder (manifest with its computed checksum + files); used by `patch new` and the demo generator. */
export async function writePatchPackage(
  dir: string,
  folder: string,
  manifest: Omit<PatchManifest, 'checksum'>,
  files: Record<string, string>,
): Promise<PatchManifest> {
  const root = path.join(dir, folder);
  const sealed = { ...manifest, checksum: packageChecksum(manifest, files) } as PatchManifest;
  // the reader's own schema (number bounds included): a package that integrate would refuse is never written
  const valid = patchManifestSchema.safeParse(sealed);
  if (!valid.success) throw invalid(`${folder}/${MANIFEST_FILE}: ${manifestProblems(valid.error)}`);
  await fs.mkdir(root, { recursive: true });
  for (const [p, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await fs.writeFile(path.join(root, p), content);
  }
  await fs.writeFile(path.join(root, MANIFEST_FILE), `${JSON.stringify(sealed, null, 2)}\n`);
  return sealed;
}

/** Recomputes and writes the checksum of an edited package (`patch seal`). */
export async function sealPatchPackage(root: string): Promise<PatchManifest> {
  const where = `${root}/${MANIFEST_FILE}`;
  const raw = parseManifestJson(await readManifestFile(root, where), where);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`${where}: not a JSON object`);
  const parsed = patchManifestSchema.safeParse({ ...raw, checksum: '0'.repeat(64) });
  if (!parsed.success) throw invalid(`${where}: ${manifestProblems(parsed.error)}`);
  const files: Record<string, string> = {};
  for (const p of referencedFiles(parsed.data)) {
    let buf: Buffer;
    try {
      buf = await readRegularFile(path.join(root, p), MAX_PATCH_FILE_BYTES);
    } catch (err) {
      throw invalid(`${where}: ${p} ${err instanceof NotRegularFile ? `is ${err.message}` : 'is missing'}, refused`);
    }
    files[p] = packageText(buf, `${root}/${p}`);
  }
  const { checksum: _c, ...rest } = parsed.data;
  return writePatchPackage(path.dirname(root), path.basename(root), rest, files);
}

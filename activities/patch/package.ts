import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  MANIFEST_FILE,
  MAX_PATCH_FILE_BYTES,
  checksumListing,
  numberingProblem,
  patchManifestSchema,
  referencedFiles,
  type PatchManifest,
} from '../../domain/patch';
import { ApplicationFailure } from '@temporalio/common';
import { PatchFailure, type PatchFailureType } from '../../workflows/patch-integration.api';

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
  let raw: string;
  try {
    raw = await fs.readFile(path.join(root, MANIFEST_FILE), 'utf8');
  } catch {
    throw invalid(`${folder}: no ${MANIFEST_FILE}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw invalid(`${folder}/${MANIFEST_FILE}: not JSON (${(err as Error).message})`);
  }
  const parsed = patchManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw invalid(`${folder}/${MANIFEST_FILE}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`).join('; ')}`);
  }
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
      const stat = await fs.stat(path.join(root, p));
      if (stat.size > MAX_PATCH_FILE_BYTES) throw invalid(`${name}: ${p} is larger than ${MAX_PATCH_FILE_BYTES} bytes`);
      buf = await fs.readFile(path.join(root, p));
    } catch (err) {
      if ((err as { type?: string }).type) throw err;
      throw invalid(`${name}: missing file ${p}`);
    }
    raws[p] = buf;
    files[p] = buf.toString('utf8');
  }
  const actual = packageChecksum(manifest, raws);
  if (actual !== manifest.checksum) {
    throw patchFailure(PatchFailure.ChecksumMismatch, `${name}: checksum mismatch (manifest ${manifest.checksum}, content ${actual}): the package was changed or damaged`);
  }
  return { manifest, files, folder };
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
    throw invalid(`cannot read the patch directory ${dir}: ${(err as Error).message}`);
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
  await fs.mkdir(root, { recursive: true });
  for (const [p, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(root, p)), { recursive: true });
    await fs.writeFile(path.join(root, p), content);
  }
  const sealed = { ...manifest, checksum: packageChecksum(manifest, files) } as PatchManifest;
  await fs.writeFile(path.join(root, MANIFEST_FILE), `${JSON.stringify(sealed, null, 2)}\n`);
  return sealed;
}

/** Recomputes and writes the checksum of an edited package (`patch seal`). */
export async function sealPatchPackage(root: string): Promise<PatchManifest> {
  const raw = JSON.parse(await fs.readFile(path.join(root, MANIFEST_FILE), 'utf8')) as Record<string, unknown>;
  const parsed = patchManifestSchema.safeParse({ ...raw, checksum: '0'.repeat(64) });
  if (!parsed.success) {
    throw invalid(`${root}/${MANIFEST_FILE}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`).join('; ')}`);
  }
  const files: Record<string, string> = {};
  for (const p of referencedFiles(parsed.data)) files[p] = await fs.readFile(path.join(root, p), 'utf8');
  const { checksum: _c, ...rest } = parsed.data;
  return writePatchPackage(path.dirname(root), path.basename(root), rest, files);
}

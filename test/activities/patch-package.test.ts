import fs from 'node:fs';
import path from 'node:path';
import { failureTypeOf } from '../../domain/failures';
import { demoPatchType, generateDemoPatches, writePatchTemplate } from '../../patches/demo';
import { packageChecksum, readPatchDirectory, sealPatchPackage, writePatchPackage } from '../../patches/package';
import { isSpecificTreatment, PATCH_TYPES } from '../../domain/patch';
import { PatchFailure } from '../../workflows/patch-integration.api';
import { tempDir } from '../helpers/env';

/** Patch packages on disk: checksum, R-PI-1 stray entries, manifests, numbering. */

async function refusal(p: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return { type: failureTypeOf(err), message: (err as Error).message };
}

test('demo patches verify and cover every routing case', async () => {
  const dir = tempDir('patches');
  const written = await generateDemoPatches(dir, 4);
  const read = await readPatchDirectory(dir);
  expect(read.map((p) => p.manifest.number)).toEqual([1, 2, 3, 4]);
  expect(read.map((p) => p.manifest.checksum)).toEqual(written.map((m) => m.checksum));
  expect(new Set(read.map((p) => p.manifest.type))).toEqual(new Set(PATCH_TYPES));
  expect([1, 2, 3, 4].map(demoPatchType)).toEqual(['standard', 'specific', 'vertical', 'supervisor']);
  const names = read.flatMap((p) => p.manifest.treatments.map((t) => t.name));
  expect(names.some(isSpecificTreatment)).toBe(true);
  expect(names.some((n) => !isSpecificTreatment(n))).toBe(true);
  expect(read.every((p) => p.manifest.protectedDictionaryFields.length > 0)).toBe(true);
  // the checksum covers the manifest and every file
  const p1 = read[0]!;
  expect(packageChecksum(p1.manifest, p1.files)).toBe(p1.manifest.checksum);
  expect(packageChecksum({ ...p1.manifest, description: 'other' }, p1.files)).not.toBe(p1.manifest.checksum);
});

test('R-PI-1 a directory holding anything but patch packages is refused with the list of stray entries', async () => {
  const dir = tempDir('patches');
  await generateDemoPatches(dir, 2);
  fs.writeFileSync(path.join(dir, 'README.txt'), 'hello');
  fs.mkdirSync(path.join(dir, 'old'));
  const r = await refusal(readPatchDirectory(dir));
  expect(r.type).toBe(PatchFailure.StrayFiles);
  expect(r.message).toMatch(/not patch packages: README\.txt, old\//);
  // a file inside a package that its manifest does not name is stray too
  fs.rmSync(path.join(dir, 'README.txt'));
  fs.rmSync(path.join(dir, 'old'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'P0001', 'notes.txt'), 'x');
  const inner = await refusal(readPatchDirectory(dir));
  expect(inner.type).toBe(PatchFailure.PackageInvalid);
  expect(inner.message).toMatch(/patch 1 \(P0001\): files not named by the manifest: notes\.txt/);
});

test('a changed file fails the checksum, naming the patch; seal makes it valid again', async () => {
  const dir = tempDir('patches');
  await generateDemoPatches(dir, 2);
  const dataFile = path.join(dir, 'P0002', 'data', '0002.sql');
  fs.appendFileSync(dataFile, '-- edited\n');
  const r = await refusal(readPatchDirectory(dir));
  expect(r.type).toBe(PatchFailure.ChecksumMismatch);
  expect(r.message).toMatch(/^patch 2 \(P0002\): checksum mismatch/);
  await sealPatchPackage(path.join(dir, 'P0002'));
  expect((await readPatchDirectory(dir)).map((p) => p.manifest.number)).toEqual([1, 2]);
});

test('R-PI-8 a package whose files only changed line endings (a copy through Windows, git autocrlf) reads as the package sealed, both ways; any other change is still a mismatch', async () => {
  const dir = tempDir('patches');
  await generateDemoPatches(dir, 2);
  const sealed = await readPatchDirectory(dir);
  const dataFile = path.join(dir, 'P0002', 'data', '0002.sql');
  const lf = fs.readFileSync(dataFile, 'utf8');
  expect(lf).toContain('\n');
  expect(lf).not.toContain('\r');
  // LF sealed, CRLF on disk: read, with the sealed (LF) text, the checksum the ledger holds
  fs.writeFileSync(dataFile, lf.replace(/\n/g, '\r\n'));
  const crlf = await readPatchDirectory(dir);
  expect(crlf.map((p) => p.manifest.checksum)).toEqual(sealed.map((p) => p.manifest.checksum));
  expect(crlf[1]!.files['data/0002.sql']).toBe(lf);
  // and a real change beside the line endings is refused as before
  fs.appendFileSync(dataFile, '-- edited\r\n');
  expect((await refusal(readPatchDirectory(dir))).type).toBe(PatchFailure.ChecksumMismatch);
  // every file CRLF when sealed (on Windows), LF on disk (a Linux checkout): read with the sealed CRLF text
  const names = Object.keys(sealed[1]!.files);
  expect(names.length).toBeGreaterThan(1);
  const eol = (to: '\n' | '\r\n') => {
    for (const n of names) fs.writeFileSync(path.join(dir, 'P0002', n), sealed[1]!.files[n]!.replace(/\n/g, to));
  };
  eol('\r\n');
  await sealPatchPackage(path.join(dir, 'P0002'));
  const crlfSealed = (await readPatchDirectory(dir))[1]!;
  expect(crlfSealed.manifest.checksum).not.toBe(sealed[1]!.manifest.checksum);
  eol('\n');
  const back = (await readPatchDirectory(dir))[1]!;
  expect(back.manifest.checksum).toBe(crlfSealed.manifest.checksum);
  expect(back.files['data/0002.sql']).toBe(lf.replace(/\n/g, '\r\n'));
});

test('a malformed manifest, a missing file, a gap and a duplicate are refused clearly', async () => {
  const dir = tempDir('patches');
  await generateDemoPatches(dir, 3);
  const manifest = path.join(dir, 'P0002', 'patch.json');
  const original = fs.readFileSync(manifest, 'utf8');
  fs.writeFileSync(manifest, original.replace('"type": "specific"', '"type": "other"'));
  let r = await refusal(readPatchDirectory(dir));
  expect(r.type).toBe(PatchFailure.PackageInvalid);
  expect(r.message).toMatch(/P0002\/patch\.json: type: type must be one of standard, specific, vertical, supervisor/);
  fs.writeFileSync(manifest, '{ not json');
  expect((await refusal(readPatchDirectory(dir))).message).toMatch(/P0002\/patch\.json: not JSON/);
  fs.writeFileSync(manifest, original);

  fs.rmSync(path.join(dir, 'P0002', 'data', '0002.sql'));
  r = await refusal(readPatchDirectory(dir));
  expect(r.message).toMatch(/patch 2 \(P0002\): missing file data\/0002\.sql/);
  fs.rmSync(path.join(dir, 'P0002'), { recursive: true });

  r = await refusal(readPatchDirectory(dir));
  expect(r.type).toBe(PatchFailure.Numbering);
  expect(r.message).toMatch(/missing 2/);

  await generateDemoPatches(path.join(dir, 'dup'), 1, 3);
  fs.renameSync(path.join(dir, 'dup', 'P0003'), path.join(dir, 'P0003bis'));
  fs.rmSync(path.join(dir, 'dup'), { recursive: true });
  fs.rmSync(path.join(dir, 'P0001'), { recursive: true });
  r = await refusal(readPatchDirectory(dir));
  expect(r.message).toMatch(/patch number 3 appears twice/);
});

test('patch new writes a template that verifies', async () => {
  const dir = tempDir('patches');
  const { folder, manifest } = await writePatchTemplate(dir, 7, 'vertical', 'a vertical change');
  expect(folder).toBe('P0007');
  const [p] = await readPatchDirectory(dir);
  expect(p!.manifest).toEqual(manifest);
  expect(p!.manifest.type).toBe('vertical');
  await expect(writePatchTemplate(dir, 7, 'standard')).rejects.toThrow(/already exists/);
});

// drill M: a file saved as Windows-1252 was decoded with U+FFFD for each « é » and written so into every dossier
test('a package file that is not UTF-8 is refused by name, line and byte; a UTF-8 byte-order mark is dropped', async () => {
  const dir = tempDir('patches');
  await generateDemoPatches(dir, 1);
  const dataFile = path.join(dir, 'P0001', 'data', '0001.sql');
  const before = fs.readFileSync(dataFile);
  // a real U+FFFD written in the file is text, not the bad byte
  fs.writeFileSync(dataFile, Buffer.concat([before, Buffer.from("-- \uFFFD ok\n-- caf"), Buffer.from([0xe9]), Buffer.from("'\n")]));
  await sealPatchPackage(path.join(dir, 'P0001')).then(
    () => {
      throw new Error('sealed');
    },
    (err: Error) => {
      expect(failureTypeOf(err)).toBe(PatchFailure.PackageInvalid);
      expect(err.message).toMatch(/P0001\/data\/0001\.sql: not UTF-8 \(byte 0xe9 at line \d+, byte \d+\), refused: save it as UTF-8/);
    },
  );
  // the file is left as it was (seal rewrites the package's files: it wrote U+FFFD into it before)
  expect(fs.readFileSync(dataFile).includes(Buffer.from([0xe9]))).toBe(true);
  const lines = before.toString('utf8').split('\n').length + 1;
  const r = await refusal(readPatchDirectory(dir));
  expect(r.type).toBe(PatchFailure.PackageInvalid);
  expect(r.message).toContain(`patch 1 (P0001): data/0001.sql: not UTF-8 (byte 0xe9 at line ${lines}, byte ${before.length + Buffer.byteLength('-- \uFFFD ok\n-- caf') + 1})`);

  // a byte-order mark (Windows editors write one): dropped from the text, as Flyway does; the checksum is over the bytes
  fs.writeFileSync(dataFile, before);
  const [sound] = await readPatchDirectory(dir);
  const { checksum: _c, ...manifest } = sound!.manifest;
  await writePatchPackage(dir, 'P0001', manifest, { ...sound!.files, 'data/0001.sql': `\uFEFF${before.toString('utf8')}` });
  expect(fs.readFileSync(dataFile).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  const [p] = await readPatchDirectory(dir);
  expect(p!.files['data/0001.sql']).toBe(before.toString('utf8'));
});

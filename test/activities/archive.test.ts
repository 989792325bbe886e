import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { createBackupActivities } from '../../activities/backup';
import { documentsFolder } from '../../registry/documents';
import { generateDemoDossiers } from '../../registry/demo';
import { backupDossierArchive, verifyArchive, restoreDossierArchive } from '../../archive/engine';
import { deleteDossier, dossierTableStats } from '../../registry/dossiers';
import { ArchiveWriter } from '../../archive/writer';
import { FORMAT_VERSION } from '../../archive/format';
import { failureTypeOf, FailureType } from '../../domain/failures';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/** A damaged, truncated or foreign archive is refused with ArchiveInvalid and nothing changes (R-BK-5). */

let stack: TestStack;
let good: string;
let code: string;
let docsDir: string;

beforeAll(async () => {
  stack = await createTestStack();
  [code] = (await generateDemoDossiers(stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 40, prefix: 'ARC', documentsDir: stack.config.documentsDir })) as [string];
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  good = (await backup.backupDossier({ target: 'main', code, reason: 'manual', includeDocuments: true })).file;
  docsDir = documentsFolder(stack.config.documentsDir, 'main', code);
});
afterAll(async () => {
  await stack.close();
});

/** Registry, schemas and documents: what a refused restore must leave untouched. */
async function state(): Promise<unknown> {
  const pool = stack.pools.get('main');
  const dossiers = await pool.query('SELECT code, label, schema_name, change_seq, patch_level FROM nightshift.dossier ORDER BY code');
  const schemas = await pool.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'd\\_%' ORDER BY 1`);
  const docs = fs.readdirSync(path.join(stack.config.documentsDir, 'main'), { recursive: true }).sort();
  return { dossiers: dossiers.rows, schemas: schemas.rows, docs };
}

async function expectInvalid(file: string, opts: { as?: string; replace?: boolean } = {}): Promise<void> {
  const before = await state();
  const verify = await verifyArchive(file).then(() => undefined, (e: unknown) => e);
  expect(failureTypeOf(verify)).toBe(FailureType.ArchiveInvalid);
  const restore = await restoreDossierArchive({
    pool: stack.pools.get('main'),
    target: 'main',
    file,
    as: opts.as ?? 'RESTORED',
    replace: opts.replace ?? false,
    documentsDir: stack.config.documentsDir,
  }).then(() => undefined, (e: unknown) => e);
  expect(failureTypeOf(restore)).toBe(FailureType.ArchiveInvalid);
  expect((restore as { nonRetryable?: boolean }).nonRetryable).toBe(true);
  expect(await state()).toEqual(before);
}

function variant(name: string, content: Buffer | string): string {
  const file = path.join(tempDir('bad'), name);
  fs.writeFileSync(file, content);
  return file;
}

test('the good archive verifies and lists its manifest', async () => {
  const m = await verifyArchive(good);
  expect(m.code).toBe(code);
  expect(m.tables.map((t) => t.name).sort()).toEqual(['compte', 'ecriture', 'journal', 'ligne', 'parametre']);
  expect(m.documents).toBeGreaterThan(0);
});

test.each([0.3, 0.5, 0.8, 0.97])('a flipped byte at %f of the file is refused, nothing changed, even with replace', async (at) => {
  const bytes = fs.readFileSync(good);
  const i = Math.floor(bytes.length * at);
  bytes[i] = bytes[i]! ^ 0x5a;
  await expectInvalid(variant('flipped.SVG', bytes), { as: code, replace: true });
  // the original dossier and its documents are still there
  expect(fs.existsSync(docsDir)).toBe(true);
});

test.each([0.2, 0.6, 0.99])('a file truncated at %f is refused', async (at) => {
  const bytes = fs.readFileSync(good);
  await expectInvalid(variant('truncated.SVG', bytes.subarray(0, Math.floor(bytes.length * at))));
});

test('foreign files are refused: random bytes, text, empty, another magic, a future version', async () => {
  await expectInvalid(variant('random.SVG', crypto.randomBytes(5000)));
  await expectInvalid(variant('text.SVG', 'Dossier DEMO0001 : Traitement réussi\n'.repeat(50)));
  await expectInvalid(variant('empty.SVG', ''));
  await expectInvalid(variant('gzip.SVG', zlib.gzipSync('just some gzip data')));
  const rest = fs.readFileSync(good).subarray(fs.readFileSync(good).indexOf(0x0a) + 1);
  await expectInvalid(variant('magic.SVG', Buffer.concat([Buffer.from('OTHER-SVG 1 gzip\n'), rest])));
  await expectInvalid(variant('v2.SVG', Buffer.concat([Buffer.from('NIGHTSHIFT-SVG 2 gzip\n'), rest])));
  // a body under the other codec's name (the good archive is brotli, the default)
  await expectInvalid(variant('codec.SVG', Buffer.concat([Buffer.from('NIGHTSHIFT-SVG 1 gzip\n'), rest])));
});

test('a well-formed archive whose document path leaves the folder is refused (no "..", no absolute path)', async () => {
  for (const hostile of ['../evil.txt', '/etc/evil', 'a/../../evil', 'a\\..\\evil', 'nul\0byte']) {
    const dir = tempDir('hostile');
    const file = path.join(dir, 'BHOSTILE.SVG');
    fs.writeFileSync(file, '');
    const w = new ArchiveWriter(file, { codec: 'gzip', level: 1 });
    const now = new Date().toISOString();
    await w.header({
      formatVersion: FORMAT_VERSION, code: 'HOSTILE', label: 'x', role: 'regular', copyStatus: 'original',
      flags: { test: false, specific: false, template: false, transferable: true }, patchLevel: 0, createdAt: now, snapshotAt: now,
      codec: 'gzip', documentsIncluded: true,
    });
    await w.startPart('structure', 'structure');
    await w.data(Buffer.from(JSON.stringify({ sequences: [], tables: [], constraints: [], indexes: [] })));
    await w.endPart();
    await w.startPart('document', hostile);
    await w.data(Buffer.from('pwned'));
    await w.endPart();
    await w.finish({ formatVersion: FORMAT_VERSION, code: 'HOSTILE', patchLevel: 0, createdAt: now, snapshotAt: now, tables: [], documentsIncluded: true });
    await expectInvalid(file, { as: 'HOSTILE' });
    expect(fs.existsSync(path.join(stack.config.documentsDir, 'evil.txt'))).toBe(false);
    expect(fs.existsSync(path.join(stack.config.documentsDir, 'main', 'evil.txt'))).toBe(false);
  }
});

test('a manifest that does not match its parts is refused', async () => {
  const file = path.join(tempDir('liar'), 'BLIAR.SVG');
  fs.writeFileSync(file, '');
  const w = new ArchiveWriter(file, { codec: 'gzip', level: 1 });
  const now = new Date().toISOString();
  await w.header({
    formatVersion: FORMAT_VERSION, code: 'LIAR', label: 'x', role: 'regular', copyStatus: 'original',
    flags: { test: false, specific: false, template: false, transferable: true }, patchLevel: 0, createdAt: now, snapshotAt: now,
    codec: 'gzip', documentsIncluded: false,
  });
  await w.startPart('structure', 'structure');
  await w.data(Buffer.from(JSON.stringify({ sequences: [], tables: [{ name: 't', columns: [{ name: 'a', type: 'integer', notNull: false }] }], constraints: [], indexes: [] })));
  await w.endPart();
  await w.startPart('table', 't');
  await w.data(Buffer.from('1\n2\n'));
  await w.endPart();
  // two rows in the data, three claimed
  await w.finish({ formatVersion: FORMAT_VERSION, code: 'LIAR', patchLevel: 0, createdAt: now, snapshotAt: now, tables: [{ name: 't', rows: 3 }], documentsIncluded: false });
  await expectInvalid(file, { as: 'LIAR' });
});

test('an archive written with gzip 1 (the default before brotli 1) still verifies and restores exactly', async () => {
  const pool = stack.pools.get('main');
  const dir = tempDir('gzip');
  const r = await backupDossierArchive({ pool, target: 'main', code, destinationDir: dir, codec: { codec: 'gzip', level: 1 } });
  expect(fs.readFileSync(r.file, 'latin1').split('\n')[0]).toBe(`NIGHTSHIFT-SVG ${FORMAT_VERSION} gzip`);
  expect(fs.readFileSync(good, 'latin1').split('\n')[0]).toBe(`NIGHTSHIFT-SVG ${FORMAT_VERSION} brotli`);
  const [old, current] = [await verifyArchive(r.file), await verifyArchive(good)];
  expect([old.codec, current.codec]).toEqual(['gzip', 'brotli']);
  expect(old.tables).toEqual(current.tables);
  await restoreDossierArchive({ pool, target: 'main', file: r.file, as: 'ARCGZIP', replace: false, documentsDir: stack.config.documentsDir });
  const strip = (stats: { table: string; rows: number; checksum: string }[]) => stats.map(({ table, rows, checksum }) => ({ table, rows, checksum }));
  expect(strip(await dossierTableStats(pool, 'main', 'ARCGZIP'))).toEqual(strip(await dossierTableStats(pool, 'main', code)));
  await deleteDossier(pool, stack.config.documentsDir, 'main', 'ARCGZIP');
});

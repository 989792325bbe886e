import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { inspect } from 'node:util';
import { createBackupActivities } from '../../activities/backup';
import { createRegistryActivities } from '../../activities/registry';
import { generateDemoDossiers } from '../../registry/demo';
import { verifyArchive } from '../../archive/verify';
import { ArchiveWriter } from '../../archive/writer';
import { BackupKeyring, ensureBackupKeyFile, loadBackupKeyring } from '../../archive/keys';
import { RECORD_BYTES } from '../../archive/envelope';
import { makeNewStackBackupKey } from '../../archive/new-stack-key';
import { FORMAT_VERSION } from '../../archive/format';
import { type Config, loadConfig } from '../../config/config';
import { FailureType, failureTypeOf } from '../../domain/failures';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/** Encryption at rest (issue 13.2): archives encrypted with the operator's key, on a real PostgreSQL. */

let stack: TestStack;
let registry: ReturnType<typeof createRegistryActivities>;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack();
  registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
});
afterAll(async () => {
  await stack.close();
});

const newKey = () => crypto.randomBytes(32).toString('base64');
/** Every key written by this file: none may show up in a message, a log line or a database row. */
const allKeys: string[] = [];
function keyLine(id: string, key = newKey()): string {
  allKeys.push(key);
  return `${id}=${key}`;
}

function keyFile(lines: string[]): string {
  const file = path.join(tempDir('keys'), 'backup-keys');
  fs.writeFileSync(file, `# test keys\n${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/** The stack's configuration with these backup-key variables. */
function withKeys(env: Record<string, string>): Config {
  const c = loadConfig({ NIGHTSHIFT_DATA_DIR: stack.dataDir, DATABASE_URL: stack.databaseUrl, ...env });
  return { ...stack.config, backupKeys: c.backupKeys };
}

function activities(config: Config) {
  return createBackupActivities({ config, pools: stack.pools });
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: Error) => err,
  );
}

/** What the test saw of messages; the keys must not be in it. */
const seen: string[] = [];
function expectFailure(err: Error, type: string, message: RegExp): void {
  seen.push(err.message, inspect(err));
  expect({ type: failureTypeOf(err), message: err.message }).toEqual({ type, message: expect.stringMatching(message) });
}

async function dossier(prefix: string, sizeKb = 40): Promise<string> {
  const [code] = await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb, seed: sizeKb, prefix, documentsDir: stack.config.documentsDir });
  return code!;
}

function firstLine(file: string): string {
  const head = fs.readFileSync(file).subarray(0, 300);
  return head.subarray(0, head.indexOf(0x0a)).toString('latin1');
}

describe('encrypted archives (issue 13.2)', () => {
  test('round trip: written with the current key (id in the first line, 0600, no readable compressed stream), verified and restored exactly', async () => {
    const code = await dossier('ENC');
    const config = withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile([keyLine('k-2026a')]) });
    const r = await activities(config).backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false, includeDocuments: true });
    expect(firstLine(r.file)).toMatch(/^NIGHTSHIFT-SVG 1 brotli aes-256-gcm key=k-2026a salt=[A-Za-z0-9_-]{43} check=[A-Za-z0-9_-]{43}$/);
    expect(fs.statSync(r.file).mode & 0o777).toBe(0o600);
    const body = fs.readFileSync(r.file).subarray(firstLine(r.file).length + 1);
    // ciphertext, not the codec's stream: brotli has no magic and may decode random bytes to garbage, never to the frames
    const decoded = (() => {
      try {
        return zlib.brotliDecompressSync(body);
      } catch {
        return Buffer.alloc(0);
      }
    })();
    expect(decoded.includes(Buffer.from(code))).toBe(false);
    expect(body.includes(Buffer.from(code))).toBe(false);

    const keys = loadBackupKeyring(config.backupKeys);
    await expect(verifyArchive(r.file, keys)).resolves.toMatchObject({ code, keyId: 'k-2026a', tables: expect.any(Array) });
    const restored = await activities(config).restoreDossier({ target: 'main', file: r.file, as: `${code}R`, replace: false });
    expect(restored.code).toBe(`${code}R`);
    expect(await registry.tableStats('main', `${code}R`)).toEqual(await registry.tableStats('main', code));
  });

  test('a wrong key under the archive\'s id is BackupKeyWrong, a missing one BackupKeyMissing; nothing restored', async () => {
    const code = await dossier('ENCW');
    const config = withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile([keyLine('ops1')]) });
    const { file } = await activities(config).backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false, includeDocuments: false });

    const wrong = withKeys({ NIGHTSHIFT_BACKUP_KEYS: keyLine('ops1') });
    expectFailure(await rejection(activities(wrong).restoreDossier({ target: 'main', file, as: `${code}W`, replace: false })), FailureType.BackupKeyWrong, /not encrypted with the key given as ops1/);
    expectFailure(await rejection(verifyArchive(file, loadBackupKeyring(wrong.backupKeys))), FailureType.BackupKeyWrong, /give the original key ops1/);

    const other = withKeys({ NIGHTSHIFT_BACKUP_KEYS: keyLine('ops2') });
    expectFailure(await rejection(activities(other).restoreDossier({ target: 'main', file, as: `${code}W`, replace: false })), FailureType.BackupKeyMissing, /encrypted with backup key ops1, and the keys given are ops2/);
    expect((await rejection(activities(other).restoreDossier({ target: 'main', file, as: `${code}W`, replace: false })))!.message).toContain(
      `add that key to the key file ${other.backupKeys.file} (NIGHTSHIFT_BACKUP_KEYS_FILE) (or NIGHTSHIFT_BACKUP_KEYS)`,
    );
    // no key at all (the default key file absent)
    expectFailure(await rejection(verifyArchive(file)), FailureType.BackupKeyMissing, /encrypted with backup key ops1, and no backup key is given/);
    expectFailure(await rejection(activities(stack.config).restoreDossier({ target: 'main', file, as: `${code}W`, replace: false })), FailureType.BackupKeyMissing, /ops1/);
    expect((await pool().query('SELECT 1 FROM nightshift.dossier WHERE code = $1', [`${code}W`])).rowCount).toBe(0);
    expect((await pool().query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [`d_${code}W`.toLowerCase()])).rowCount).toBe(0);

    // a key file named but absent, a malformed entry, a current id that names no key: refused before any archive is written
    for (const [env, message] of [
      [{ NIGHTSHIFT_BACKUP_KEYS_FILE: '/nonexistent/keys' }, /cannot read the backup key file \/nonexistent\/keys.*ENOENT/],
      [{ NIGHTSHIFT_BACKUP_KEYS: `short=${crypto.randomBytes(31).toString('base64')}` }, /key short: expected 32 random bytes in base64/],
      [{ NIGHTSHIFT_BACKUP_KEYS: keyLine('a'), NIGHTSHIFT_BACKUP_KEY_ID: 'b' }, /NIGHTSHIFT_BACKUP_KEY_ID is b, but no such key is given \(given: a\)/],
    ] as [Record<string, string>, RegExp][]) {
      expectFailure(await rejection(activities(withKeys(env)).backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false, includeDocuments: false })), FailureType.BackupKeyMissing, message);
    }
  });

  test('rotation: a new key for new archives, the old archive readable while its key is given, plain archives still readable', async () => {
    const code = await dossier('ENCR');
    const oldLine = keyLine('2026-01');
    const oldFile = keyFile([oldLine]);
    const before = await activities(withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: oldFile })).backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false, includeDocuments: false });
    const kept = path.join(tempDir('rot'), 'old.SVG');
    fs.copyFileSync(before.file, kept);
    // R-BK-12: no key any more where archives were encrypted (a key file gone): refused, not a plain archive in silence
    const generations = async () => (await stack.pools.get('main').query('SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE code = $1', [code])).rows[0].n;
    const count = await generations();
    const refused = await activities(stack.config).backupDossier({ target: 'main', code, reason: 'cloture', dateSubfolder: false, includeDocuments: false }).then(() => undefined, (e: Error) => e);
    expect(failureTypeOf(refused)).toBe(FailureType.BackupKeyMissing);
    expect(refused!.message).toMatch(/no backup key is given, and the archives of target main are encrypted \(generation \d+: key 2026-01; the kept archives need .*\).*NIGHTSHIFT_BACKUP_PLAIN=1/);
    // every key the kept archives need, and the key file this host reads by its path (drill R, session 39)
    expect(refused!.message).toMatch(/the kept archives need [^)]*\b2026-01 \(\d+ generation\(s\)\)/);
    expect(refused!.message).toContain(`give those keys again (the key file ${stack.config.backupKeys.file} (NIGHTSHIFT_BACKUP_KEYS_FILE), or NIGHTSHIFT_BACKUP_KEYS)`);
    expect(await generations()).toBe(count);
    // plain on purpose
    const plain = await activities(withKeys({ NIGHTSHIFT_BACKUP_PLAIN: '1' })).backupDossier({ target: 'main', code, reason: 'cloture', dateSubfolder: false, includeDocuments: false });
    expect(firstLine(plain.file)).toBe(`NIGHTSHIFT-SVG ${FORMAT_VERSION} brotli`);

    // rotation: a second line; the last one listed is the current key (or NIGHTSHIFT_BACKUP_KEY_ID)
    const rotated = keyFile([oldLine, keyLine('2026-07')]);
    const config = withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: rotated });
    const after = await activities(config).backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false, includeDocuments: false });
    expect(firstLine(after.file)).toMatch(/ key=2026-07 /);
    const pinned = await activities(withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: rotated, NIGHTSHIFT_BACKUP_KEY_ID: '2026-01' })).backupDossier({
      target: 'main', code, reason: 'echange-prestataire', dateSubfolder: false, includeDocuments: false,
    });
    expect(firstLine(pinned.file)).toMatch(/ key=2026-01 /);

    const keys = loadBackupKeyring(config.backupKeys);
    await expect(verifyArchive(kept, keys)).resolves.toMatchObject({ keyId: '2026-01' });
    await expect(verifyArchive(after.file, keys)).resolves.toMatchObject({ keyId: '2026-07' });
    await expect(verifyArchive(plain.file, keys)).resolves.not.toHaveProperty('keyId');
    await activities(config).restoreDossier({ target: 'main', file: kept, as: `${code}O`, replace: false });
    await activities(config).restoreDossier({ target: 'main', file: plain.file, as: `${code}P`, replace: false });
    expect(await registry.tableStats('main', `${code}O`)).toEqual(await registry.tableStats('main', code));

    // the old key dropped from the file: its archive is unreadable, and says which key it needs
    const dropped = withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile([keyLine('2026-07b')]) });
    expectFailure(await rejection(verifyArchive(kept, loadBackupKeyring(dropped.backupKeys))), FailureType.BackupKeyMissing, /backup key 2026-01/);
  });

  test('a changed byte, a cut, an extension or swapped chunks fail authentication (ArchiveInvalid); restore changes nothing', async () => {
    const keys = new BackupKeyring([{ id: 't', key: crypto.randomBytes(32) }]);
    // incompressible documents: several 64 KiB chunks
    const file = path.join(tempDir('tamper'), 'BT.SVG');
    fs.writeFileSync(file, '');
    const w = new ArchiveWriter(file, { codec: 'gzip', level: 1 }, keys.current());
    const now = new Date().toISOString();
    await w.header({
      formatVersion: FORMAT_VERSION, code: 'T1', label: 't', role: 'regular', copyStatus: 'original',
      flags: { test: false, specific: false, template: false, transferable: true }, patchLevel: 0, createdAt: now, snapshotAt: now, codec: 'gzip', documentsIncluded: true,
    });
    await w.startPart('structure', 'structure');
    await w.data(Buffer.from(JSON.stringify({ sequences: [], tables: [], constraints: [], indexes: [] })));
    await w.endPart();
    await w.startPart('document', 'a.bin');
    await w.data(crypto.randomBytes(300 * 1024));
    await w.endPart();
    await w.finish({ formatVersion: FORMAT_VERSION, code: 'T1', patchLevel: 0, createdAt: now, snapshotAt: now, tables: [], documentsIncluded: true });
    await expect(verifyArchive(file, keys)).resolves.toMatchObject({ code: 'T1', documents: 1 });

    const original = fs.readFileSync(file);
    const start = original.indexOf(0x0a) + 1;
    const records = Math.ceil((original.length - start) / RECORD_BYTES);
    expect(records).toBeGreaterThanOrEqual(5);
    const variant = (name: string, bytes: Buffer) => {
      const f = path.join(path.dirname(file), name);
      fs.writeFileSync(f, bytes);
      return f;
    };
    const flipped = Buffer.from(original);
    flipped[start + RECORD_BYTES + 1000]! ^= 0x01;
    const swapped = Buffer.concat([
      original.subarray(0, start),
      original.subarray(start + RECORD_BYTES, start + 2 * RECORD_BYTES),
      original.subarray(start, start + RECORD_BYTES),
      original.subarray(start + 2 * RECORD_BYTES),
    ]);
    const cases: [string, Buffer, string, RegExp][] = [
      ['flipped', flipped, FailureType.ArchiveInvalid, /encrypted chunk 1 does not authenticate: the file was changed or damaged/],
      ['swapped', swapped, FailureType.ArchiveInvalid, /encrypted chunk 0 does not authenticate/],
      ['cut-inside', original.subarray(0, original.length - 100), FailureType.ArchiveInvalid, /does not authenticate as the last one: the file was cut short|truncated/],
      ['cut-at-chunk', original.subarray(0, start + 2 * RECORD_BYTES), FailureType.ArchiveInvalid, /chunk 1 does not authenticate as the last one/],
      ['cut-to-first-line', original.subarray(0, start), FailureType.ArchiveInvalid, /truncated \(the encrypted data ends inside chunk 0\)/],
      ['extended', Buffer.concat([original, crypto.randomBytes(40)]), FailureType.ArchiveInvalid, /does not authenticate/],
      ['first-line', Buffer.from(original.toString('latin1').replace('key=t ', 'key=u '), 'latin1'), FailureType.BackupKeyMissing, /backup key u/],
      // another first character of the salt (never the same one: the variant must differ)
      ['salt', Buffer.from(original.toString('latin1').replace(/salt=(.)/, (_m, c: string) => `salt=${c === 'A' ? 'B' : 'A'}`), 'latin1'), FailureType.BackupKeyWrong, /was not encrypted with the key given as t/],
    ];
    for (const [name, bytes, type, message] of cases) {
      expectFailure(await rejection(verifyArchive(variant(name, bytes), keys)), type, message);
    }

    // a restore of a damaged encrypted dossier archive commits nothing
    const code = await dossier('ENCT', 400);
    const config = withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile([keyLine('t2')]) });
    const { file: real } = await activities(config).backupDossier({ target: 'main', code, reason: 'manual', dateSubfolder: false, includeDocuments: false });
    const bytes = fs.readFileSync(real);
    const cut = variant('cut-real.SVG', bytes.subarray(0, bytes.length - 10));
    expectFailure(await rejection(activities(config).restoreDossier({ target: 'main', file: cut, as: `${code}T`, replace: false })), FailureType.ArchiveInvalid, /cut short/);
    expect((await pool().query('SELECT 1 FROM nightshift.dossier WHERE code = $1', [`${code}T`])).rowCount).toBe(0);
  });

  test('`nightshift dev` / the cluster: a key file made once (0600) when none is given, never replaced', () => {
    const dir = tempDir('devkeys');
    const c = loadConfig({ NIGHTSHIFT_DATA_DIR: dir, DATABASE_URL: stack.databaseUrl }).backupKeys;
    const file = ensureBackupKeyFile(c);
    expect(file).toBe(path.join(dir, 'backup-keys'));
    expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(file!, 'utf8');
    expect(text).toMatch(/KEEP A COPY OF THIS FILE OFF THIS MACHINE/);
    expect(loadBackupKeyring(c).currentId).toMatch(/^k\d{8}-[0-9a-f]{6}$/);
    allKeys.push(text.match(/=(\S{44})$/m)![1]!);
    expect(ensureBackupKeyFile(c)).toBeUndefined();
    expect(fs.readFileSync(file!, 'utf8')).toBe(text);
    // given elsewhere (a file or the environment): nothing is written
    const dir2 = tempDir('devkeys');
    expect(ensureBackupKeyFile(loadConfig({ NIGHTSHIFT_DATA_DIR: dir2, NIGHTSHIFT_BACKUP_KEYS: keyLine('x') }).backupKeys)).toBeUndefined();
    expect(fs.existsSync(path.join(dir2, 'backup-keys'))).toBe(false);
  });

  test('R-BK-12: a local stack whose key file is gone makes no new key while its targets keep encrypted archives: one line names the keys they need (drill K3, session 36)', async () => {
    const code = await dossier('NEWKEY');
    const r = await activities(withKeys({ NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile([keyLine('kgone')]) })).backupDossier({ target: 'main', code, reason: 'manual' });
    expect(r.generationId).toBeDefined();
    const dir = tempDir('stackkeys');
    const lines: string[] = [];
    await makeNewStackBackupKey(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, DATABASE_URL: stack.databaseUrl }), (l) => lines.push(l));
    expect(fs.existsSync(path.join(dir, 'backup-keys'))).toBe(false);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^backups: no backup key is given \\(no ${dir}/backup-keys\\), and the kept archives are encrypted with .*kgone \\(1 generation\\(s\\) of target main\\).*: no new key made; put that key file back`))]);
    // a key file named but empty (a bad deploy): said as a missing one is, nothing made (drill F, session 39: silent)
    lines.length = 0;
    const empty = keyFile([]);
    await makeNewStackBackupKey(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_BACKUP_KEYS_FILE: empty }), (l) => lines.push(l));
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^backups: no backup key is given \\(${empty} holds none\\), and the kept archives are encrypted with .*kgone .*: no new key made`))]);
    expect(fs.readFileSync(empty, 'utf8')).toBe('# test keys\n\n');
    // a key given: nothing said, nothing made
    lines.length = 0;
    await makeNewStackBackupKey(loadConfig({ NIGHTSHIFT_DATA_DIR: dir, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_BACKUP_KEYS: keyLine('given') }), (l) => lines.push(l));
    expect(lines).toEqual([]);
  });

  test('configuration: a bad key id is refused at start naming the variable; a bad key line is named by its number, never by its value', () => {
    expect(() => loadConfig({ NIGHTSHIFT_BACKUP_KEY_ID: 'no spaces' })).toThrow(/NIGHTSHIFT_BACKUP_KEY_ID: expected a key id/);
    const bad = `bad=${crypto.randomBytes(16).toString('base64')}`;
    allKeys.push(bad.slice(4));
    const file = keyFile([keyLine('good'), bad, 'no-equals-sign']);
    const err = (() => {
      try {
        loadBackupKeyring({ file, fileGiven: true });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected a failure');
    })();
    expectFailure(err, FailureType.BackupKeyMissing, /line 3: key bad: expected 32 random bytes in base64[\s\S]*line 4: expected id=base64key/);
    expect(err.message).not.toContain(bad.slice(4));
    // a file that aligns its lines (spaces around '=') is read as written
    const aligned = keyLine('spaced').replace('=', ' = ');
    expect(loadBackupKeyring({ file: keyFile([aligned]), fileGiven: true }).ids).toEqual(['spaced']);
  });

  test('no key in a message, a printed configuration or keyring, or any row of the database', async () => {
    const config = withKeys({ NIGHTSHIFT_BACKUP_KEYS: [keyLine('p1'), keyLine('p2')].join(',') });
    const keyring = loadBackupKeyring(config.backupKeys);
    seen.push(JSON.stringify(config), inspect(config, { depth: 10 }), JSON.stringify(keyring), inspect(keyring), String(keyring));
    expect(inspect(keyring)).toBe('BackupKeyring(p1, p2)');
    const tables = await pool().query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'nightshift'`);
    for (const { name } of tables.rows) {
      const rows = await pool().query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM nightshift.${name} t`);
      seen.push(...rows.rows.map((r) => r.row));
    }
    expect(allKeys.length).toBeGreaterThan(8);
    const everything = seen.join('\n');
    for (const key of allKeys) {
      expect(everything).not.toContain(key);
      expect(everything).not.toContain(Buffer.from(key, 'base64').toString('hex'));
    }
  });
});

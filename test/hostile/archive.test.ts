import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createBackupActivities } from '../../activities/backup';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { verifyArchive } from '../../archive/engine';
import { ArchiveWriter } from '../../archive/writer';
import { FORMAT_VERSION, FrameKind, type ArchiveHeader, type Structure, frame, magicLine } from '../../archive/format';
import { failureTypeOf, FailureType } from '../../domain/failures';
import { loadConfig, ConfigError } from '../../config/config';
import { createTestStack, quietRuntime, tempDir, type TestStack } from '../helpers/env';

/**
 * Hostile archives (issue 9, R-BK-5): whatever the file given as an archive, `--verify-only` and a
 * restore refuse it at once as a non-retryable ArchiveInvalid, with a message that names the problem
 * without echoing the content, and nothing changes (registry, schemas, backup settings, files).
 */

jest.setTimeout(120_000);

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
const env = new MockActivityEnvironment();

beforeAll(async () => {
  quietRuntime();
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  // a common backup setting that a hostile archive must not change
  await stack.pools.get('main').query(`INSERT INTO nightshift.backup_setting (key, value) VALUES ('folder', '"/srv/sauve"')`);
});
afterAll(async () => {
  await stack.close();
});

const pool = () => stack.pools.get('main');

/** Everything a refused restore must leave as it was. */
async function state(dir?: string): Promise<unknown> {
  const q = async (sql: string) => (await pool().query(sql)).rows;
  return {
    dossiers: await q('SELECT code, label, schema_name, change_seq, patch_level FROM nightshift.dossier ORDER BY code'),
    schemas: await q(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'd\\_%' ORDER BY 1`),
    settings: await q('SELECT key, value FROM nightshift.backup_setting ORDER BY key'),
    nightshiftRelations: await q(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'nightshift' ORDER BY 1`),
    inherits: await q('SELECT count(*)::int AS n FROM pg_inherits'),
    files: dir ? fs.readdirSync(dir).sort() : [],
  };
}

/** Resolves to 'timeout' if `p` has not settled within `ms` (a blocked read must fail the test, not hang it). */
function within<T>(ms: number, p: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

const settle = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'no failure', (e: unknown) => e);

/**
 * verify-only and the restore activity both refuse `file` as a non-retryable ArchiveInvalid whose
 * message matches `why`, within `ms`; nothing changed. Returns the two messages.
 */
async function expectRefused(file: string, why: RegExp, opts: { as?: string; ms?: number } = {}): Promise<string[]> {
  const ms = opts.ms ?? 10_000;
  const dir = path.dirname(file);
  const before = await state(dir);
  const verify = await within(ms, settle(verifyArchive(file)));
  const restore = await within(
    ms,
    settle(env.run(() => backup.restoreDossier({ target: 'main', file, as: opts.as ?? 'HOSTILE', replace: true })) as Promise<unknown>),
  );
  const messages: string[] = [];
  for (const err of [verify, restore]) {
    expect(err).not.toBe('timeout');
    expect(failureTypeOf(err)).toBe(FailureType.ArchiveInvalid);
    expect((err as { nonRetryable?: boolean }).nonRetryable).toBe(true);
    expect((err as Error).message).toMatch(why);
    messages.push((err as Error).message);
  }
  expect(await state(dir)).toEqual(before);
  return messages;
}

const now = new Date().toISOString();
const baseHeader: ArchiveHeader = {
  formatVersion: FORMAT_VERSION,
  code: 'HOSTILE',
  label: 'Hostile archive',
  role: 'regular',
  copyStatus: 'original',
  flags: { test: false, specific: false, template: false, transferable: true },
  patchLevel: 0,
  createdAt: now,
  snapshotAt: now,
  codec: 'gzip',
  documentsIncluded: false,
};

/** A well-framed archive (parts hashed, manifest true to them) of whatever structure and data it is given. */
async function craft(structure: unknown, data: Record<string, string>, header: Partial<ArchiveHeader> & Record<string, unknown> = {}): Promise<string> {
  const file = path.join(tempDir('hostile-archive'), 'BHOSTILE.SVG');
  fs.writeFileSync(file, '');
  const w = new ArchiveWriter(file, { codec: 'gzip', level: 1 });
  await w.header({ ...baseHeader, ...header } as ArchiveHeader);
  await w.startPart('structure', 'structure');
  await w.data(Buffer.from(JSON.stringify(structure)));
  await w.endPart();
  for (const [table, rows] of Object.entries(data)) {
    await w.startPart('table', table);
    if (rows) await w.data(Buffer.from(rows));
    await w.endPart();
  }
  await w.finish({
    formatVersion: FORMAT_VERSION,
    code: 'HOSTILE',
    patchLevel: 0,
    createdAt: now,
    snapshotAt: now,
    tables: Object.entries(data).map(([name, rows]) => ({ name, rows: rows.split('\n').length - 1 })),
    documentsIncluded: false,
  });
  return file;
}

const table = (name: string, columns: { name: string; type: string; default?: string }[]) => ({ name, columns: columns.map((c) => ({ notNull: false, ...c })) });
const structureOf = (tables: ReturnType<typeof table>[], extra: Partial<Structure> = {}) => ({ sequences: [], tables, constraints: [], indexes: [], ...extra });

/** A reader still blocked in open() on the FIFO (the defect) is released by a writer; with no reader, ENXIO. */
function releaseFifo(fifo: string): void {
  try {
    fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
  }
}

describe('not a regular file: refused at once, never retried', () => {
  test('a FIFO given as the archive is refused at once (it used to block a worker thread)', async () => {
    const dir = tempDir('fifo');
    const fifo = path.join(dir, 'BFIFO.SVG');
    execFileSync('mkfifo', [fifo]);
    try {
      await expectRefused(fifo, /not a regular file/, { ms: 5_000 });
    } finally {
      releaseFifo(fifo);
    }
  });

  test('a directory, /dev/zero and symlinks to a FIFO or a directory are refused; a symlink to a good archive still verifies', async () => {
    const dir = tempDir('notfile');
    const folder = path.join(dir, 'BDIR.SVG');
    fs.mkdirSync(folder);
    await expectRefused(folder, /not a regular file/);
    await expectRefused('/dev/zero', /not a regular file/);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const toFifo = path.join(dir, 'BLINK.SVG');
    fs.symlinkSync(fifo, toFifo);
    const toDir = path.join(dir, 'BLINKDIR.SVG');
    fs.symlinkSync(folder, toDir);
    try {
      await expectRefused(toFifo, /not a regular file/, { ms: 5_000 });
      await expectRefused(toDir, /not a regular file/);
    } finally {
      releaseFifo(fifo);
    }
    const good = await craft(structureOf([table('t', [{ name: 'a', type: 'integer' }])]), { t: '1\n' });
    const link = path.join(dir, 'BGOOD.SVG');
    fs.symlinkSync(good, link);
    expect((await verifyArchive(link)).tables).toEqual([{ name: 't', rows: 1 }]);
  });

  test('a missing file stays a clear non-retryable InvalidInput', async () => {
    const err = await settle(verifyArchive(path.join(tempDir('missing'), 'BNONE.SVG')));
    expect(failureTypeOf(err)).toBe(FailureType.InvalidInput);
    expect((err as { nonRetryable?: boolean }).nonRetryable).toBe(true);
  });
});

describe('bounded, linear reading', () => {
  /** magic line + gzip(frame header claiming `len` bytes of `kind`, then `fill` zero bytes): a few KB on disk. */
  function claiming(kind: number, len: number, fill: number, prefix: Buffer = Buffer.alloc(0)): string {
    const file = path.join(tempDir('claim'), 'BCLAIM.SVG');
    const head = Buffer.alloc(5);
    head.writeUInt8(kind, 0);
    head.writeUInt32BE(len, 1);
    const zip = zlib.gzipSync(Buffer.concat([prefix, head, Buffer.alloc(fill)]), { level: 9 });
    fs.writeFileSync(file, Buffer.concat([Buffer.from(magicLine('gzip')), zip]));
    return file;
  }

  test('a small archive whose header frame claims 64 MB is refused at the frame header, in well under a second of work', async () => {
    const file = claiming(FrameKind.Header, 64 * 1024 * 1024 - 1, 64 * 1024 * 1024);
    expect(fs.statSync(file).size).toBeLessThan(200_000);
    const started = Date.now();
    const [message] = await expectRefused(file, /header frame of \d+ bytes exceeds the limit/, { ms: 20_000 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(message).not.toMatch(/\0/);
  });

  test('a manifest frame of 60 MB (allowed size) is read in linear time and refused as not JSON', async () => {
    const now2 = new Date().toISOString();
    const hdr = frame(FrameKind.Header, Buffer.from(JSON.stringify({ ...baseHeader, createdAt: now2, snapshotAt: now2 })));
    const file = claiming(FrameKind.Manifest, 60 * 1024 * 1024, 60 * 1024 * 1024, hdr);
    const started = Date.now();
    await expectRefused(file, /invalid archive/, { ms: 30_000 });
    // quadratic concatenation took minutes here; linear reading takes about a second on a loaded machine
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('identifiers and types are checked when the archive is read', () => {
  test('a benign crafted archive restores (the crafting itself is sound)', async () => {
    const file = await craft(structureOf([table('t', [{ name: 'a', type: 'integer' }, { name: 'b', type: 'character varying(20)' }])]), { t: '1\tx\n2\ty\n' });
    const r = (await env.run(() => backup.restoreDossier({ target: 'main', file, as: 'BENIGN', replace: false }))) as { rows: number };
    expect(r.rows).toBe(2);
    const cols = await pool().query(
      `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = '"d_BENIGN".t'::regclass AND a.attnum > 0 ORDER BY a.attnum`,
    );
    expect(cols.rows).toEqual([{ attname: 'a', type: 'integer' }, { attname: 'b', type: 'character varying(20)' }]);
  });

  test.each([
    ['a table name with a quote', structureOf([table('t"; DROP TABLE nightshift.dossier; --', [{ name: 'a', type: 'integer' }])])],
    ['a table name with ../', structureOf([table('../etc', [{ name: 'a', type: 'integer' }])])],
    ['a table name with a space and ; DROP', structureOf([table('t; DROP SCHEMA nightshift', [{ name: 'a', type: 'integer' }])])],
    ['a column name with a quote', structureOf([table('t', [{ name: 'a") INHERITS (nightshift.backup_setting) --', type: 'integer' }])])],
    ['a sequence name', structureOf([table('t', [{ name: 'a', type: 'integer' }])], {
      sequences: [{ name: "s'; DROP", type: 'integer', increment: '1', min: '1', max: '10', start: '1', cache: '1', cycle: false, lastValue: '1', isCalled: false }],
    })],
    ['a constraint name', structureOf([table('t', [{ name: 'a', type: 'integer' }])], { constraints: [{ table: 't', name: 'c"x', definition: 'CHECK ((a > 0))' }] })],
    ['an index name', structureOf([table('t', [{ name: 'a', type: 'integer' }])], { indexes: [{ name: 'i x', definition: 'CREATE INDEX "i x" ON t USING btree (a)' }] })],
  ])('%s is refused as ArchiveInvalid by --verify-only and by the restore', async (_what, structure) => {
    const name = structure.tables[0]!.name;
    const file = await craft(structure, { [name]: '' });
    const messages = await expectRefused(file, /not a safe SQL identifier/);
    for (const m of messages) expect(m).not.toMatch(/DROP|INHERITS|\.\.\//);
  });

  test.each([
    'jsonb) INHERITS (nightshift.backup_setting) --',
    'text) INHERITS (nightshift.backup_setting); --',
    'integer primary key',
    'integer references nightshift.dossier',
    'text collate "C"',
    'nightshift.backup_setting',
    'public.citext',
    'character varying(20',
    'numeric(1000000)',
  ])('the column type %j is refused when read (R-BK-5 types from an allow-list)', async (type) => {
    const structure = structureOf([table('t', [{ name: 'key', type: 'text' }, { name: 'value', type }])]);
    const file = await craft(structure, { t: 'folder\t"/tmp/evil"\n' });
    const messages = await expectRefused(file, /column t\.value: type not allowed/);
    for (const m of messages) expect(m).not.toMatch(/INHERITS|backup_setting|references/);
  });

  test('the backup_setting takeover through a column type does not happen (it used to change backup settings)', async () => {
    const structure = structureOf([table('t', [{ name: 'key', type: 'text' }, { name: 'value', type: 'jsonb) INHERITS (nightshift.backup_setting) --' }])]);
    const file = await craft(structure, { t: 'folder\t"/tmp/evil"\n' });
    await settle(env.run(() => backup.restoreDossier({ target: 'main', file, as: 'TAKEOVER', replace: false })) as Promise<unknown>);
    expect((await pool().query('SELECT key, value FROM nightshift.backup_setting ORDER BY key')).rows).toEqual([{ key: 'folder', value: '/srv/sauve' }]);
    expect((await pool().query(`SELECT 1 FROM nightshift.dossier WHERE code = 'TAKEOVER'`)).rowCount).toBe(0);
  });

  test.each([
    ['a default that closes the column list', { default: '0) INHERITS (nightshift.backup_setting) --' }],
    ['a default with a second statement', { default: "0; DROP TABLE nightshift.backup_setting" }],
    ['a default with a comment', { default: '0 /* x */' }],
    ['a default naming another schema', { default: 'nightshift.f()' }],
  ])('%s is refused when read', async (_what, col) => {
    const structure = structureOf([table('t', [{ name: 'key', type: 'text' }, { name: 'value', type: 'integer', ...col }])]);
    const file = await craft(structure, { t: '' });
    await expectRefused(file, /column t\.value: default is not one plain expression/);
  });

  test('constraints and indexes that reach outside the dossier are refused when read', async () => {
    const t = table('t', [{ name: 'key', type: 'text' }]);
    const cases: [Partial<Structure>, RegExp][] = [
      [{ constraints: [{ table: 't', name: 'c', definition: 'FOREIGN KEY (key) REFERENCES nightshift.backup_setting(key)' }] }, /constraint c: qualified name/],
      [{ constraints: [{ table: 't', name: 'c', definition: 'FOREIGN KEY (key) REFERENCES elsewhere(key)' }] }, /constraint c: foreign key to a table outside/],
      [{ constraints: [{ table: 't', name: 'c', definition: 'CHECK (true), ADD COLUMN z integer' }] }, /constraint c: top-level comma/],
      [{ constraints: [{ table: 'other', name: 'c', definition: 'CHECK (true)' }] }, /constraint c: on a table outside/],
      [{ indexes: [{ name: 'i', definition: 'CREATE INDEX i ON nightshift.backup_setting USING btree (key)' }] }, /index i: index on a table outside/],
      [{ indexes: [{ name: 'i', definition: 'CREATE INDEX j ON t USING btree (key)' }] }, /index i: definition names another index/],
      [{ indexes: [{ name: 'i', definition: 'CREATE INDEX i ON t USING btree (key); DROP TABLE nightshift.dossier' }] }, /index i: statement end/],
    ];
    for (const [extra, why] of cases) {
      const file = await craft(structureOf([t], extra), { t: '' });
      await expectRefused(file, why);
    }
  });
});

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe('labels (archive header text) with terminal control characters', () => {
  test.each([
    ['ESC', 'Client \u001b[2J\u001b[31mRED'],
    ['OSC', 'Client \u001b]0;pwned\u0007'],
    ['BEL', 'Client \u0007'],
    ['C1 CSI', 'Client \u009b31m'],
  ])('a label with %s is refused when the archive is read', async (_what, label) => {
    const file = await craft(structureOf([table('t', [{ name: 'a', type: 'integer' }])]), { t: '' }, { label });
    const messages = await expectRefused(file, /header: label/);
    for (const m of messages) expect(m).not.toMatch(CONTROL);
  });

  test('a registry label holding control characters is never written into an archive', async () => {
    const [code] = ['CTRLLBL'];
    await pool().query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ($1, $2, $3)`, [code, 'Bad \u001b]0;x\u0007 label', `d_${code}`]);
    await pool().query(`CREATE SCHEMA "d_${code}"; CREATE TABLE "d_${code}".t (a integer)`);
    const r = (await env.run(() => backup.backupDossier({ target: 'main', code, reason: 'manual' }))) as { file: string };
    const v = await verifyArchive(r.file);
    expect(v.label).not.toMatch(CONTROL);
    expect(v.label).toMatch(/^Bad .*label$/);
  });
});

describe('archive file mode', () => {
  async function backupOne(s: TestStack, code: string): Promise<string> {
    await s.pools.get('main').query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ($1, 'mode', $2)`, [code, `d_${code}`]);
    await s.pools.get('main').query(`CREATE SCHEMA "d_${code}"; CREATE TABLE "d_${code}".t (a integer); INSERT INTO "d_${code}".t VALUES (1)`);
    const acts = createBackupActivities({ config: s.config, pools: s.pools });
    return ((await env.run(() => acts.backupDossier({ target: 'main', code, reason: 'manual' }))) as { file: string }).file;
  }

  test('archives are written 0600 by default, whatever the umask (client accounting data)', async () => {
    const old = process.umask(0);
    try {
      const file = await backupOne(stack, 'MODE1');
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  test('NIGHTSHIFT_BACKUP_FILE_MODE sets the mode (0640 for a backup group)', async () => {
    const s = await createTestStack({ NIGHTSHIFT_BACKUP_FILE_MODE: '0640' });
    try {
      const file = await backupOne(s, 'MODE2');
      expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    } finally {
      await s.close();
    }
  });

  test('batch reports (R-BK-7) are written 0600 by default and with the configured mode, whatever the umask', async () => {
    const old = process.umask(0);
    try {
      for (const [mode, expected] of [[undefined, 0o600], ['0640', 0o640]] as const) {
        const s = await createTestStack(mode ? { NIGHTSHIFT_BACKUP_FILE_MODE: mode } : {});
        try {
          const batch = createBackupBatchActivities({ config: s.config, pools: s.pools });
          const claim = (await env.run(() => batch.claimBackupRun({ target: 'main', workflowId: `backup-batch/mode/${expected}` }))) as { runId: number };
          const done = (await env.run(() => batch.finishBackupRun({ target: 'main', runId: claim.runId, endedEarly: false }))) as { reportPath: string | null };
          expect(done.reportPath).not.toBeNull();
          expect(fs.statSync(done.reportPath!).mode & 0o777).toBe(expected);
        } finally {
          await s.close();
        }
      }
    } finally {
      process.umask(old);
    }
  });

  test.each(['0666', '0602', '644x', '0400', '0700', '1e3', '8'])('NIGHTSHIFT_BACKUP_FILE_MODE=%s is refused, naming the variable', (mode) => {
    let err: unknown;
    try {
      loadConfig({ NIGHTSHIFT_BACKUP_FILE_MODE: mode });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.variable)).toEqual(['NIGHTSHIFT_BACKUP_FILE_MODE']);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createBackupActivities } from '../../activities/backup';
import { createRegistryActivities } from '../../activities/registry';
import { documentsFolder } from '../../registry/documents';
import { generateDemoDossiers } from '../../registry/demo';
import { backupDossierArchive, verifyArchive } from '../../archive/engine';
import { ident } from '../../db/ident';
import { failureTypeOf, FailureType, DOSSIER_IN_USE_MESSAGE } from '../../domain/failures';
import { createTestStack, type TestStack } from '../helpers/env';

/** The single-dossier backup engine against a real PostgreSQL (R-BK-3, R-BK-5, R-BK-6, R-BK-9). */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
let registry: ReturnType<typeof createRegistryActivities>;

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
});
afterAll(async () => {
  await stack.close();
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (err: unknown) => err,
  );
}

/** Every file under a folder with its content hash: what "exact documents" means. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const abs = path.join(dir, rel);
    if (fs.statSync(abs).isFile()) out[rel.split(path.sep).join('/')] = crypto.createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
  }
  return out;
}

const pool = () => stack.pools.get('main');

/** Adds what the demo lacks: an identity column, a free sequence, a generated column, a check, an index and odd values. */
async function addExtras(code: string): Promise<void> {
  const s = ident(`d_${code}`);
  await pool().query(`
    CREATE SEQUENCE ${s}.numero_facture START 1000 INCREMENT 5;
    SELECT nextval('${s}.numero_facture'); SELECT nextval('${s}.numero_facture');
    CREATE TABLE ${s}.piece_jointe (
      id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      nom text NOT NULL CHECK (nom <> ''),
      taille bigint,
      taille_ko numeric GENERATED ALWAYS AS (taille / 1024.0) STORED,
      contenu bytea,
      meta jsonb DEFAULT '{"v": 1}'::jsonb,
      UNIQUE (nom)
    );
    CREATE INDEX piece_jointe_taille ON ${s}.piece_jointe (taille DESC) WHERE taille IS NOT NULL;
    INSERT INTO ${s}.piece_jointe (nom, taille, contenu) VALUES
      ('tab\there', 2048, '\\x00ff0a0d'), (E'line\\nbreak \\\\ back', NULL, NULL), ('é€😀', 1, '');
  `);
}

describe('backup and restore round trip (R-BK-5, R-BK-6, R-BK-9)', () => {
  test.each([
    ['small', 5],
    ['medium', 60],
    ['larger', 400],
  ])('%s dossier (%i KB) with documents restores exactly under another code and with replace', async (label, sizeKb) => {
    const [code] = await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb, seed: sizeKb, prefix: `RT${label}`, documentsDir: stack.config.documentsDir });
    await addExtras(code!);
    const before = await registry.tableStats('main', code!);
    const docsBefore = tree(documentsFolder(stack.config.documentsDir, 'main', code!));
    expect(Object.keys(docsBefore).length).toBeGreaterThan(0);

    const result = await backup.backupDossier({ target: 'main', code: code!, reason: 'manual', includeDocuments: true });
    expect(result.file).toBe(path.join(stack.config.backupDir, `B${code}.SVG`));
    expect(result.rows).toBe(before.reduce((n, t) => n + t.rows, 0));
    expect(result.documents).toBe(Object.keys(docsBefore).length);
    const after = await registry.getDossier('main', code!);
    expect(after.lastBackupAt).toBe(result.snapshotAt);
    expect(after.modifiedSinceBackup).toBe(false);
    // no temporary file left beside the archive
    expect(fs.readdirSync(stack.config.backupDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const copy = `${code}_COPY`;
    const restored = await backup.restoreDossier({ target: 'main', file: result.file, as: copy, replace: false });
    expect(restored.code).toBe(copy);
    expect(await registry.tableStats('main', copy)).toEqual(before);
    expect(tree(documentsFolder(stack.config.documentsDir, 'main', copy))).toEqual(docsBefore);
    const copyDossier = await registry.getDossier('main', copy);
    const original = await registry.getDossier('main', code!);
    expect({ ...copyDossier.flags, label: copyDossier.label, patch: copyDossier.patchLevel }).toEqual({ ...original.flags, label: original.label, patch: original.patchLevel });
    // one supervisor per target: a copy under another code is a regular dossier
    expect(copyDossier.role).toBe('regular');

    // sequences carry on from their saved values; the touch trigger is back (a write marks the copy modified)
    const s = ident(`d_${copy}`);
    const { rows: seq } = await pool().query(`SELECT nextval('${s}.numero_facture')::int AS n`);
    expect(seq[0].n).toBe(1010); // START 1000 INCREMENT 5, two values taken before the backup
    const { rows: ids } = await pool().query(`INSERT INTO ${s}.piece_jointe (nom) VALUES ('nouveau') RETURNING id`);
    expect(ids[0].id).toBe(4);
    const { rows: ecr } = await pool().query(`SELECT (SELECT max(id) FROM ${s}.ecriture) < nextval(pg_get_serial_sequence('${s}.ecriture', 'id')) AS ok`);
    expect(ecr[0].ok).toBe(true);
    await pool().query(`UPDATE ${s}.compte SET libelle = libelle || '!' WHERE numero = (SELECT min(numero) FROM ${s}.compte)`);
    expect((await registry.getDossier('main', copy)).modifiedSinceBackup).toBe(true);
    // constraints came back: a foreign key still refuses a dangling account
    await expect(pool().query(`INSERT INTO ${s}.ligne (ecriture_id, n, compte) VALUES (-1, 1, 'nope')`)).rejects.toThrow(/foreign key/);

    // replace: change the original, then bring the backup back over it
    await pool().query(`DELETE FROM ${ident(`d_${code}`)}.ligne WHERE n = 1`);
    fs.writeFileSync(path.join(documentsFolder(stack.config.documentsDir, 'main', code!), 'extra.txt'), 'not in the backup');
    await expect(backup.restoreDossier({ target: 'main', file: result.file, replace: false })).rejects.toMatchObject({ type: FailureType.DossierExists });
    await backup.restoreDossier({ target: 'main', file: result.file, replace: true });
    expect(await registry.tableStats('main', code!)).toEqual(before);
    expect(tree(documentsFolder(stack.config.documentsDir, 'main', code!))).toEqual(docsBefore);
    // last-backup-at only moves forward (its archives are still there: drill R saw "never"); modified until the next backup
    const replaced = await registry.getDossier('main', code!);
    expect(replaced).toMatchObject({ lastBackupAt: result.snapshotAt, modifiedSinceBackup: true });
    // a copy under a new code was never backed up itself
    expect((await registry.getDossier('main', copy)).lastBackupAt).toBeNull();
  });

  test('without --documents the archive holds no documents and a restore leaves the documents folder alone (R-BK-9)', async () => {
    const [code] = await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 5, prefix: 'NODOC', documentsDir: stack.config.documentsDir });
    const result = await backup.backupDossier({ target: 'main', code: code!, reason: 'manual' });
    expect(result.documents).toBe(0);
    expect((await verifyArchive(result.file)).documents).toBe(0);
    const docs = tree(documentsFolder(stack.config.documentsDir, 'main', code!));
    await backup.restoreDossier({ target: 'main', file: result.file, replace: true });
    expect(tree(documentsFolder(stack.config.documentsDir, 'main', code!))).toEqual(docs);
  });

  test('reason and date sub-folder choose the folder: EchangePrest/, Cloture/, YYYYMMDD in the operator\'s zone, not the worker\'s TZ (R-BK-5)', async () => {
    await registry.createDossier('main', { code: 'FOLDERS', label: 'Dossiers' });
    const ex = await backup.backupDossier({ target: 'main', code: 'FOLDERS', reason: 'echange-prestataire' });
    expect(ex.file).toBe(path.join(stack.config.backupDir, 'EchangePrest', 'BFOLDERS.SVG'));
    // the day in the operator's zone (NIGHTSHIFT_TIMEZONE), as the batch names it, not the worker's TZ: a zone whose
    // date differs from this process's now (UTC+14 or UTC-12: one of them always does)
    const dayIn = (timeZone: string) => new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date()).replace(/-/g, '');
    const here = dayIn(Intl.DateTimeFormat().resolvedOptions().timeZone);
    const timeZone = dayIn('Pacific/Kiritimati') !== here ? 'Pacific/Kiritimati' : 'Etc/GMT+12';
    const before = dayIn(timeZone);
    const inZone = createBackupActivities({ config: { ...stack.config, timeZone }, pools: stack.pools });
    const cl = await inZone.backupDossier({ target: 'main', code: 'FOLDERS', reason: 'cloture', dateSubfolder: true });
    // around midnight there the activity may have read the next day
    expect([before, dayIn(timeZone)].map((day) => path.join(stack.config.backupDir, 'Cloture', day, 'BFOLDERS.SVG'))).toContain(cl.file);
    expect(fs.existsSync(cl.file)).toBe(true);
  });
});

describe('refusals', () => {
  test('a dossier in use is refused, non-retryable DossierInUse, no file, last-backup-at unchanged (R-BK-3)', async () => {
    await registry.createDossier('main', { code: 'INUSE', label: 'Ouvert' });
    const session = crypto.randomUUID();
    await pool().query(`INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, 'marie', 'x', now() + interval '1 hour')`, [session]);
    await pool().query(`INSERT INTO nightshift.session_dossier (session_id, dossier_code) VALUES ($1, 'INUSE')`, [session]);

    const err = (await rejection(backup.backupDossier({ target: 'main', code: 'INUSE', reason: 'manual' }))) as { type: string; nonRetryable: boolean; message: string };
    expect(err.type).toBe(FailureType.DossierInUse);
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toBe(DOSSIER_IN_USE_MESSAGE);
    expect(fs.existsSync(path.join(stack.config.backupDir, 'BINUSE.SVG'))).toBe(false);
    expect((await registry.getDossier('main', 'INUSE')).lastBackupAt).toBeNull();

    // a closed session no longer holds it
    await pool().query(`UPDATE nightshift.session SET closed_at = now() WHERE id = $1`, [session]);
    const ok = await backup.backupDossier({ target: 'main', code: 'INUSE', reason: 'manual' });
    expect(fs.existsSync(ok.file)).toBe(true);
  });

  test('R-BK-3 (drill M, session 37): a table another session holds locked is waited for lock_timeout, then the dossier is in use: non-retryable DossierInUse saying why, no file, nothing recorded', async () => {
    await registry.createDossier('main', { code: 'LOCKED', label: 'Verrouillé' });
    const schema = (await pool().query<{ schema_name: string }>(`SELECT schema_name FROM nightshift.dossier WHERE code = 'LOCKED'`)).rows[0]!.schema_name;
    const table = (await pool().query<{ relname: string }>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 1 LIMIT 1`, [schema])).rows[0]!.relname;
    const holder = await pool().connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${ident(schema)}.${ident(table)} IN ACCESS EXCLUSIVE MODE`);
      const dir = fs.mkdtempSync(path.join(stack.dataDir, 'locked-'));
      const started = Date.now();
      const err = (await rejection(backupDossierArchive({ pool: pool(), target: 'main', code: 'LOCKED', destinationDir: dir, lockWaitSeconds: 1 }))) as { type: string; nonRetryable: boolean; message: string };
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(err.type).toBe(FailureType.DossierInUse);
      expect(err.nonRetryable).toBe(true);
      expect(err.message).toBe(`${DOSSIER_IN_USE_MESSAGE} (a table of dossier LOCKED stayed locked by another session for 1 s)`);
      expect(fs.readdirSync(dir)).toEqual([]);
      expect((await registry.getDossier('main', 'LOCKED')).lastBackupAt).toBeNull();
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    // the lock gone, it backs up
    expect(fs.existsSync((await backup.backupDossier({ target: 'main', code: 'LOCKED', reason: 'manual' })).file)).toBe(true);
  });

  test('R-BK-5: a restore never replaces a dossier whose code differs from its code only by case, with or without replace: non-retryable DossierExists, the other dossier intact (drill finding: --as demo0006 --replace wiped DEMO0006)', async () => {
    const [source, other] = (await generateDemoDossiers(pool(), { target: 'main', count: 2, sizeKb: 5, prefix: 'CASETW' })) as [string, string];
    const { file } = await backup.backupDossier({ target: 'main', code: source, reason: 'manual' });
    const before = await registry.tableStats('main', other);
    const twin = other.toLowerCase();
    for (const replace of [true, false]) {
      const err = await rejection(backup.restoreDossier({ target: 'main', file, as: twin, replace }));
      expect({ replace, type: failureTypeOf(err), nonRetryable: (err as { nonRetryable?: boolean }).nonRetryable }).toEqual({ replace, type: FailureType.DossierExists, nonRetryable: true });
      expect((err as Error).message).toBe(
        `dossier ${other} exists, and ${twin} differs from it only by case (two dossiers never do): nothing restored; restore under ${other} (--replace overwrites it) or under another code`,
      );
    }
    expect(await registry.tableStats('main', other)).toEqual(before);
    const codes = (await pool().query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE lower(code) = lower($1)', [other])).rows.map((r) => r.code);
    expect(codes).toEqual([other]);
    // the same code, exactly: replaced as before
    await backup.restoreDossier({ target: 'main', file, as: other, replace: true });
    expect(await registry.tableStats('main', other)).toEqual(await registry.tableStats('main', source));
  });

  test('an unknown dossier, hostile codes, relative paths and hostile --as codes are refused before any work', async () => {
    await expect(backup.backupDossier({ target: 'main', code: 'NOPE', reason: 'manual' })).rejects.toMatchObject({ type: FailureType.UnknownDossier });
    for (const code of ['../etc', 'a b', 'x;drop schema nightshift', '', 'é', 'a'.repeat(41)]) {
      await expect(backup.backupDossier({ target: 'main', code, reason: 'manual' })).rejects.toMatchObject({ type: FailureType.InvalidInput });
      await expect(backup.restoreDossier({ target: 'main', file: '/tmp/x.SVG', as: code, replace: false })).rejects.toMatchObject({ type: FailureType.InvalidInput });
    }
    await expect(backup.backupDossier({ target: 'main', code: 'X', reason: 'other' as never })).rejects.toMatchObject({ type: FailureType.InvalidInput });
    for (const file of ['relative/BX.SVG', '../BX.SVG', '/tmp/a\0b']) {
      await expect(backup.restoreDossier({ target: 'main', file, replace: false })).rejects.toMatchObject({ type: FailureType.InvalidInput });
    }
    await expect(backup.restoreDossier({ target: 'main', file: '/nonexistent/BX.SVG', replace: false })).rejects.toMatchObject({ type: FailureType.InvalidInput });
  });

  test('objects the format cannot restore exactly are refused as UnsupportedObject', async () => {
    await registry.createDossier('main', { code: 'WITHVIEW', label: 'Vue' });
    await pool().query(`CREATE VIEW d_WITHVIEW.v AS SELECT 1 AS one`.replace('d_WITHVIEW', ident('d_WITHVIEW')));
    await expect(backup.backupDossier({ target: 'main', code: 'WITHVIEW', reason: 'manual' })).rejects.toMatchObject({ type: FailureType.UnsupportedObject });
    expect(fs.existsSync(path.join(stack.config.backupDir, 'BWITHVIEW.SVG'))).toBe(false);
  });

  test('an unwritable destination is a clear DestinationUnwritable failure, nothing recorded', async () => {
    await registry.createDossier('main', { code: 'NOWRITE', label: 'x' });
    const blocker = path.join(stack.dataDir, 'not-a-folder');
    fs.writeFileSync(blocker, 'a file where the backup folder should be');
    const err = await rejection(
      backupDossierArchive({ pool: pool(), target: 'main', code: 'NOWRITE', destinationDir: path.join(blocker, 'sauve') }),
    );
    expect(failureTypeOf(err)).toBe(FailureType.DestinationUnwritable);
    expect((await registry.getDossier('main', 'NOWRITE')).lastBackupAt).toBeNull();
  });

  test('a backup cancelled in the middle of a table (worker shutdown) ends at once: no file, nothing recorded, the pool still answers', async () => {
    // a COPY broken off left the connection mid-COPY with its socket paused; the ROLLBACK after it never returned
    const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 3000, prefix: 'CANCEL' })) as [string];
    const dir = path.join(stack.dataDir, 'cancelled');
    const abort = new AbortController();
    const started = Date.now();
    const err = await rejection(
      backupDossierArchive({
        pool: pool(),
        target: 'main',
        code,
        destinationDir: dir,
        signal: abort.signal,
        onProgress: (p) => {
          if (p.rows > 0) abort.abort(new Error('shutting down'));
        },
      }),
    );
    expect((err as Error).message).toBe('shutting down');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect((await registry.getDossier('main', code)).lastBackupAt).toBeNull();
    expect((await pool().query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });
});

describe('one consistent snapshot (R-BK-6, R-BK-2)', () => {
  test('a write committed while the backup runs is not in the archive and keeps the dossier modified', async () => {
    await registry.createDossier('main', { code: 'RACE', label: 'Course' });
    const s = ident('d_RACE');
    await pool().query(`INSERT INTO ${s}.journal VALUES ('AC', 'Achats', 'achat')`);
    const writer = await pool().connect();
    try {
      // the open write holds the registry row (touch trigger): the backup reads its snapshot, writes the
      // file, then waits for this row to record last-backup-at; the write commits in between
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO ${s}.journal VALUES ('VE', 'Ventes', 'vente')`);
      const running = backup.backupDossier({ target: 'main', code: 'RACE', reason: 'manual' });
      for (let i = 0; i < 400; i++) {
        const { rows } = await pool().query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE nightshift.dossier SET last_backup_at%'`,
        );
        if (rows.length) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await writer.query('COMMIT');
      const result = await running;
      const manifest = await verifyArchive(result.file);
      expect(manifest.tables.find((t) => t.name === 'journal')?.rows).toBe(1);
      const d = await registry.getDossier('main', 'RACE');
      expect(d.lastBackupAt).toBe(result.snapshotAt);
      expect(d.modifiedSinceBackup).toBe(true);
    } finally {
      writer.release();
    }
  });
});

describe("the generation's transaction (R-BK-1, R-BK-6, R-BK-11)", () => {
  const generation = (kindRoot: string) => ({ kindRoot, kind: 'normal' as const, runId: null, reason: 'batch' });
  const recordedOf = async (code: string) => {
    const { rows } = await pool().query<{ generations: number; backup_seq: string | null }>(
      `SELECT (SELECT count(*)::int FROM nightshift.backup_generation WHERE code = $1) AS generations, backup_seq::text FROM nightshift.dossier WHERE code = $1`,
      [code],
    );
    return rows[0];
  };

  test('beforeCommit runs in the commit that records the generation and the last backup: what it writes goes with them', async () => {
    const [code] = await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 2, prefix: 'TXOK' });
    const kindRoot = fs.mkdtempSync(path.join(stack.dataDir, 'gen-'));
    let seen: { inTx: number; outside: number; file: string; bytes: number } | undefined;
    const r = await backupDossierArchive({
      pool: pool(),
      target: 'main',
      code: code!,
      destinationDir: stack.config.backupDir,
      generation: generation(kindRoot),
      beforeCommit: async (tx, g) => {
        const count = 'SELECT count(*)::int AS n FROM nightshift.backup_generation WHERE id = $1';
        seen = { inTx: (await tx.query(count, [g.generationId])).rows[0].n, outside: (await pool().query(count, [g.generationId])).rows[0].n, file: g.file, bytes: g.bytes };
      },
    });
    expect(seen).toEqual({ inTx: 1, outside: 0, file: r.file, bytes: r.bytes });
    expect((await recordedOf(code!))?.generations).toBe(1);
  });

  test('a beforeCommit that throws leaves no generation, no last backup and no generation file (the refusal is what the caller gets)', async () => {
    const [code] = await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 2, prefix: 'TXNO' });
    const kindRoot = fs.mkdtempSync(path.join(stack.dataDir, 'gen-'));
    const refusal = new Error('done in the run already');
    const err = await rejection(
      backupDossierArchive({ pool: pool(), target: 'main', code: code!, destinationDir: stack.config.backupDir, generation: generation(kindRoot), beforeCommit: () => Promise.reject(refusal) }),
    );
    expect(err).toBe(refusal);
    expect(await recordedOf(code!)).toEqual({ generations: 0, backup_seq: null });
    expect(fs.readdirSync(kindRoot, { recursive: true }).filter((f) => String(f).endsWith('.SVG'))).toEqual([]);
  });
});

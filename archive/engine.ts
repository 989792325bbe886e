import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import type { CopyStreamQuery } from 'pg-copy-streams';
import { archiveFileName, archiveTempName, schemaNameFor } from '../domain/dossier';
import { DOSSIER_IN_USE_MESSAGE, FailureType, permanentFailure, schemaMissingMessage } from '../domain/failures';
import type { BackupDossierResult, RestoreDossierResult } from '../workflows/backup-dossier.api';
import { insertDossier } from '../store/dossiers/insert-dossiers';
import { BACKUP_LOCK_WAIT_SECONDS, beginBackupSnapshot } from '../store/catalog/begin-snapshot';
import { copyTableIn, copyTableOut } from '../store/catalog/copy-statements';
import { createTables } from '../store/catalog/create-tables';
import { finishStructure } from '../store/catalog/finish-structure';
import { installTouchTriggers } from '../store/catalog/install-touch-triggers';
import { schemaExists } from '../store/catalog/schema-exists';
import { setLocalSearchPath } from '../store/catalog/set-search-path';
import { backupSnapshotRow } from '../store/dossiers/backup-snapshot-row';
import { deleteDossier } from '../store/dossiers/delete-dossier';
import { keepLastBackupAt } from '../store/dossiers/keep-last-backup-at';
import { lockCodeForRestore } from '../store/dossiers/lock-code-for-restore';
import { recordBackup } from '../store/dossiers/record-backup';
import { setPatchLevel } from '../store/dossiers/set-patch-level';
import { realignRestoredLedger } from '../store/patch/realign-restored-ledger';
import { waitForRepair } from '../store/patch/wait-for-repair';
import { begin, commit, rollback } from '../store/backup/transaction';
import { type ArchiveHeader, CONTROL_CHARACTERS, FORMAT_VERSION, type PartStart, type Structure, copyColumns, documentPathSchema } from './format';
import { invalid, readArchive } from './reader';
import { type BackupKeyring, noteEncryptedGeneration, refusePlainWhereEncrypted } from './keys';
import { readStructure } from './structure';
import { recordGeneration } from '../store/generations/record-generation';
import { recordedFiles } from '../store/generations/recorded-files';
import type { GenerationKind } from '../domain/generation';
import { commitGeneration, generationFileName, generationsDir } from './generations';
import { ARCHIVE_FILE_MODE, ArchiveWriter, type CodecSettings, DEFAULT_CODEC, openPrivateFile, publishSyncedFile } from './writer';

/**
 * The single-dossier backup engine: one dossier into one B{code}.SVG from one consistent snapshot,
 * and back. The activities (activities/backup.ts) wrap these with validation, heartbeats and
 * cancellation; the bench and the atomicity test call them directly.
 */

export interface Progress {
  detail: string;
  bytes: number;
  rows: number;
}

export interface BackupEngineOptions {
  pool: pg.Pool;
  target: string;
  code: string;
  destinationDir: string;
  /** R-BK-3: how long to wait for a table another session holds locked before the dossier is in use (default BACKUP_LOCK_WAIT_SECONDS) */
  lockWaitSeconds?: number;
  /** the dossier's documents folder, when documents are to be included (R-BK-9, default no) */
  documentsFolder?: string;
  codec?: CodecSettings;
  /** the archive's file mode (config.backupFileMode), 0600 by default: client accounting data */
  fileMode?: number;
  /**
   * the operator's keys (archive/keys.ts): the archive is encrypted with the current one; none: a plain archive,
   * refused (BackupKeyMissing) where the target's archives were encrypted before unless `plainOnPurpose`
   */
  keys?: BackupKeyring;
  /** config.backupKeys.plainOnPurpose (NIGHTSHIFT_BACKUP_PLAIN) */
  plainOnPurpose?: boolean;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /**
   * Record the archive as a generation (R-BK-11): its own file below `kindRoot`/generations/<CODE>/, the
   * seed's B{code}.SVG a second name of it, one row in nightshift.backup_generation. Absent: only B{code}.SVG.
   */
  generation?: { kindRoot: string; kind: GenerationKind; runId: number | null; reason: string };
  /**
   * A batch run: a dossier its ledger has already is refused (DossierDoneInRun) before anything is written,
   * in the snapshot's first statement. A chunk's attempt that was superseded while its worker was cut off
   * (frozen, partitioned) and then came back does not back up again what the retry did. Its temporary
   * file is named after the run (archiveTempName), for the run's end to sweep.
   */
  ledgerRunId?: number;
  /** The temporary file's name, for a writer whose own sweep must find it (a patch run's restore point); default archiveTempName. */
  tempName?: (code: string, random: string) => string;
  /**
   * With `generation`: runs in the transaction that records it, after its row (a batch's ledger item, R-BK-1: the
   * dossier done in its run in the same commit as its archive, so a worker killed at any moment leaves both or
   * neither). A throw rolls both back and removes the generation's file, as any failure to record does.
   */
  beforeCommit?: (tx: pg.PoolClient, recorded: { generationId: number; file: string; bytes: number }) => Promise<void>;
}

function destinationUnwritable(dir: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code ?? String(err);
  return permanentFailure(FailureType.DestinationUnwritable, `cannot write backups into ${dir}: ${code}`);
}

/** The archive's temporary file, open; its folder is made only when it is missing (not one mkdir per dossier of a batch). */
async function openArchiveFile(tmp: string, dir: string, mode: number): Promise<fs.promises.FileHandle> {
  try {
    return await openPrivateFile(tmp, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.promises.mkdir(dir, { recursive: true });
  return openPrivateFile(tmp, mode);
}

/** Regular files under `root`, as sorted '/'-separated relative paths; anything else is refused. */
async function listDocuments(root: string): Promise<{ path: string; abs: string }[]> {
  const out: { path: string; abs: string }[] = [];
  async function walk(dir: string, rel: string): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && dir === root) return;
      throw err;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), relPath);
      else if (e.isFile()) {
        if (!documentPathSchema.safeParse(relPath).success) {
          throw permanentFailure(FailureType.UnsupportedObject, `cannot back up document ${JSON.stringify(relPath.slice(0, 100))}: unsupported file name`);
        }
        out.push({ path: relPath, abs: path.join(dir, e.name) });
      } else {
        throw permanentFailure(FailureType.UnsupportedObject, `cannot back up document ${JSON.stringify(relPath.slice(0, 100))}: not a regular file or folder`);
      }
    }
  }
  await walk(root, '');
  return out;
}

/**
 * The catch of a backup whose generation file was committed and not recorded (PostgreSQL restarted, a statement
 * refused): the file goes, best effort (R-BK-11: no archive outside the catalogue; one the catch misses, a killed
 * worker's, is the prune's sweep). B{code}.SVG stays: it holds the same bytes through its own name, a complete and
 * valid archive of the dossier, newer than the last recorded one, where the seed's tools read the latest (the dossier
 * stays modified: the next backup replaces it). A COMMIT whose answer was lost may have recorded it: the row is
 * looked for first, and nothing is removed when that cannot be known (an unrecorded file is the sweep's).
 */
async function removeUnrecorded(client: pg.PoolClient, u: { file: string; committing: boolean }): Promise<void> {
  try {
    // on the backup's own connection (never a wait for the pool's): a connection gone cannot say, and throws
    if (u.committing && (await recordedFiles(client, [u.file])).size) return;
    await fs.promises.rm(u.file, { force: true });
  } catch {
    // best effort: the backup's own failure is what the caller is told
  }
}

export async function backupDossierArchive(o: BackupEngineOptions): Promise<BackupDossierResult> {
  const started = Date.now();
  const codec = o.codec ?? DEFAULT_CODEC;
  if (!o.keys?.current() && !o.plainOnPurpose) await refusePlainWhereEncrypted(o.pool, o.target, o.keys?.file);
  const client = await o.pool.connect();
  let clientError: Error | undefined;
  let writer: ArchiveWriter | undefined;
  let tmp: string | undefined;
  // the generation file once committed, until its row is: `committing`, the COMMIT was sent (its outcome unknown)
  let unrecorded: { file: string; committing: boolean } | undefined;
  let copying = false;
  try {
    await beginBackupSnapshot(client, o.lockWaitSeconds);
    // the first statement takes the snapshot: the registry row, the in-use check and every table below see the same state
    const d = await backupSnapshotRow(client, o.code, o.ledgerRunId);
    if (!d) throw permanentFailure(FailureType.UnknownDossier, `unknown dossier ${o.code} in target ${o.target}`);
    if (d.done_in_run) throw permanentFailure(FailureType.DossierDoneInRun, `dossier ${d.code} is done in backup run ${o.ledgerRunId} already: not backed up again`);
    if (d.in_use) throw permanentFailure(FailureType.DossierInUse, DOSSIER_IN_USE_MESSAGE);
    // an empty archive would pass for its backup, then push its real ones out of retention (drill D)
    if (!d.schema_exists) throw permanentFailure(FailureType.DossierSchemaMissing, schemaMissingMessage(d.code, d.schema_name));

    const structure = await readStructure(client, d.schema_name);
    const documents = o.documentsFolder ? await listDocuments(o.documentsFolder) : [];

    const random = crypto.randomBytes(6).toString('hex');
    const tmpName = path.join(o.destinationDir, o.tempName ? o.tempName(d.code, random) : archiveTempName(d.code, random, o.ledgerRunId));
    let handle: fs.promises.FileHandle;
    try {
      handle = await openArchiveFile(tmpName, o.destinationDir, o.fileMode ?? ARCHIVE_FILE_MODE);
    } catch (err) {
      throw destinationUnwritable(o.destinationDir, err);
    }
    tmp = tmpName;
    // the writer owns the open file and syncs it before closing it: finish() leaves it durable under its temporary name
    writer = new ArchiveWriter(tmp, codec, o.keys?.current(), { handle, sync: true });

    const snapshotAt = d.snapshot_at.toISOString();
    const createdAt = new Date().toISOString();
    const header: ArchiveHeader = {
      formatVersion: FORMAT_VERSION,
      code: d.code,
      // a label stored before the edges refused control characters is written without them (a reader refuses them)
      label: d.label.replace(CONTROL_CHARACTERS, '\uFFFD'),
      role: d.role,
      copyStatus: d.copy_status,
      flags: { test: d.is_test, specific: d.is_specific, template: d.is_template, transferable: d.is_transferable },
      patchLevel: d.patch_level,
      createdAt,
      snapshotAt,
      codec: codec.codec,
      documentsIncluded: o.documentsFolder !== undefined,
    };
    const progress = (detail: string, rows: number) => o.onProgress?.({ detail, rows, bytes: writer!.bytesOut });
    await writer.header(header);
    await writer.startPart('structure', 'structure');
    await writer.data(Buffer.from(JSON.stringify(structure), 'utf8'));
    await writer.endPart();

    const tables: { name: string; rows: number }[] = [];
    let totalRows = 0;
    for (const t of structure.tables) {
      await writer.startPart('table', t.name);
      const stream = copyTableOut(client, d.schema_name, t.name, copyColumns(t));
      let n = 0;
      copying = true;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        o.signal?.throwIfAborted();
        await writer.data(chunk);
        if (++n % 1000 === 0) progress(`table ${t.name}`, totalRows + n);
      }
      copying = false;
      await writer.endPart();
      const rows = await stream.rows;
      tables.push({ name: t.name, rows });
      totalRows += rows;
      progress(`table ${t.name}`, totalRows);
    }
    // the data is read: end the snapshot now rather than hold it while documents are copied
    await commit(client);

    for (const doc of documents) {
      await writer.startPart('document', doc.path);
      for await (const chunk of fs.createReadStream(doc.abs, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
        o.signal?.throwIfAborted();
        await writer.data(chunk);
      }
      await writer.endPart();
      progress(`document ${doc.path}`, totalRows);
    }
    const manifest = await writer.finish({
      formatVersion: FORMAT_VERSION,
      code: d.code,
      patchLevel: d.patch_level,
      createdAt,
      snapshotAt,
      tables,
      documentsIncluded: header.documentsIncluded,
    });

    const file = path.join(o.destinationDir, archiveFileName(d.code));
    const backup = { code: d.code, schema: d.schema_name, snapshotAt: d.snapshot_at, changeSeq: d.change_seq };
    let generationId: number | undefined;
    const size = writer.fileBytes;
    if (o.generation) {
      const g = o.generation;
      const generationFile = path.join(generationsDir(g.kindRoot, d.code), generationFileName(d.code, d.snapshot_at));
      await commitGeneration(tmp, file, generationFile, true);
      tmp = undefined;
      unrecorded = { file: generationFile, committing: false };
      // R-BK-6: recorded only now that both names are complete and durable; the dossier's backup and its generation
      // together, on the snapshot's connection (its snapshot ended; a failure rolls back below)
      await begin(client);
      await recordBackup(client, backup);
      generationId = await recordGeneration(client, {
        code: d.code,
        kind: g.kind,
        file: generationFile,
        links: [file],
        runId: g.runId,
        reason: g.reason,
        snapshotAt: d.snapshot_at,
        size,
        sha256: null,
        keyId: o.keys?.current()?.id ?? null,
        patchLevel: d.patch_level,
        changeSeq: d.change_seq,
        tables: tables.length,
        rowCount: totalRows,
      });
      await o.beforeCommit?.(client, { generationId, file, bytes: size });
      unrecorded.committing = true;
      await commit(client);
      unrecorded = undefined;
      const keyId = o.keys?.current()?.id;
      if (keyId !== undefined) noteEncryptedGeneration(o.pool, { id: generationId, keyId });
    } else {
      await publishSyncedFile(tmp, file, o.destinationDir);
      tmp = undefined;
      // R-BK-6: recorded only now that the file is complete and durable (on the snapshot's connection, its snapshot ended)
      await recordBackup(client, backup);
    }
    return {
      target: o.target,
      code: d.code,
      file,
      bytes: size,
      tables: tables.length,
      rows: totalRows,
      documents: manifest.documents.length,
      durationMs: Date.now() - started,
      snapshotAt,
      ...(generationId !== undefined && { generationId }),
    };
  } catch (err) {
    await writer?.abort();
    // a temporary file left behind must not hide the failure, nor keep the snapshot's transaction open
    if (tmp) await fs.promises.rm(tmp, { force: true }).catch(() => {});
    // A COPY broken off (disk full, cancelled) leaves the connection mid-COPY with its socket paused: a
    // ROLLBACK would wait forever. The connection is dropped instead; the server ends the read-only snapshot.
    if (copying) clientError = err instanceof Error ? err : new Error(String(err));
    else await rollback(client).catch((e: Error) => (clientError = e));
    if (unrecorded) await removeUnrecorded(client, unrecorded);
    // lock_timeout (beginBackupSnapshot): a table held locked by another session is the dossier in use (R-BK-3)
    if ((err as { code?: string }).code === '55P03') {
      throw permanentFailure(FailureType.DossierInUse, `${DOSSIER_IN_USE_MESSAGE} (a table of dossier ${o.code} stayed locked by another session for ${o.lockWaitSeconds ?? BACKUP_LOCK_WAIT_SECONDS} s)`);
    }
    throw err;
  } finally {
    client.release(clientError);
  }
}

export interface RestoreEngineOptions {
  pool: pg.Pool;
  target: string;
  file: string;
  /** what the failures call the archive (default: `file`): `the off-site copy B/K` for a copy read into a temporary file */
  name?: string;
  as?: string;
  replace: boolean;
  /** config.documentsDir: documents go to <documentsDir>/<target>/<code> */
  documentsDir: string;
  /** the keys an encrypted archive needs (one with its key id); a plain archive needs none */
  keys?: BackupKeyring;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** runs in the restore's transaction once the archive is in, before the commit (a ledger row written with it: R-PI-11 rollback) */
  beforeCommit?: (tx: pg.PoolClient, header: ArchiveHeader) => Promise<void>;
  /** a generation's restore: the dossier its archive must be of (a file swapped by hand is refused before anything changes) */
  expectCode?: string;
  /**
   * a generation's restore: the SHA-256 its file must have (recorded by a verification, a copy or a prune), hashed in
   * the restore's own read and checked before the commit; `mismatch` is the failure for another one (rolled back)
   */
  expectSha256?: { sha256: string; mismatch: (sha256: string) => Error };
}

/** PostgreSQL refusing the archive's content (bad data, broken constraint, bad definition) is the archive's fault. */
function isContentError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && ['22', '23', '42', '2B', '0A'].includes(code.slice(0, 2));
}

/**
 * Restores ("remonter") an archive into a dossier inside ONE transaction that commits only once
 * the whole archive has been read and checked. Documents are written to a temporary folder and
 * swapped in after the commit.
 */
export async function restoreDossierArchive(o: RestoreEngineOptions): Promise<RestoreDossierResult> {
  const started = Date.now();
  const client = await o.pool.connect();
  let clientError: Error | undefined;
  let code: string | undefined;
  let header: ArchiveHeader | undefined;
  let structure: Structure | undefined;
  let copy: { stream: CopyStreamQuery; error?: Error } | undefined;
  let doc: fs.WriteStream | undefined;
  let docsTmp: string | undefined;
  let rows = 0;
  let documents = 0;
  let began = false;
  let realigned: number[] = [];

  const parentOfDocs = () => path.join(o.documentsDir, o.target);

  async function write(stream: Writable, chunk: Buffer): Promise<void> {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }

  try {
    const read = await readArchive(o.file, {
      async header(h) {
        if (o.expectCode !== undefined && h.code !== o.expectCode) {
          throw invalid(`${o.name ?? o.file} is an archive of dossier ${h.code}, not of ${o.expectCode}: not this generation's file (replaced by hand?); nothing was changed`);
        }
        header = h;
        code = o.as ?? h.code;
        const schema = schemaNameFor(code);
        await begin(client);
        began = true;
        // a `patch repair` at work ends first: the ledger below is realigned with it (R-PI-8)
        await waitForRepair(client);
        // two restores of one code wait for each other instead of failing half-way
        const old = await lockCodeForRestore(client, code);
        if (old && !o.replace) throw permanentFailure(FailureType.DossierExists, `dossier ${old.code} already exists (restore with --replace to overwrite it)`);
        if (old) {
          if ((await deleteDossier(client, old.code, old.schema_name)) === 'in-use') throw permanentFailure(FailureType.DossierInUse, DOSSIER_IN_USE_MESSAGE);
        }
        if (await schemaExists(client, schema)) throw permanentFailure(FailureType.DossierExists, `schema ${schema} already exists without a registered dossier`);
        // one supervisor per target: a supervisor's archive restored under another code is a regular dossier
        const role = code.toLowerCase() === h.code.toLowerCase() ? h.role : 'regular';
        await insertDossier(client, { code, label: h.label, role, copyStatus: h.copyStatus, flags: h.flags }, false);
        await setPatchLevel(client, code, h.patchLevel);
        if (old?.last_backup_at) await keepLastBackupAt(client, code, old.last_backup_at);
        await setLocalSearchPath(client, schema);
        if (h.documentsIncluded) {
          await fs.promises.mkdir(parentOfDocs(), { recursive: true });
          docsTmp = await fs.promises.mkdtemp(path.join(parentOfDocs(), `.restore-${code}-`));
        }
      },
      async structure(s) {
        structure = s;
        await createTables(client, s);
      },
      async partStart(p: PartStart) {
        if (p.kind === 'table') {
          const table = structure!.tables.find((t) => t.name === p.name)!;
          const stream = copyTableIn(client, table.name, copyColumns(table));
          const c: { stream: CopyStreamQuery; error?: Error } = { stream };
          stream.on('error', (err) => (c.error ??= err));
          copy = c;
        } else {
          if (!docsTmp) throw invalid('document part in an archive without documents');
          const dest = path.resolve(docsTmp, ...p.name.split('/'));
          if (!dest.startsWith(docsTmp + path.sep)) throw invalid(`document path ${p.name} leaves the documents folder`);
          await fs.promises.mkdir(path.dirname(dest), { recursive: true });
          doc = fs.createWriteStream(dest, { flags: 'wx' });
          doc.on('error', () => {});
        }
      },
      async data(chunk) {
        o.signal?.throwIfAborted();
        if (copy) {
          if (copy.error) throw copy.error;
          await write(copy.stream, chunk);
        } else await write(doc!, chunk);
      },
      async partEnd(p, info) {
        if (copy) {
          copy.stream.end();
          await finished(copy.stream);
          if (copy.stream.rowCount !== info.rows) throw invalid(`table ${p.name}: ${copy.stream.rowCount} rows loaded, ${info.rows} in the archive`);
          rows += info.rows;
          copy = undefined;
          o.onProgress?.({ detail: `table ${p.name}`, rows, bytes: 0 });
        } else {
          doc!.end();
          await finished(doc!);
          doc = undefined;
          documents++;
        }
      },
      async manifest(m) {
        if (m.documentsIncluded !== header!.documentsIncluded) throw invalid('manifest and header disagree on documents');
        await finishStructure(client, structure!);
        await setLocalSearchPath(client, undefined);
        // an archive older than a `patch repair`: its ledger takes the repaired checksums (before the touch triggers)
        realigned = await realignRestoredLedger(client, schemaNameFor(code!));
        await installTouchTriggers(client, schemaNameFor(code!));
      },
    }, o.keys, o.name, { hashFile: o.expectSha256 !== undefined });
    if (o.expectSha256 && read.fileSha256 !== o.expectSha256.sha256) throw o.expectSha256.mismatch(read.fileSha256 ?? '');
    await o.beforeCommit?.(client, header!);
    await commit(client);
  } catch (err) {
    copy?.stream.destroy();
    doc?.destroy();
    if (began) await rollback(client).catch((e: Error) => (clientError = e));
    if (docsTmp) await fs.promises.rm(docsTmp, { recursive: true, force: true });
    client.release(clientError);
    if (isContentError(err)) throw invalid(`PostgreSQL refused its content: ${(err as Error).message}`);
    throw err;
  }
  client.release();

  if (docsTmp) {
    const final = path.join(parentOfDocs(), code!);
    const old = `${docsTmp}.old`;
    const hadOld = await fs.promises.rename(final, old).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false;
        throw err;
      },
    );
    await fs.promises.rename(docsTmp, final);
    if (hadOld) await fs.promises.rm(old, { recursive: true, force: true });
  }
  return {
    target: o.target,
    code: code!,
    tables: structure!.tables.length,
    rows,
    documents,
    durationMs: Date.now() - started,
    ...(realigned.length && { ledgerRealigned: realigned }),
  };
}

export { verifyArchive } from './verify';

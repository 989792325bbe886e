import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import type pg from 'pg';
import { BACKUP_KEY_BYTES, type BackupKeySettings, ConfigError, parseBackupKeys } from '../config/config';
import { FailureType, permanentFailure } from '../domain/failures';
import { keptKeyIds } from '../store/generations/kept-key-ids';
import { newestEncryptedGeneration } from '../store/generations/newest-encrypted';
import type { Queryable } from '../store/queryable';

/**
 * The operator's archive keys (R-BK-12, issue 13.2): read from NIGHTSHIFT_BACKUP_KEYS_FILE (default
 * <data dir>/backup-keys) and NIGHTSHIFT_BACKUP_KEYS, never written to the database or a log. New
 * archives use the current key; every key listed stays usable for reading, which is what rotation is.
 */
export class BackupKeyring {
  readonly #keys: ReadonlyMap<string, Buffer>;
  /** the key id new archives use; undefined when no key is given (archives are then written plain) */
  readonly currentId: string | undefined;
  /** the key file this host reads (NIGHTSHIFT_BACKUP_KEYS_FILE, or the data folder's default), for the messages that send the operator to it */
  readonly file: string | undefined;

  constructor(keys: { id: string; key: Buffer }[], currentId?: string, file?: string) {
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
    this.currentId = currentId ?? keys.at(-1)?.id;
    this.file = file;
  }

  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** The key of `id`, for the archive envelope only. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  /** The key new archives use, or undefined (plain archives). */
  current(): { id: string; key: Buffer } | undefined {
    if (this.currentId === undefined) return undefined;
    return { id: this.currentId, key: this.#keys.get(this.currentId)! };
  }

  // printing, inspecting or serialising a keyring shows the ids, never a key
  toJSON(): { currentId?: string; ids: string[] } {
    return { currentId: this.currentId, ids: this.ids };
  }
  toString(): string {
    return `BackupKeyring(${this.ids.join(', ') || 'no keys'})`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

export const NO_KEYS = new BackupKeyring([]);

/**
 * Where a key is to be given, in a message: the key file this host reads, by its path (drill R, session 39: the messages
 * named NIGHTSHIFT_BACKUP_KEYS_FILE while it was not set and the data folder's default file was the one read).
 */
export const keyFileWords = (file: string | undefined): string => (file ? `the key file ${file} (NIGHTSHIFT_BACKUP_KEYS_FILE)` : 'NIGHTSHIFT_BACKUP_KEYS_FILE');

/** The keys kept generations need, each with its count (`k1 (15 generation(s)), k2 (3 generation(s))`): the refusal's and doctor's words. */
export const keptKeysText = (kept: { keyId: string | null; generations: number }[]): string =>
  kept.flatMap((k) => (k.keyId === null ? [] : [`${k.keyId} (${k.generations} generation(s))`])).join(', ');

function keysFailure(message: string): Error {
  return permanentFailure(FailureType.BackupKeyMissing, message);
}

let cached: { file: string; stamp: string; keys: { id: string; key: Buffer }[] } | undefined;

/** The key file's entries, re-read only when the file changes (a rotation needs no restart). */
function fileKeys(s: BackupKeySettings): { id: string; key: Buffer }[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(s.file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !s.fileGiven) return [];
    throw keysFailure(`cannot read the backup key file ${s.file} (NIGHTSHIFT_BACKUP_KEYS_FILE): ${code ?? String(err)}`);
  }
  const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  if (cached?.file === s.file && cached.stamp === stamp) return cached.keys;
  let text: string;
  try {
    text = fs.readFileSync(s.file, 'utf8');
  } catch (err) {
    throw keysFailure(`cannot read the backup key file ${s.file} (NIGHTSHIFT_BACKUP_KEYS_FILE): ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const keys = parsed(() => parseBackupKeys(text, { variable: `NIGHTSHIFT_BACKUP_KEYS_FILE (${s.file})`, lines: true }));
  cached = { file: s.file, stamp, keys };
  return keys;
}

function parsed<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) throw keysFailure(err.message);
    throw err;
  }
}

/**
 * The keyring the configuration describes: the file's keys, then NIGHTSHIFT_BACKUP_KEYS'. A key file
 * that was named but cannot be read, a malformed entry, an id listed twice with two keys, or a
 * NIGHTSHIFT_BACKUP_KEY_ID naming no listed key is a BackupKeyMissing failure (non-retryable).
 */
export function loadBackupKeyring(s: BackupKeySettings): BackupKeyring {
  const keys = [...fileKeys(s)];
  if (s.inline) {
    for (const k of parsed(() => parseBackupKeys(s.inline!.reveal(), { variable: 'NIGHTSHIFT_BACKUP_KEYS', lines: false }))) {
      const same = keys.find((e) => e.id === k.id);
      if (same && !same.key.equals(k.key)) throw keysFailure(`key ${k.id} is given twice with two different keys (key file and NIGHTSHIFT_BACKUP_KEYS)`);
      if (!same) keys.push(k);
    }
  }
  if (s.currentId !== undefined && !keys.some((k) => k.id === s.currentId)) {
    throw keysFailure(
      `NIGHTSHIFT_BACKUP_KEY_ID is ${s.currentId}, but no such key is given (${keys.length ? `given: ${keys.map((k) => k.id).join(', ')}` : 'no backup keys at all'})`,
    );
  }
  return new BackupKeyring(keys, s.currentId, s.file);
}

/** The key ids this host gives, or, when its keys cannot be read, why (read once: `backup info` says it). */
export function readGivenKeyIds(s: BackupKeySettings): { ids: Set<string>; problem?: undefined } | { ids?: undefined; problem: string } {
  try {
    return { ids: new Set(loadBackupKeyring(s).ids) };
  } catch (err) {
    return { problem: err instanceof Error ? err.message : String(err) };
  }
}

/** The key ids this host gives, or undefined when its keys cannot be read (that failure is said where a key is used). */
export function givenKeyIds(s: BackupKeySettings): Set<string> | undefined {
  return readGivenKeyIds(s).ids;
}

/**
 * R-BK-12: the keys kept generations were encrypted with that this host does not give, each with how many use it
 * (`doctor` warns of them): what they hold reads back nowhere here (the batch takes again a dossier whose newest archive is under one). None when the keys cannot be read
 * at all: that is its own failure, said where a key is used.
 */
export async function keptKeysNotGiven(db: Queryable, s: BackupKeySettings): Promise<{ keyId: string; generations: number }[]> {
  const given = givenKeyIds(s);
  if (!given) return [];
  return (await keptKeyIds(db)).flatMap((k) => (k.keyId !== null && !given.has(k.keyId) ? [{ keyId: k.keyId, generations: k.generations }] : []));
}

/** Their ids alone (a batch's claim, its dry run). */
export async function keysNotGiven(db: Queryable, s: BackupKeySettings): Promise<string[]> {
  return (await keptKeysNotGiven(db, s)).map((k) => k.keyId);
}

/** A pool's answer to "were this target's archives encrypted before?": a yes is kept, a no asked again after a minute. */
const encryptedBefore = new WeakMap<pg.Pool, { generation: { id: number; keyId: string } | undefined; at: number; keys?: { text: string; at: number } }>();
const ENCRYPTED_BEFORE_RECHECK_MS = 60_000;

/**
 * R-BK-12: no key where the target's archives were encrypted before is a BackupKeyMissing failure, not a plain
 * archive in silence (a key file gone with a failed mount, emptied by a bad deploy). NIGHTSHIFT_BACKUP_PLAIN=1
 * writes plain archives on purpose. Asked of the database once a minute at most (a partial index answers).
 */
export async function refusePlainWhereEncrypted(pool: pg.Pool, target: string, keyFile?: string): Promise<void> {
  const now = Date.now();
  let known = encryptedBefore.get(pool);
  if (!known || (!known.generation && now - known.at >= ENCRYPTED_BEFORE_RECHECK_MS)) {
    known = { generation: await newestEncryptedGeneration(pool), at: now };
    encryptedBefore.set(pool, known);
  }
  if (known.generation) {
    // every key the kept archives need, not only the newest one's (drill R, session 39: an operator giving back that one
    // alone still could not read the older archives); read once a minute at most, as the refusal repeats per dossier
    if (!known.keys || now - known.keys.at >= ENCRYPTED_BEFORE_RECHECK_MS) {
      known.keys = { text: keptKeysText(await keptKeyIds(pool)), at: now };
    }
    const need = known.keys.text ? `; the kept archives need ${known.keys.text}` : '';
    throw keysFailure(
      `no backup key is given, and the archives of target ${target} are encrypted (generation ${known.generation.id}: key ${known.generation.keyId}${need}): ` +
        `give those keys again (${keyFileWords(keyFile)}, or NIGHTSHIFT_BACKUP_KEYS), or set NIGHTSHIFT_BACKUP_PLAIN=1 to write plain archives on purpose`,
    );
  }
}

/**
 * The same rule from the configuration, where a run's chunk starts (a batch, a patch run with restore points): no
 * key for new archives and no NIGHTSHIFT_BACKUP_PLAIN where the target's archives are encrypted is BackupKeyMissing.
 */
export async function requireKeyWhereEncrypted(pool: pg.Pool, target: string, s: BackupKeySettings): Promise<void> {
  if (!s.plainOnPurpose && !loadBackupKeyring(s).current()) await refusePlainWhereEncrypted(pool, target, s.file);
}

/** An encrypted generation was just recorded through `pool`: this process knows at once (refusePlainWhereEncrypted). */
export function noteEncryptedGeneration(pool: pg.Pool, generation: { id: number; keyId: string }): void {
  encryptedBefore.set(pool, { generation, at: Date.now() });
}

/** Whether the configuration gives any key (else archives are written plain). */
export function backupKeysGiven(s: BackupKeySettings): boolean {
  return s.fileGiven || s.inline !== undefined || fs.existsSync(s.file);
}

/**
 * `nightshift dev` and the cluster: encryption on by default for a new deployment. When no key is
 * given anywhere, a fresh random key is written to the default key file (0600; written under a temporary
 * name, fsynced, then linked: an existing key file is never replaced). Returns the file written, or undefined when keys were already given.
 */
export function ensureBackupKeyFile(s: BackupKeySettings, now = new Date()): string | undefined {
  if (backupKeysGiven(s)) return undefined;
  const id = `k${now.toISOString().slice(0, 10).replace(/-/g, '')}-${crypto.randomBytes(3).toString('hex')}`;
  const text = [
    '# Nightshift backup keys (issue 13.2): one id=base64 line per key (32 random bytes).',
    '# New archives use NIGHTSHIFT_BACKUP_KEY_ID, else the last key listed; every key listed stays readable.',
    '# Rotation: append a new line (openssl rand -base64 32); keep the old lines while their archives are kept.',
    '# KEEP A COPY OF THIS FILE OFF THIS MACHINE: without its key an archive cannot be read by anyone.',
    `${id}=${crypto.randomBytes(BACKUP_KEY_BYTES).toString('base64')}`,
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(s.file), { recursive: true });
  const tmp = `${s.file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // never replaces a key file (a second starter may have written one meanwhile): a key lost is every archive of it lost
    fs.linkSync(tmp, s.file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return undefined;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return s.file;
}

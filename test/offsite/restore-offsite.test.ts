import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { createVerifyActivities, offsiteCheckOf } from '../../activities/verify';
import { loadConfig } from '../../config/config';
import { failureTypeOf } from '../../domain/failures';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { runCli, stackCliEnv } from '../helpers/cli';
import { createTestWorker } from '../helpers/env';
import { createActivities } from '../../workers/activities';
import { lazyOffsiteStore } from '../../offsite/lazy';
import { batchAndFollowUps, useOffsiteStack } from './offsite-stack';
import { createDossiers } from '../workflows/backup-batch-helpers';

/**
 * R-BK-14, R-BK-11: a generation is restored from its off-site copy when its file is not on the worker (the backup
 * disk lost, the share unmounted), or on demand (`--from offsite`); the copy is checked against what was recorded
 * before anything is restored, and nothing is left in the worker's TMPDIR. On real servers: the Temporal dev
 * server, PostgreSQL, versitygw; the CLI as a process.
 */

const off = useOffsiteStack('restore-offsite/', { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');
const cli = (args: string[]) => runCli(args, stackCliEnv(off.stack), 120_000);
const NOW = '2099-01-01';

let tmp: string;
const savedTmp = process.env.TMPDIR;
beforeEach(() => {
  // the in-process worker's TMPDIR: what a restore from a copy leaves there is seen
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-restore-tmp-'));
  process.env.TMPDIR = tmp;
});
afterEach(() => {
  process.env.TMPDIR = savedTmp;
  fs.rmSync(tmp, { recursive: true, force: true });
});

const dossierExists = async (code: string) => (await pool().query('SELECT 1 FROM nightshift.dossier WHERE code = $1', [code])).rowCount === 1;

test('R-BK-14: the backup disk lost: restore --at reads the off-site copy; --from local refuses, naming --from offsite; the worker keeps nothing of it', async () => {
  await createDossiers(off.stack, [{ code: 'L1' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', ok: 1 });
    const [g] = await dossierGenerations(pool(), 'L1');
    expect(g).toMatchObject({ offsiteState: 'copied' });
    // the dossier's whole local folder goes (the generation's file and its B{code}.SVG name)
    fs.rmSync(path.dirname(g!.file), { recursive: true });
    for (const link of g!.links) fs.rmSync(link, { force: true });

    const local = await cli(['backup', 'restore', 'L1', '--at', NOW, '--as', 'L1A', '--from', 'local', '--wait']);
    expect(local.code).toBe(1);
    expect(local.stdout + local.stderr).toContain(`the archive of generation ${g!.id} of dossier L1 is not on this worker (${g!.file}): read its off-site copy with --from offsite`);
    expect(await dossierExists('L1A')).toBe(false);

    const r = await cli(['backup', 'restore', 'L1', '--at', NOW, '--as', 'L1B', '--wait', '--json']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ from: 'auto', generation: { id: g!.id, offsiteCopy: { bucket: g!.offsiteBucket, key: g!.offsiteKey } } });
    expect(out.result).toMatchObject({ code: 'L1B', rows: g!.rowCount, tables: g!.tables, offsiteCopy: { bucket: g!.offsiteBucket, key: g!.offsiteKey } });
    expect(await dossierExists('L1B')).toBe(true);
    // the lease was released, and the temporary folder removed
    expect((await pool().query('SELECT 1 FROM nightshift.backup_generation_lease WHERE generation_id = $1', [g!.id])).rowCount).toBe(0);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('nightshift-restore-'))).toEqual([]);

    const text = await cli(['backup', 'restore', 'L1', '--at', NOW, '--as', 'L1C', '--wait']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`(its off-site copy ${g!.offsiteBucket}/${g!.offsiteKey} if the file is not on the worker)`);
    expect(text.stdout).toContain(`restored dossier L1C from generation ${g!.id} (its off-site copy ${g!.offsiteBucket}/${g!.offsiteKey}): ${g!.tables} tables, ${g!.rowCount} rows`);
  });
});

test('R-BK-14 R-BK-11: the database and the backup disk lost together: `backup restore --all --at` reads each dossier from its off-site copy, once, and the worker keeps nothing of them', async () => {
  await createDossiers(off.stack, [{ code: 'A1' }, { code: 'A2' }, { code: 'A3' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // the file's earlier tests left dossiers of their own in this stack (restored ones too: backed up with these)
    const batch = await batchAndFollowUps(off);
    expect(batch.state).toBe('completed');
    expect(batch.ok).toBeGreaterThanOrEqual(3);
    for (const code of ['A1', 'A2', 'A3']) {
      const [g] = await dossierGenerations(pool(), code);
      expect(g).toMatchObject({ offsiteState: 'copied' });
      fs.rmSync(path.dirname(g!.file), { recursive: true, force: true });
      for (const link of g!.links) fs.rmSync(link, { force: true });
      await pool().query(`DROP SCHEMA "d_${code}" CASCADE`);
      await pool().query('DELETE FROM nightshift.dossier WHERE code = $1', [code]);
    }
    const r = await cli(['backup', 'restore', '--all', '--at', NOW, '--wait']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    // the earlier tests' dossiers are there: kept, not read
    expect(r.stdout).toMatch(/\n3 \/ \d+ dossier\(s\) restored, \d+ kept \(already there\), 0 failed\nrestored: A1 A2 A3\n/);
    for (const code of ['A1', 'A2', 'A3']) expect(await dossierExists(code)).toBe(true);
    const { rows } = await pool().query<{ code: string; n: number }>(`SELECT code, count(*)::int AS n FROM nightshift.restore_run_item WHERE status = 'ok' AND code LIKE 'A_' GROUP BY code ORDER BY code`);
    expect(rows).toEqual([{ code: 'A1', n: 1 }, { code: 'A2', n: 1 }, { code: 'A3', n: 1 }]);
    expect((await pool().query('SELECT 1 FROM nightshift.backup_generation_lease')).rowCount).toBe(0);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('nightshift-restore-'))).toEqual([]);
  });
});

test('R-BK-14: restore --wait with the storage away says each new attempt and why (no silent wait), then ends restored once it is back', async () => {
  await createDossiers(off.stack, [{ code: 'W1' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed' });
    const [g] = await dossierGenerations(pool(), 'W1');
    expect(g).toMatchObject({ offsiteState: 'copied' });
    await off.s3.kill();
    let restarted = false;
    try {
      const waiting = cli(['backup', 'restore', 'W1', '--at', NOW, '--as', 'W1A', '--from', 'offsite', '--wait']);
      // the restore's activity fails and is tried again: once its second attempt is pending, the storage comes back
      const handle = off.temporal.client.workflow.getHandle('restore-dossier/main/W1A');
      const deadline = Date.now() + 90_000;
      for (;;) {
        const pending = await handle.describe().then((d) => d.raw.pendingActivities ?? [], () => []);
        if (pending.some((a) => (a.attempt ?? 1) >= 2)) break;
        if (Date.now() > deadline) throw new Error('the restore was not retried');
        await new Promise((r) => setTimeout(r, 1_000));
      }
      await new Promise((r) => setTimeout(r, 6_000)); // the CLI looks every 5 s
      await off.s3.restart();
      restarted = true;
      const r = await waiting;
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/still waiting: restoreDossier failed \(attempt 1\): off-site storage failed while reading \S+ \(ECONNREFUSED[^\n]*; Temporal tries again\n/);
      expect(r.stdout).toContain(`restored dossier W1A from generation ${g!.id}`);
    } finally {
      if (!restarted) await off.s3.restart();
    }
  });
}, 240_000);

test('R-BK-14 / R-BK-13: --from offsite reads the copy although the file is there; a copy that is not the archive, or gone, is refused before anything is restored; a generation found corrupt here is read from its copy', async () => {
  await createDossiers(off.stack, [{ code: 'O1' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // (the dossiers the test before restored are backed up too)
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
    const [g] = await dossierGenerations(pool(), 'O1');

    const wanted = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1A', '--from', 'offsite', '--wait']);
    expect(wanted.code).toBe(0);
    expect(wanted.stdout).toContain(`, read from its off-site copy ${g!.offsiteBucket}/${g!.offsiteKey}\n`);
    expect(wanted.stdout).toContain(`restored dossier O1A from generation ${g!.id} (its off-site copy`);

    // a verification found the local file corrupt: without --from, its copy is restored (said so); --from local refuses
    await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'corrupt' WHERE id = $1`, [g!.id]);
    const corrupt = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1B', '--wait']);
    expect(corrupt.code).toBe(0);
    expect(corrupt.stdout).toContain(`generation ${g!.id}'s file is corrupt (backup verify): its off-site copy is restored\n`);
    expect(corrupt.stdout).toContain(`restored dossier O1B from generation ${g!.id} (its off-site copy`);
    const localOnly = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1C', '--from', 'local']);
    expect(localOnly.code).toBe(2);
    expect(localOnly.stderr).toContain('its off-site copy can be restored with --from offsite');
    await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'ok' WHERE id = $1`, [g!.id]);

    // another archive under the copy's key (a storage fault, a hand): refused, nothing restored
    const other = path.join(tmp, 'other.SVG');
    fs.writeFileSync(other, 'not the archive');
    await off.store.upload({ file: other, key: g!.offsiteKey! });
    const wrong = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1D', '--from', 'offsite', '--wait']);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout + wrong.stderr).toContain(`the off-site copy ${g!.offsiteBucket}/${g!.offsiteKey} is not the archive of generation ${g!.id}: read 15 bytes`);
    // recorded, as a verification would: the file is intact, so the next batch copies it again first
    expect(wrong.stdout + wrong.stderr).toContain('; recorded: the next backup batch copies it again first');
    expect(await dossierExists('O1D')).toBe(false);
    expect((await dossierGenerations(pool(), 'O1'))[0]).toMatchObject({ id: g!.id, offsiteState: 'failed', offsiteError: expect.stringContaining('(restore) the off-site copy') as string });
    const noCopy = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1D', '--from', 'offsite']);
    expect(noCopy.code).toBe(2);
    expect(noCopy.stderr).toContain(`has an off-site copy (generation ${g!.id}: off-site failed)`);
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
    const recopied = (await dossierGenerations(pool(), 'O1'))[0];
    expect(recopied).toMatchObject({ id: g!.id, offsiteState: 'copied' });

    // damaged in the storage (a byte flipped under versitygw, drill of 2026-12-06): the storage's own checksum refuses
    // what is read; said at once as a damaged copy (not "the storage away", retried for minutes), recorded, nothing restored
    const object = path.join(off.s3!.dataDir, recopied!.offsiteBucket!, recopied!.offsiteKey!);
    const bytes = fs.readFileSync(object);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    fs.writeFileSync(object, bytes);
    const damaged = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1F', '--from', 'offsite', '--wait']);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout + damaged.stderr).toContain(`the off-site copy ${recopied!.offsiteBucket}/${recopied!.offsiteKey} of generation ${g!.id} is damaged: the bytes read do not match the storage's own checksum`);
    expect(damaged.stdout + damaged.stderr).not.toMatch(/still waiting|OffsiteUnavailable/);
    expect(await dossierExists('O1F')).toBe(false);
    expect((await dossierGenerations(pool(), 'O1'))[0]).toMatchObject({ id: g!.id, offsiteState: 'failed' });
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
    expect((await dossierGenerations(pool(), 'O1'))[0]).toMatchObject({ id: g!.id, offsiteState: 'copied' });

    // gone, and the local file too: recorded lost (the next batch backs the dossier up again)
    await off.store.deleteObject(recopied!.offsiteKey!);
    await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'missing' WHERE id = $1`, [g!.id]);
    const gone = await cli(['backup', 'restore', 'O1', '--at', NOW, '--as', 'O1E', '--from', 'offsite', '--wait']);
    expect(gone.code).toBe(1);
    expect(gone.stdout + gone.stderr).toContain(`the off-site copy of generation ${g!.id} of dossier O1 is not in the storage (no object ${recopied!.offsiteKey} in bucket ${recopied!.offsiteBucket}); recorded lost (its local file is gone or damaged too)`);
    expect(await dossierExists('O1E')).toBe(false);
    expect((await dossierGenerations(pool(), 'O1'))[0]).toMatchObject({ id: g!.id, offsiteState: 'failed' });
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('nightshift-restore-'))).toEqual([]);
  });
});

test('R-BK-14 / R-BK-11: the disk lost, then a backup without a copy lost too: restore --at reads the older generation\'s copy, and retention keeps that one, not the record of nothing', async () => {
  await createDossiers(off.stack, [{ code: 'M1' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
  });
  const [copied] = await dossierGenerations(pool(), 'M1');
  expect(copied).toMatchObject({ offsiteState: 'copied' });
  const bare = await createBackupActivities({ config: { ...off.stack.config, offsite: undefined }, pools: off.stack.pools }).backupDossier({ target: 'main', code: 'M1', reason: 'manual' });
  const gens = await dossierGenerations(pool(), 'M1');
  // both files gone, and a verification has recorded it
  for (const g of gens) {
    fs.rmSync(g.file, { force: true });
    await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'missing' WHERE id = $1`, [g.id]);
  }
  const list = await cli(['backup', 'list', 'M1']);
  expect(list.stdout).toMatch(new RegExp(`restore one: nightshift backup restore M1 --at '[^']+' --as NEWCODE`));
  const dry = await cli(['backup', 'prune', '--dry-run', '--json']);
  expect(dry.code).toBe(0);
  const plan = (await cli(['backup', 'list', 'M1', '--json'])).stdout;
  const byId = new Map((JSON.parse(plan).generations as { id: number; kept: boolean; keptBecause: string[] }[]).map((g) => [g.id, g]));
  expect(byId.get(bare.generationId!)).toMatchObject({ kept: false });
  expect(byId.get(copied!.id)).toMatchObject({ kept: true });

  const worker2 = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker2.runUntil(async () => {
    const r = await cli(['backup', 'restore', 'M1', '--at', NOW, '--as', 'M1R', '--wait']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`generation ${bare.generationId}, taken `);
    expect(r.stdout).toContain(', is missing (backup verify), with no off-site copy: an older one is restored\n');
    expect(r.stdout).toContain(`generation ${copied!.id}'s file is missing (backup verify): its off-site copy is restored\n`);
    expect(r.stdout).toContain(`restored dossier M1R from generation ${copied!.id} (its off-site copy`);
    // a copy that failed (or was found lost) is said so, not "no off-site copy" (drill B, session 35)
    await pool().query(`UPDATE nightshift.backup_generation SET offsite_state = 'failed', offsite_error = 'found lost' WHERE id = $1`, [bare.generationId]);
    const failedCopy = await cli(['backup', 'restore', 'M1', '--at', NOW, '--as', 'M1S', '--wait']);
    expect(failedCopy.code).toBe(0);
    expect(failedCopy.stdout).toContain(', is missing (backup verify), its off-site copy failed or was found lost: an older one is restored\n');
  });
});

test('R-BK-14: --from is checked before anything starts; a generation without a copy is passed over for --from offsite, and said so; a worker without a store says what it lacks', async () => {
  await createDossiers(off.stack, [{ code: 'N1' }]);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed', failed: 0 });
  });
  const [g] = await dossierGenerations(pool(), 'N1');

  const bad = await cli(['backup', 'restore', 'N1', '--at', NOW, '--from', 's3']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--from: expected local or offsite');
  // over an existing dossier without --replace (or beside it without --as): refused before anything starts
  const exists = await cli(['backup', 'restore', 'N1', '--at', NOW, '--from', 'offsite']);
  expect(exists.code).toBe(2);
  expect(exists.stderr).toContain('dossier N1 already exists: restore beside it with --as NEWCODE, or over it with --replace');
  const file = await cli(['backup', 'restore', g!.file, '--from', 'offsite']);
  expect(file.code).toBe(2);
  expect(file.stderr).toContain('--from is for a generation');

  // a newer generation without a copy (a worker with no bucket wrote it) is passed over for the one with a copy
  const backup = createBackupActivities({ config: { ...off.stack.config, offsite: undefined }, pools: off.stack.pools });
  const newer = await backup.backupDossier({ target: 'main', code: 'N1', reason: 'manual' });
  const passed = await cli(['backup', 'restore', 'N1', '--at', NOW, '--as', 'N1X', '--from', 'offsite', '--json']);
  expect(passed.code).toBe(0);
  expect(JSON.parse(passed.stdout)).toMatchObject({ from: 'offsite', generation: { id: g!.id }, passedOver: { id: newer.generationId, offsiteState: 'none' } });
  await off.temporal.client.workflow.getHandle(JSON.parse(passed.stdout).workflowId).terminate('the test only looks at the choice');

  // an encrypted generation's copy read by a worker without its key: the failure names the copy, not the worker's
  // temporary file (gone by then), and nothing is restored. (From here on the target's archives count as encrypted
  // (R-BK-12): no test after this one backs up with the plain stack.)
  const keyed = { ...off.stack.config, backupKeys: loadConfig({ NIGHTSHIFT_DATA_DIR: tmp, NIGHTSHIFT_BACKUP_KEYS: `kr1=${crypto.randomBytes(32).toString('base64')}` }).backupKeys };
  const enc = await createBackupActivities({ config: keyed, pools: off.stack.pools }).backupDossier({ target: 'main', code: 'N1', reason: 'manual' });
  const encGen = (await dossierGenerations(pool(), 'N1')).find((x) => x.id === enc.generationId)!;
  expect(encGen.keyId).toBe('kr1');
  const encKey = off.store.keyOf('main', 'N1', path.basename(encGen.file));
  const up = await off.store.upload({ file: encGen.file, key: encKey });
  await pool().query(`UPDATE nightshift.backup_generation SET offsite_state = 'copied', offsite_bucket = $2, offsite_key = $3, sha256 = $4, offsite_at = now() WHERE id = $1`, [encGen.id, off.store.bucket, encKey, up.sha256]);
  const noKey = createBackupActivities({ config: { ...off.stack.config, backupKeys: { ...off.stack.config.backupKeys, file: path.join(tmp, 'none.keys'), fileGiven: false, inline: undefined } }, pools: off.stack.pools });
  const keyErr = await noKey.restoreDossier({ target: 'main', file: encGen.file, as: 'N1K', replace: false, generationId: encGen.id, from: 'offsite' }).catch((e: unknown) => e);
  expect(failureTypeOf(keyErr)).toBe('BackupKeyMissing');
  expect((keyErr as Error).message).toContain(`the off-site copy ${off.store.bucket}/${encKey} is encrypted with backup key kr1`);
  expect((keyErr as Error).message).not.toContain('nightshift-restore-');
  expect(await dossierExists('N1K')).toBe(false);

  // that worker reads a generation's copy only with a store of its own
  const err = await backup.restoreDossier({ target: 'main', file: g!.file, as: 'N1Y', replace: false, generationId: g!.id, from: 'offsite' }).catch((e: unknown) => e);
  expect(failureTypeOf(err)).toBe('OffsiteNotConfigured');
  expect((err as Error).message).toContain(`is to be read from its off-site copy ${g!.offsiteBucket}/${g!.offsiteKey}, but this worker has no off-site store`);
  expect(await dossierExists('N1Y')).toBe(false);
});

test('R-BK-14: the storage away during a restore from the copy: a retryable failure, nothing restored, nothing left; back, the same restore goes through', async () => {
  const copy = (await dossierGenerations(pool(), 'N1')).find((x) => x.offsiteState === 'copied' && x.keyId === null)!;
  const backup = createBackupActivities({ config: off.stack.config, pools: off.stack.pools, offsiteStore: lazyOffsiteStore(off.stack.config.offsite, { maxAttempts: 1, connectionTimeoutMs: 1_000 }) });
  const input = { target: 'main', file: copy.file, as: 'N1Z', replace: false, generationId: copy.id, from: 'offsite' as const };
  await off.s3.kill();
  try {
    const err = await backup.restoreDossier(input).catch((e: unknown) => e);
    expect(failureTypeOf(err)).toBe('OffsiteUnavailable');
    expect((err as { nonRetryable?: boolean }).nonRetryable).toBe(false);
    expect((err as Error).message).toMatch(/^off-site storage failed while reading \S+ \(ECONNREFUSED/);
    expect(await dossierExists('N1Z')).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.startsWith('nightshift-restore-'))).toEqual([]);
  } finally {
    await off.s3.restart();
  }
  expect(await backup.restoreDossier(input)).toMatchObject({ code: 'N1Z', rows: copy.rowCount, offsiteCopy: { bucket: copy.offsiteBucket, key: copy.offsiteKey } });
  expect(await dossierExists('N1Z')).toBe(true);
});


test('R-BK-12 / R-BK-13: a generation whose file is gone and whose copy is whole, encrypted with a key the worker lacks (lost after a rotation), is verified `key`, not ok: no restore could read it (drill D)', async () => {
  await createDossiers(off.stack, [{ code: 'NV1' }]);
  const keyed = { ...off.stack.config, backupKeys: loadConfig({ NIGHTSHIFT_DATA_DIR: tmp, NIGHTSHIFT_BACKUP_KEYS: `kv1=${crypto.randomBytes(32).toString('base64')}` }).backupKeys };
  const enc = await createBackupActivities({ config: keyed, pools: off.stack.pools }).backupDossier({ target: 'main', code: 'NV1', reason: 'manual' });
  const g = (await dossierGenerations(pool(), 'NV1')).find((x) => x.id === enc.generationId)!;
  const key = off.store.keyOf('main', 'NV1', path.basename(g.file));
  const up = await off.store.upload({ file: g.file, key });
  await pool().query(`UPDATE nightshift.backup_generation SET offsite_state = 'copied', offsite_bucket = $2, offsite_key = $3, sha256 = $4, offsite_at = now() WHERE id = $1`, [g.id, off.store.bucket, key, up.sha256]);
  // the disk lost: the file and its other names
  for (const f of new Set([g.file, ...g.links])) fs.rmSync(f, { force: true });
  const verifyWith = async (config: typeof off.stack.config) => {
    const v = createVerifyActivities({ config, pools: off.stack.pools, offsiteCheck: offsiteCheckOf(lazyOffsiteStore(off.stack.config.offsite)) });
    const claim = await v.claimVerifyRun({ target: 'main', codes: ['NV1'], full: true, trigger: 'manual', workflowId: `backup-verify/main/nv1-${crypto.randomUUID()}` });
    const page = await v.selectVerifyPage({ target: 'main', scope: claim.scope, cursor: 0, limit: 10 });
    await v.verifyChunk({ target: 'main', runId: claim.runId, codes: page.codes, sample: claim.sample, concurrency: 1, timeBudgetMs: 60_000 });
    return (await pool().query<{ status: string; error: string }>('SELECT status, error FROM nightshift.verify_run_item WHERE run_id = $1 AND generation_id = $2', [claim.runId, g.id])).rows[0]!;
  };
  const lacking = { ...off.stack.config, backupKeys: loadConfig({ NIGHTSHIFT_DATA_DIR: tmp, NIGHTSHIFT_BACKUP_KEYS: `kv2=${crypto.randomBytes(32).toString('base64')}` }).backupKeys };
  expect(await verifyWith(lacking)).toEqual({
    status: 'key',
    error: `le fichier ${g.file} n'existe plus; copie externe ${off.store.bucket}/${key} entière, but encrypted with backup key kv1, and the keys given are kv2: no restore can read it until that key is given (NIGHTSHIFT_BACKUP_KEYS_FILE or NIGHTSHIFT_BACKUP_KEYS)`,
  });
  // with its key, the copy is what a restore reads: said so
  expect(await verifyWith(keyed)).toEqual({ status: 'missing', error: `le fichier ${g.file} n'existe plus; copie externe ${off.store.bucket}/${key} vérifiée : une restauration la lit` });
});

test('R-BK-14 (drill S, session 39; session 40): a restore run with the storage away fails only the dossiers whose copy it needs, the first after a few tries, the next at once (not tried: a storage that never answers cost each 30 s), and goes on with the others; --retry restores them once it is back', async () => {
  await createDossiers(off.stack, [{ code: 'SA1' }, { code: 'SA2' }, { code: 'SA3' }]);
  // plain archives on purpose: a test above leaves this target's archives encrypted under keys no worker has
  const config = { ...off.stack.config, backupKeys: { ...off.stack.config.backupKeys, plainOnPurpose: true } };
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection, { activities: createActivities({ config, pools: off.stack.pools }) });
  await worker.runUntil(async () => {
    expect(await batchAndFollowUps(off)).toMatchObject({ state: 'completed' });
    // SA1's and SA3's files lost (only their copies are left), SA2's kept; the three dossiers lost
    const [lost] = await dossierGenerations(pool(), 'SA1');
    const [lost3] = await dossierGenerations(pool(), 'SA3');
    for (const g of [lost, lost3]) {
      expect(g).toMatchObject({ offsiteState: 'copied' });
      fs.rmSync(path.dirname(g!.file), { recursive: true, force: true });
      for (const link of g!.links) fs.rmSync(link, { force: true });
    }
    for (const code of ['SA1', 'SA2', 'SA3']) await pool().query(`DROP SCHEMA "d_${code}" CASCADE`);
    await off.s3.kill();
    let restarted = false;
    try {
      const started = Date.now();
      const r = await cli(['backup', 'restore', '--codes', 'SA1,SA2,SA3', '--at', NOW, '--wait']);
      // a few tries in place, not Temporal's twenty retries of the whole chunk (14 minutes in the drill)
      expect(Date.now() - started).toBeLessThan(90_000);
      expect(r.code).toBe(1);
      const runId = Number(/restore run (\d+)/.exec(r.stdout + r.stderr)![1]);
      const items = (await pool().query<{ code: string; status: string; error: string | null }>('SELECT code, status, error FROM nightshift.restore_run_item WHERE run_id = $1 ORDER BY code', [runId])).rows;
      expect(items).toEqual([
        { code: 'SA1', status: 'failed', error: expect.stringMatching(new RegExp(`^generation ${lost!.id} not restored: off-site storage failed while reading \\S+ \\(ECONNREFUSED.*; once the storage answers: nightshift backup restore --retry ${runId}`)) as string },
        { code: 'SA2', status: 'ok', error: null },
        // the storage failed SA1's three tries moments ago: SA3's copy is not tried (a pause of 30 s, then one try tells)
        {
          code: 'SA3',
          status: 'failed',
          error: expect.stringMatching(
            new RegExp(`^generation ${lost3!.id} not restored: its copy not tried: the off-site storage has been failing since .+ \\(\\S+\\), last: off-site storage failed while reading \\S+ \\(ECONNREFUSED.*; once the storage answers: nightshift backup restore --retry ${runId} --target main --wait$`),
          ) as string,
        },
      ]);
      expect(await dossierExists('SA2')).toBe(true);
      await off.s3.restart();
      restarted = true;
      const again = await cli(['backup', 'restore', '--retry', String(runId), '--wait']);
      expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
      expect(again.stdout).toMatch(/\nrestored: SA1 SA3\n/);
    } finally {
      if (!restarted) await off.s3.restart();
    }
  });
}, 240_000);

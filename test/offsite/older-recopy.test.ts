import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR, migrate } from '../../db/migrate';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { createTestWorker, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { runCli, stackCliEnv } from '../helpers/cli';
import { batchAndFollowUps, useOffsiteStack, verifyCodes } from './offsite-stack';
import { createDossiers, ledger, modify } from '../workflows/backup-batch-helpers';

/**
 * R-BK-14, R-BK-13, R-BK-4 (migration 0019): off-site copies an operator never has to chase by hand. A lost copy of
 * an OLDER kept generation is made again by the next batch (no new archive of an unmodified dossier), and a dossier
 * whose archive predates generations is backed up again by the next batch that copies off-site, first. On real
 * servers: the Temporal dev server, PostgreSQL, versitygw.
 */

const off = useOffsiteStack('older-recopy/', { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');

const batch = () => batchAndFollowUps(off);
const verify = (codes: string[]) => verifyCodes(off, codes);

const pending = async () =>
  (await pool().query<{ code: string; generation_id: string | null }>('SELECT code, generation_id FROM nightshift.backup_offsite_pending ORDER BY code')).rows;

test('R-BK-13, R-BK-14, R-BK-4: an OLDER generation\'s object deleted: the verification records it failed, the next batch copies it again first (no new generation), failing the dossier while the storage is away; the verification after is clean', async () => {
  // B0 sorts first: taken first only by the priority phase, so O1 before it proves the reselection
  const codes = ['B0', 'O1'];
  await createDossiers(off.stack, codes.map((code) => ({ code })));
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batch()).toMatchObject({ state: 'completed', ok: 2 });
    await modify(pool(), 'O1');
    expect(await batch()).toMatchObject({ state: 'completed', total: 1, ok: 1 });
    const [newest, older] = await dossierGenerations(pool(), 'O1');
    expect([newest!.offsiteState, older!.offsiteState]).toEqual(['copied', 'copied']);
    expect(await pending()).toEqual([]);

    // the older object goes behind Nightshift's back (a lifecycle rule, an operator, a storage fault)
    await off.store.deleteObject(older!.offsiteKey!);
    const found = await verify(codes);
    expect(found).toMatchObject({ state: 'problems', total: 3, ok: 2, problems: 1 });
    expect(found.failures.map((f) => f.code)).toEqual(['O1']);
    const item = (await pool().query<{ generation_id: string; status: string; error: string }>('SELECT generation_id, status, error FROM nightshift.verify_run_item WHERE run_id = $1 AND code = $2 AND status <> $3', [found.runId, 'O1', 'ok'])).rows;
    // the older one too is copied again now: the report says so, not "pas recopiée"
    expect(item).toEqual([{ generation_id: String(older!.id), status: 'offsite', error: expect.stringMatching(/^copie à refaire, la prochaine sauvegarde la recopie en premier; copie externe /) as string }]);
    expect((await dossierGenerations(pool(), 'O1'))[1]).toMatchObject({ id: older!.id, verifyState: 'ok', offsiteState: 'failed' });
    // pending with no archive of the newest to copy: the newest is copied, an older copy is left to make
    expect(await pending()).toEqual([{ code: 'O1', generation_id: null }]);
    // the dry run says which archive's copy is to make (drill E: it said "its newest archive" of an older one's)
    const dry = await runCli(['backup', 'run', '--dry-run', '--json'], { ...stackCliEnv(off.stack), ...off.s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'older-recopy/' }) }, 60_000);
    expect((JSON.parse(dry.stdout) as { dossiers: { code: string; why: string }[] }).dossiers.find((d) => d.code === 'O1')!.why).toBe(
      'a kept archive of it other than the newest has no good off-site copy (its copy failed or was found lost), taken first (R-BK-14)',
    );

    // a night with the storage away: O1 (unmodified) is taken, its older copy fails, so the dossier is not done
    await off.s3.kill();
    const away = await batch();
    expect(away).toMatchObject({ state: 'partial', total: 1, ok: 0, failed: 1 });
    const [failedItem] = await ledger(pool(), away.runId);
    expect(failedItem).toMatchObject({ code: 'O1', status: 'failed' });
    expect(failedItem!.error).toMatch(
      new RegExp(`^Echec du traitement\\. off-site copy failed: older archive ${path.basename(older!.file).replace(/\./g, '\\.')} \\(normal, ${older!.snapshotAt.toISOString().replace(/\./g, '\\.')}\\) not copied again: `),
    );
    expect(await pending()).toEqual([{ code: 'O1', generation_id: null }]);
    await off.s3.restart();

    // the next night: O1 unmodified, taken first, its older archive copied again; B0 modified, after it
    await modify(pool(), 'B0');
    const next = await batch();
    expect(next).toMatchObject({ state: 'completed', total: 2, ok: 2, failed: 0 });
    expect((await ledger(pool(), next.runId)).map((i) => [i.code, i.status])).toEqual([
      ['O1', 'ok'],
      ['B0', 'ok'],
    ]);
    const o1 = await dossierGenerations(pool(), 'O1');
    expect(o1.map((g) => g.id)).toEqual([newest!.id, older!.id]);
    expect(o1[1]).toMatchObject({ offsiteState: 'copied', offsiteKey: older!.offsiteKey, offsiteError: null });
    expect(o1[0]).toMatchObject({ offsiteState: 'copied', offsiteAt: newest!.offsiteAt });
    expect(await off.store.checkObject(older!.offsiteKey!, { size: older!.size, sha256: older!.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await off.store.listDossier('main', 'O1')).toHaveLength(2);
    expect(await pending()).toEqual([]);

    const clean = await verify(codes);
    expect(clean).toMatchObject({ state: 'completed', total: 4, ok: 4, problems: 0 });
    expect(await batch()).toMatchObject({ state: 'completed', total: 0 });
  });
}, 600_000);

test('R-BK-14, R-BK-4: a dossier backed up before generations existed (B{code}.SVG, no generation) is backed up again and copied by the next batch, first; an unmodified one after it is left alone', async () => {
  const codes = ['C0', 'G1', 'G2'];
  await createDossiers(off.stack, codes.map((code) => ({ code })));
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batch()).toMatchObject({ state: 'completed', ok: 3 });
    // G1 as a deployment from before generations left it: its B{code}.SVG, no generation row, nothing in the bucket
    const [g] = await dossierGenerations(pool(), 'G1');
    const seed = g!.links[0]!;
    await off.store.deleteObject(g!.offsiteKey!);
    await pool().query("DELETE FROM nightshift.backup_generation WHERE code = 'G1'");
    fs.unlinkSync(g!.file);
    expect(fs.existsSync(seed)).toBe(true);
    expect(await pending()).toEqual([{ code: 'G1', generation_id: null }]);

    await modify(pool(), 'C0');
    const next = await batch();
    expect(next).toMatchObject({ state: 'completed', total: 2, ok: 2, failed: 0 });
    expect((await ledger(pool(), next.runId)).map((i) => [i.code, i.status])).toEqual([
      ['G1', 'ok'],
      ['C0', 'ok'],
    ]);
    const [backedUp, ...none] = await dossierGenerations(pool(), 'G1');
    expect(none).toEqual([]);
    expect(backedUp).toMatchObject({ runId: next.runId, kind: 'normal', offsiteState: 'copied', links: [seed] });
    expect(await off.store.checkObject(backedUp!.offsiteKey!, { size: backedUp!.size, sha256: backedUp!.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await pending()).toEqual([]);
    expect(await batch()).toMatchObject({ state: 'completed', total: 0 });
  });
}, 600_000);

/** A database with nothing in it, migrated up to `last` only (a copy of db/migrations up to that number). */
async function databaseAt(last: string): Promise<string> {
  const name = uniqueName('pending').toLowerCase();
  const admin = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(requireEnv('NS_TEST_PG_ADMIN_URL'));
  url.pathname = `/${name}`;
  const dir = tempDir('migrations');
  for (const f of fs.readdirSync(MIGRATIONS_DIR)) if (f.slice(0, 4) <= last) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  await migrate(url.toString(), undefined, { dir });
  return url.toString();
}

test('R-BK-14 (migration 0019): the upgrade fills the pending set for existing rows, and the trigger follows a verification of a failed copy', async () => {
  const url = await databaseAt('0018');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(`INSERT INTO nightshift.dossier (code, label, schema_name) SELECT c, 'd', 'd_' || lower(c) FROM unnest(ARRAY['NEW', 'PRE', 'OLD', 'LOST', 'NEWEST', 'DONE', 'CLO']) c`);
    // backed up before: every dossier but NEW (never backed up: selected as such, no need to be pending)
    await db.query("UPDATE nightshift.dossier SET backup_seq = change_seq WHERE code <> 'NEW'");
    const gen = (code: string, kind: string, days: number, offsite: string, verify = 'ok') =>
      db.query(
        `INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, offsite_state, verify_state)
         VALUES ($1::text, $2, '/b/' || $1::text || '.' || $3::int, now() - $3::int * interval '1 day', 1000, $4, $5) RETURNING id`,
        [code, kind, days, offsite, verify],
      );
    // PRE: no generation at all (before 0013). OLD: an older copy failed, file intact. LOST: an older copy failed,
    // file missing. NEWEST: the newest not copied (0017 had it). DONE: all copied. CLO: a Cloture copy failed, and
    // no 'normal' generation (its normal archive predates generations)
    await gen('OLD', 'normal', 1, 'copied');
    const oldFailed = (await gen('OLD', 'normal', 2, 'failed')).rows[0].id as string;
    await gen('LOST', 'normal', 1, 'copied');
    await gen('LOST', 'normal', 2, 'failed', 'missing');
    const newest = (await gen('NEWEST', 'normal', 1, 'failed')).rows[0].id as string;
    await gen('NEWEST', 'normal', 2, 'copied');
    await gen('DONE', 'normal', 1, 'copied');
    await gen('DONE', 'normal', 2, 'copied');
    await gen('CLO', 'Cloture', 1, 'failed');
    const rows = async () => (await db.query<{ code: string; generation_id: string | null }>('SELECT code, generation_id FROM nightshift.backup_offsite_pending ORDER BY code')).rows;
    expect(await rows()).toEqual([{ code: 'NEWEST', generation_id: newest }]);

    await migrate(url);
    expect(await rows()).toEqual([
      { code: 'CLO', generation_id: null },
      { code: 'NEWEST', generation_id: newest },
      { code: 'OLD', generation_id: null },
      { code: 'PRE', generation_id: null },
    ]);

    // the trigger after the upgrade: OLD's failed copy found corrupt (nothing to copy), then intact again, then copied
    await db.query("UPDATE nightshift.backup_generation SET verify_state = 'corrupt' WHERE id = $1", [oldFailed]);
    expect((await rows()).map((r) => r.code)).toEqual(['CLO', 'NEWEST', 'PRE']);
    await db.query("UPDATE nightshift.backup_generation SET verify_state = 'ok' WHERE id = $1", [oldFailed]);
    expect((await rows()).map((r) => r.code)).toEqual(['CLO', 'NEWEST', 'OLD', 'PRE']);
    await db.query("UPDATE nightshift.backup_generation SET offsite_state = 'copied' WHERE id = $1", [oldFailed]);
    expect((await rows()).map((r) => r.code)).toEqual(['CLO', 'NEWEST', 'PRE']);
    // PRE backed up by a batch: its new generation is the one to copy, then nothing once copied
    const pre = (await gen('PRE', 'normal', 0, 'none')).rows[0].id as string;
    expect(await rows()).toContainEqual({ code: 'PRE', generation_id: pre });
    await db.query("UPDATE nightshift.backup_generation SET offsite_state = 'copied' WHERE id = $1", [pre]);
    expect((await rows()).map((r) => r.code)).toEqual(['CLO', 'NEWEST']);
  } finally {
    await db.end();
  }
});

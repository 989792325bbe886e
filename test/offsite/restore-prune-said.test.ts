import fs from 'node:fs';
import { createBackupActivities } from '../../activities/backup';
import { copyGenerationOffsite } from '../../activities/offsite';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import { runCli, stackCliEnv } from '../helpers/cli';
import { createTestWorker } from '../helpers/env';
import { createDossiers } from '../workflows/backup-batch-helpers';
import { contentsOf, writeTo } from '../workflows/backup-restore-run-helpers';
import { useOffsiteStack } from './offsite-stack';
import { damageInPlace } from '../helpers/damage';

/**
 * What the operator is told, from the outside, of what a restore, a restore run and a prune found or held back, and
 * where the copies are (R-BK-11, R-BK-13, R-BK-14): a local archive a restore finds damaged is recorded on its generation
 * as a verification records it; a restore run says which dossiers it read from their off-site copy; a prune says what it
 * held back because the storage could not be asked; `backup info` names every bucket holding copies. Real servers:
 * PostgreSQL, the Temporal dev server, versitygw; the CLI as a process.
 */

const off = useOffsiteStack('said/');
const pool = () => off.stack.pools.get('main');
const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { ...stackCliEnv(off.stack), ...env }, 120_000);
const NOW = '2099-01-01';

/** A backup of each dossier, copied off-site (`copied`) or not; the generation ids. */
async function backUp(codes: string[], copied: boolean): Promise<Record<string, number>> {
  const backup = createBackupActivities({ config: off.stack.config, pools: off.stack.pools });
  const ids: Record<string, number> = {};
  for (const code of codes) {
    ids[code] = (await backup.backupDossier({ target: 'main', code, reason: 'manual' })).generationId!;
    if (copied) expect(await copyGenerationOffsite({ db: pool(), store: () => off.store, target: 'main', generationId: ids[code] })).toMatchObject({ ok: true });
  }
  return ids;
}

const generation = async (code: string, id: number) => (await dossierGenerations(pool(), code)).find((g) => g.id === id)!;


/** The generation's file and its other names gone (a disk lost). */
async function loseFile(code: string, id: number): Promise<void> {
  const g = await generation(code, id);
  for (const f of [g.file, ...g.links]) fs.rmSync(f, { force: true });
}

test('R-BK-13: a single restore that finds the local archive damaged records it on the generation, as a verification would: backup list shows it, the next batch takes the dossier again', async () => {
  await createDossiers(off.stack, [{ code: 'S1' }]);
  const { S1: id } = await backUp(['S1'], false);
  damageInPlace((await generation('S1', id!)).file);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'restore', 'S1', '--at', NOW, '--as', 'S1X', '--wait']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ArchiveInvalid: invalid archive: ');
    expect(r.stderr).toContain(`; recorded corrupt on generation ${id}: the next backup batch backs S1 up again`);
  });
  expect(await generation('S1', id!)).toMatchObject({ verifyState: 'corrupt', verifyError: expect.stringMatching(/^\(restore\) invalid archive: /) });
  expect((await cli(['backup', 'list', 'S1'])).stdout).toMatch(new RegExp(`\\n +${id} .* corrupt \\d{4}-\\d\\d-\\d\\d`));
  // unmodified since, but its newest archive unreadable: taken again (R-BK-13)
  const dry = JSON.parse((await cli(['backup', 'run', '--dry-run', '--only', 'S1', '--json'])).stdout) as { dossiers: { code: string; why: string }[] };
  expect(dry.dossiers).toEqual([expect.objectContaining({ code: 'S1', why: expect.stringContaining('its newest archive was found corrupt or missing (R-BK-13)') })]);
});

test('R-BK-14 / R-BK-13: a restore run says which dossiers it read from their off-site copy, and why; one whose local archive it found damaged is recorded corrupt and read from its copy', async () => {
  await createDossiers(off.stack, [{ code: 'R1' }, { code: 'R2' }, { code: 'R3' }]);
  const ids = await backUp(['R1', 'R2', 'R3'], true);
  const backedUp = await contentsOf(pool(), ['R1', 'R2', 'R3']);
  for (const code of ['R1', 'R2', 'R3']) await writeTo(pool(), code, 'after the backup');
  await loseFile('R1', ids.R1!);
  damageInPlace((await generation('R2', ids.R2!)).file);
  const copy = await generation('R1', ids.R1!);
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const r = await cli(['backup', 'restore', '--codes', 'R1,R2,R3', '--at', NOW, '--replace', '--yes', '--wait']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toContain('3 / 3 dossier(s) restored, 0 kept (already there), 0 failed\n');
    expect(r.stdout).toContain(
      `note: 2 dossier(s) restored from the off-site copy of their generation, not from its local file: R1 (its file not on the worker); ` +
        `R2 (its file found damaged by this restore, recorded corrupt) (bucket ${copy.offsiteBucket}); 'nightshift backup list CODE' shows each generation's state\n`,
    );
    const runId = Number(/\(restore run (\d+)\)/.exec(r.stdout)![1]);
    const shown = JSON.parse((await cli(['backup', 'restore', '--run', String(runId), '--json'])).stdout);
    expect(shown.readFromCopy).toEqual({
      total: 2,
      dossiers: [
        { code: 'R1', copy: `${copy.offsiteBucket}/${copy.offsiteKey}`, why: 'its file not on the worker' },
        { code: 'R2', copy: expect.stringMatching(/\/R2\//), why: 'its file found damaged by this restore, recorded corrupt' },
      ],
    });
    // who found it is said as it is: a restore, not a verification
    const again = await cli(['backup', 'restore', 'R2', '--at', NOW, '--as', 'R2B', '--wait']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`generation ${ids.R2}'s file is corrupt (found by a restore): its off-site copy is restored\n`);
  });
  // each as it was backed up; R2's damaged file recorded as a verification records it
  expect(await contentsOf(pool(), ['R1', 'R2', 'R3'])).toEqual(backedUp);
  expect(await generation('R2', ids.R2!)).toMatchObject({ verifyState: 'corrupt', offsiteState: 'copied' });
  expect(await generation('R3', ids.R3!)).toMatchObject({ verifyState: 'unverified' });
});

test("R-BK-14: backup info names every bucket holding copies, with counts, when one is not this host's (the bucket changed)", async () => {
  await createDossiers(off.stack, [{ code: 'B1' }, { code: 'B2' }]);
  const ids = await backUp(['B1', 'B2'], true);
  // B1's copy made before NIGHTSHIFT_OFFSITE_S3_BUCKET changed (fixture SQL: where it was recorded)
  await pool().query(`UPDATE nightshift.backup_generation SET offsite_bucket = 'nightshift-before' WHERE id = $1`, [ids.B1]);
  try {
    const env = off.s3.env({ NIGHTSHIFT_OFFSITE_S3_PREFIX: 'said/' });
    const text = await cli(['backup', 'info'], env);
    expect(text.code).toBe(0);
    const bucket = off.s3.bucket;
    const { rows } = await pool().query<{ n: number; d: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT code)::int AS d FROM nightshift.backup_generation WHERE deleted_at IS NULL AND offsite_state = 'copied' AND offsite_bucket = $1`,
      [bucket],
    );
    const w = Math.max(bucket.length, 'nightshift-before'.length);
    expect(text.stdout).toContain(`\n    s3://${bucket.padEnd(w)}  ${rows[0]!.n} kept generation(s) of ${rows[0]!.d} dossier(s) copied, the last at `);
    expect(text.stdout).toMatch(
      new RegExp(
        `\\n {4}s3://${'nightshift-before'.padEnd(w)} {2}1 kept generation\\(s\\) of 1 dossier\\(s\\) copied, the last at [\\d -:]+: not this host's bucket; restores and verifications read these copies there, prunes delete them there: keep the workers' access to it until retention has pruned them\\n`,
      ),
    );
    const json = JSON.parse((await cli(['backup', 'info', '--json'], env)).stdout);
    expect(json.offsiteBuckets).toEqual([
      expect.objectContaining({ bucket, copied: rows[0]!.n, thisHosts: true }),
      expect.objectContaining({ bucket: 'nightshift-before', copied: 1, dossiers: 1, failed: 0, pruned: 0, thisHosts: false }),
    ]);
    // one bucket, this host's: no line of buckets
    await pool().query(`UPDATE nightshift.backup_generation SET offsite_bucket = $2 WHERE id = $1`, [ids.B1, bucket]);
    expect((await cli(['backup', 'info'], env)).stdout).not.toContain('\n    s3://');
  } finally {
    await pool().query(`UPDATE nightshift.backup_generation SET offsite_bucket = $2 WHERE id = $1`, [ids.B1, off.s3.bucket]);
  }
});

test('R-BK-11 / R-BK-14: a prune that held generations back because the storage could not be asked says which and why in its result; the next prune, the storage back, deletes them', async () => {
  await createDossiers(off.stack, [{ code: 'P1' }, { code: 'P2' }]);
  const older = await backUp(['P1', 'P2'], true);
  const newer = await backUp(['P1', 'P2'], true);
  // the disk lost for both of P1's archives and for P2's newer one: only their copies can say they read back
  for (const [code, id] of [['P1', older.P1], ['P1', newer.P1], ['P2', newer.P2]] as const) await loseFile(code, id!);
  await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    await off.s3.kill();
    let restarted = false;
    try {
      const r = await cli(['backup', 'prune', '--wait']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toContain(
        '\nheld back 2 generation(s) the retention policy deletes: a check before deleting could not be made (the off-site storage, a key); kept for now, the next prune checks them again\n',
      );
      expect(r.stdout).toMatch(new RegExp(`\\n  P1: generation ${older.P1} \\(normal\\) of [\\d -:]+: could not be checked \\([^\\n]*ECONNREFUSED[^\\n]*\\)\\n  P2: `));
      expect(r.stdout).toMatch(
        new RegExp(`\\n  P2: generation ${older.P2} \\(normal\\) of [\\d -:]+: kept while the kept generation ${newer.P2} \\([^\\n]*\\) could not be checked: it is the only one that reads back\\n`),
      );
      for (const [code, id] of [['P1', older.P1], ['P2', older.P2]] as const) expect(await generation(code, id!)).toMatchObject({ deletedAt: null });
      await off.s3.restart();
      restarted = true;
      const again = JSON.parse((await cli(['backup', 'prune', '--wait', '--json'])).stdout);
      expect(again.result).toMatchObject({ state: 'completed', deleted: 2 });
      expect(again.result.heldBack).toBeUndefined();
    } finally {
      if (!restarted) await off.s3.restart();
    }
  });
  const kept = async (code: string) => (await dossierGenerations(pool(), code)).map((g) => g.id);
  expect({ P1: await kept('P1'), P2: await kept('P2') }).toEqual({ P1: [newer.P1], P2: [newer.P2] });
});

import crypto from 'node:crypto';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { generateDemoDossiers } from '../../registry/demo';
import { useCliStack } from '../helpers/cli';

/**
 * `nightshift backup info`: the target's backup store at a glance, as pgBackRest's `info` / restic's `stats` give it
 * (issue 13: generations and retention R-BK-11, verification R-BK-13, off-site copies R-BK-14, keys R-BK-12), and
 * the nightly selection's dossiers with no kept generation (R-BK-2). A process on real servers, read only.
 */

const ctx = useCliStack(90_000);
const cli = ctx.cli;
const pool = () => ctx.stack.pools.get('main');
const PARIS = { TZ: 'Europe/Paris', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' };
const KEY = `k-2026=${crypto.randomBytes(32).toString('base64')}`;

interface InfoJson {
  target: string;
  folder: string;
  offsite: unknown;
  kept: { generations: number; bytes: number; dossiers: number; oldest: string | null; newest: string | null };
  kinds: { kind: string; generations: number; dossiers: number }[];
  verify: { ok: number; unverified: number; corrupt: number; missing: number };
  offsiteCopies: { copied: number; failed: number; none: number };
  keys: { keyId: string | null; generations: number; givenHere: boolean | null }[];
  keysProblem: string | null;
  pruned: { generations: number; lastAt: string | null };
  dossiers: { registered: number; nightly: number; uncovered: string[]; uncoveredTotal: number; modified: number };
  lastBatch: unknown;
  lastVerify: unknown;
}

test('an empty store: nothing kept, every dossier of the nightly selection named as without a generation, no batch, no verification yet', async () => {
  await generateDemoDossiers(pool(), { target: 'main', count: 3, sizeKb: 5, prefix: 'INF' });
  // the demo makes some copies and test dossiers: three originals the nightly selection takes
  await pool().query(`UPDATE nightshift.dossier SET is_template = false, is_test = false, is_transferable = true, copy_status = 'original'`);
  const r = await cli(['backup', 'info'], PARIS);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain('backup store of target main; times in Europe/Paris\n');
  expect(r.stdout).toContain(`  folder       ${ctx.stack.dataDir}/sauve\n`);
  expect(r.stdout).toContain(`  reports      ${ctx.stack.dataDir}/sauve/log; mailed to nobody: no report recipients are set (R-BK-8; 'nightshift backup settings set report-recipients ops@example.com' or NIGHTSHIFT_BACKUP_REPORT_TO)\n`);
  expect(r.stdout).toContain('  off-site     none on this host (NIGHTSHIFT_OFFSITE_S3_BUCKET unset)\n');
  expect(r.stdout).toContain("  kept         no generation: nothing backed up yet ('nightshift backup run' backs up the modified dossiers)\n");
  expect(r.stdout).toMatch(/ {2}dossiers {5}3 registered, 3 in the nightly selection \(R-BK-2\), 3 of them modified since their last backup; 3 of them without any kept generation: INF0001, INF0002, INF0003 \(the next batch takes them\)\n/);
  expect(r.stdout).toContain('  last batch   none yet\n');
  expect(r.stdout).toContain("  last verify  none yet ('nightshift backup verify' reads back what is kept)\n");
  expect(r.stdout).toMatch(/ {2}retention {4}normal last=2,daily=7,weekly=4,monthly=3 \(default\); EchangePrest .*; Cloture .*\n$/);
});

test('R-BK-11 R-BK-13 R-BK-14 R-BK-12: kept per kind, verification and off-site states, keys with those this host does not give, pruned, coverage', async () => {
  const backup = createBackupActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const ids: number[] = [];
  for (const code of ['INF0001', 'INF0001', 'INF0002']) ids.push((await backup.backupDossier({ target: 'main', code, reason: 'manual' })).generationId!);
  const cloture = (await backup.backupDossier({ target: 'main', code: 'INF0002', reason: 'cloture' })).generationId!;
  // the states a verification, an off-site copy, a rotation and a prune leave (fixture SQL)
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'ok', verified_at = now(), offsite_state = 'copied' WHERE id = $1`, [ids[1]]);
  await pool().query(`UPDATE nightshift.backup_generation SET verify_state = 'corrupt', verified_at = now(), offsite_state = 'failed', key_id = 'old-2025' WHERE id = $1`, [ids[2]]);
  await pool().query(`UPDATE nightshift.backup_generation SET key_id = 'k-2026' WHERE id = $1`, [cloture]);
  await pool().query(`UPDATE nightshift.backup_generation SET deleted_at = '2026-12-01T03:00:00Z', deleted_by = 'backup-prune/main/x' WHERE id = $1`, [ids[0]]);
  await pool().query(`UPDATE nightshift.dossier SET change_seq = change_seq + 1 WHERE code = 'INF0001'`);

  expect((await cli(['backup', 'settings', 'set', 'report-recipients', 'ops@example.com,dba@example.com'])).code).toBe(0);
  const json = JSON.parse((await cli(['backup', 'info', '--json'], { ...PARIS, NIGHTSHIFT_BACKUP_KEYS: KEY })).stdout) as InfoJson;
  expect(json).toMatchObject({ reports: { recipients: ['ops@example.com', 'dba@example.com'] } });
  const { rows } = await pool().query<{ size: string }>('SELECT sum(size) AS size FROM nightshift.backup_generation WHERE deleted_at IS NULL');
  expect(json.kept).toMatchObject({ generations: 3, dossiers: 2, bytes: Number(rows[0]!.size) });
  expect(json.kinds.map((k) => [k.kind, k.generations, k.dossiers])).toEqual([
    ['Cloture', 1, 1],
    ['normal', 2, 2],
  ]);
  expect(json.verify).toEqual({ ok: 1, unverified: 1, corrupt: 1, missing: 0 });
  expect(json.offsiteCopies).toEqual({ copied: 1, failed: 1, none: 1 });
  expect(json.keys).toEqual([
    { keyId: 'k-2026', generations: 1, givenHere: true },
    { keyId: 'old-2025', generations: 1, givenHere: false },
    { keyId: null, generations: 1, givenHere: null },
  ]);
  expect(json.pruned).toEqual({ generations: 1, lastAt: '2026-12-01 04:00:00' });
  expect(json.dossiers).toEqual({ registered: 3, nightly: 3, modified: 2, uncovered: ['INF0003'], uncoveredTotal: 1 });
  // the key's value is never shown
  const text = await cli(['backup', 'info'], { ...PARIS, NIGHTSHIFT_BACKUP_KEYS: KEY });
  expect(text.stdout + text.stderr + JSON.stringify(json)).not.toContain(KEY.split('=')[1]!.slice(0, 12));
  expect(text.stdout).toContain(`  reports      ${ctx.stack.dataDir}/sauve/log; mailed on a problem to ops@example.com, dba@example.com\n`);
  expect(text.stdout).toMatch(/ {2}kept {9}3 generation\(s\) of 2 dossier\(s\), [\d.]+ KiB; oldest 2026-\d\d-\d\d \d\d:\d\d:\d\d, newest /);
  expect(text.stdout).toMatch(/\n {4}Cloture {6}1 generation\(s\) of 1 dossier\(s\)/);
  expect(text.stdout).toContain("  verified     1 ok, 1 not verified yet, 1 corrupt, 0 missing (of INF0002: 'nightshift backup list CODE' shows which; the next batch backs up again a dossier whose newest normal archive is so, R-BK-13; an EchangePrest or Cloture one only at its next event, R-BK-9)\n");
  expect(json).toMatchObject({ unreadable: { codes: ['INF0002'], total: 1 } });
  expect(text.stdout).toContain('  off-site     none on this host (NIGHTSHIFT_OFFSITE_S3_BUCKET unset); kept generations: 1 copied, 1 not copied, 1 failed\n');
  expect(text.stdout).toContain('  keys         k-2026 1, old-2025 1 (not given on this host), plain 1: restoring or verifying those fails with BackupKeyMissing');
  expect(text.stdout).toContain('  pruned       1 generation(s), the last at 2026-12-01 04:00:00\n');
  expect(json.keysProblem).toBeNull();
  expect(text.stdout).not.toContain("this host's keys cannot be read");
  // this host's keys unreadable (a key file gone, an entry that is no key): said, never shown as all well (drill X,
  // session 40), and no key material in what is said
  for (const env of [{ NIGHTSHIFT_BACKUP_KEYS_FILE: path.join(ctx.stack.dataDir, 'no-such-key-file') }, { NIGHTSHIFT_BACKUP_KEYS: 'ops=NotBase64SecretMaterial!!' }] as Record<string, string>[]) {
    const broken = await cli(['backup', 'info'], { ...PARIS, ...env });
    expect(broken.code).toBe(0);
    expect(broken.stdout).toMatch(/\n {15}but this host's keys cannot be read \(.+\): every encrypted generation is unreadable here; 'nightshift doctor' says more\n/);
    expect(broken.stdout).not.toContain('NotBase64SecretMaterial');
    expect(JSON.parse((await cli(['backup', 'info', '--json'], { ...PARIS, ...env })).stdout).keysProblem).toEqual(expect.any(String));
  }
  expect(text.stdout).toContain('3 in the nightly selection (R-BK-2), 2 of them modified since their last backup; 1 of them without any kept generation: INF0003 (the next batch takes them)\n');
});

test('a template is not counted in the nightly selection; an unknown target is refused (exit 2)', async () => {
  await pool().query(`UPDATE nightshift.dossier SET is_template = true WHERE code = 'INF0003'`);
  const json = JSON.parse((await cli(['backup', 'info', '--json'])).stdout) as InfoJson;
  expect(json.dossiers).toMatchObject({ registered: 3, nightly: 2, uncovered: [], uncoveredTotal: 0 });
  const r = await cli(['backup', 'info', '--target', 'nowhere']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/nowhere/);
});

import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { ident, qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { summaryLines, type DossierPlan, type PlanHistory, type PlanSummary } from '../../domain/patch-plan';
import { generateDemoPatches } from '../../patches/demo';
import { sealPatchPackage } from '../../patches/package';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { demoDossiers, openWindow, runPatch } from '../workflows/patch-helpers';

/** `nightshift patch plan` against the real servers (R-PI-10): what a run would do, nothing changed, and the run doing just that. */

const ctx = useCliStack(120_000);
const cli = ctx.cli;

jest.setTimeout(240_000);

interface PlanJson {
  target: string;
  patches: { first: number; last: number };
  packages: { number: number; source: string }[];
  prerequisites: { name: string; ok: boolean }[];
  dossiers: DossierPlan[];
  summary: PlanSummary;
  refusals: { rule: string; type: string; message: string }[];
  estimate: { seconds: number | null; history: PlanHistory | null };
  changed: false;
}

beforeAll(async () => {
  await demoDossiers(ctx.stack, 8);
});

/** An md5 of every row of every table of the control schema and of every dossier schema. */
async function tableChecksums(pool: pg.Pool): Promise<Record<string, string>> {
  const { rows: tables } = await pool.query<{ schema: string; name: string }>(
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND (table_schema = 'nightshift' OR table_schema LIKE 'd\\_%') ORDER BY 1, 2`,
  );
  const out: Record<string, string> = {};
  for (const t of tables) {
    const { rows } = await pool.query<{ sum: string }>(`SELECT md5(coalesce(string_agg(md5(x::text), '' ORDER BY md5(x::text)), '')) AS sum FROM ${qualified(t.schema, t.name)} x`);
    out[`${t.schema}.${t.name}`] = rows[0]!.sum;
  }
  return out;
}

test('R-PI-10: plan shows per dossier what the run would do and why, by category in text, changes no table; R-PI-1 and an unknown dossier are refusals (exit 1)', async () => {
  const pool = ctx.stack.pools.get('main');
  const dir = tempDir('plan-demo');
  await generateDemoPatches(dir, 4);
  const before = await tableChecksums(pool);
  expect(Object.keys(before).length).toBeGreaterThan(8);

  const text = await cli(['patch', 'plan', dir]);
  expect(text.stderr).toBe('');
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^patch plan for main: patches 1 → 4 \(4 from .*, 0 stored\)$/m);
  expect(text.stdout).toMatch(/^ {2}NOT MET maintenance window in progress: .* \(needed when the run starts\)$/m);
  expect(text.stdout).toMatch(/^supervisor DEMO0001: level 0 → 4, patched first, alone$/m);
  expect(text.stdout).toMatch(/^dossiers: 8 targeted, 8 to patch, 0 up to date, 0 refused \(R-PI-8\)$/m);
  expect(text.stdout).toMatch(/^patches 1-4: 1: 8 apply; 2: 8 apply; 3: 8 apply; 4: 1 apply, 7 not applicable \(R-PI-6\)$/m);
  expect(text.stdout).toMatch(/^treatments: .*inherited from the supervisor \(R-PI-4\).*kept \(already held: its own, or one an earlier patch installed\) \(R-PI-5\).*not for this dossier \(not of type specific\) \(R-PI-5\)/m);
  expect(text.stdout).toMatch(/^content \(R-PI-7\): 24 structure script\(s\), 25 data script\(s\), 50 dictionary entr\(ies\), \d+ protected field\(s\) kept$/m);
  expect(text.stdout).toMatch(/^estimate: no history/m);
  expect(text.stdout).toMatch(/^no refusal: the run can go ahead once its prerequisites are met$/m);
  expect(text.stdout).toMatch(/^nothing was changed \(one read-only snapshot\)$/m);

  const json = await cli(['patch', 'plan', dir, '--json']);
  expect(json.code).toBe(0);
  const plan = JSON.parse(json.stdout) as PlanJson;
  expect(plan).toMatchObject({ target: 'main', patches: { first: 1, last: 4 }, refusals: [], estimate: { seconds: null, history: null }, changed: false });
  // the supervisor first (the run patches it alone, first), then the others in code order
  expect(plan.dossiers.map((d) => d.code)).toEqual(['DEMO0001', 'DEMO0002', 'DEMO0003', 'DEMO0004', 'DEMO0005', 'DEMO0006', 'DEMO0007', 'DEMO0008']);
  const byCode = Object.fromEntries(plan.dossiers.map((d) => [d.code, d]));
  expect(byCode.DEMO0002).toMatchObject({ fromLevel: 0, toLevel: 4, applies: [1, 2, 3, 4] });
  expect(byCode.DEMO0002!.steps[3]).toMatchObject({ patch: 4, type: 'supervisor', action: 'not-applicable', rule: 'R-PI-6', structure: [], data: [] });
  expect(byCode.DEMO0002!.steps[0]!.treatments.find((t) => t.name === 'TRT1')).toMatchObject({ decision: 'inherited', rule: 'R-PI-4' });
  // DEMO0006 is of type specific: XKEEP goes in with patch 1, and is its own from then on (R-PI-5)
  expect(byCode.DEMO0006!.steps.slice(0, 3).map((s) => s.treatments.find((t) => t.name === 'XKEEP')?.decision)).toEqual(['install', 'kept-existing', 'kept-existing']);
  expect(byCode.DEMO0006!.notes).toContain('patch 2: treatment XKEEP kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)');
  // ECRAN_COMMUN's protected field, created by patch 1, is kept by patches 2-4 (R-PI-7)
  expect(byCode.DEMO0001!.steps.map((s) => s.protectedKept)).toEqual([[], ...[2, 3, 4].map(() => [{ key: 'ECRAN_COMMUN', fields: ['parametrage'] }])]);

  // R-PI-3: without the supervisor in the list, standard treatments are not patched in regular dossiers
  const some = JSON.parse((await cli(['patch', 'plan', dir, '--json', '--dossiers', 'DEMO0002,DEMO0004'])).stdout) as PlanJson;
  expect(some.dossiers.map((d) => d.code)).toEqual(['DEMO0002', 'DEMO0004']);
  expect(some.dossiers[0]!.steps[0]!.treatments.find((t) => t.name === 'TRT1')).toMatchObject({ decision: 'supervisor-absent', rule: 'R-PI-3' });
  expect(some.dossiers[1]!.steps[0]!.treatments.find((t) => t.name === 'TRT1')).toMatchObject({ decision: 'install', rule: 'R-PI-4' });

  const stray = tempDir('plan-stray');
  await generateDemoPatches(stray, 2);
  fs.writeFileSync(path.join(stray, 'notes.txt'), 'not a patch');
  const refused = await cli(['patch', 'plan', stray]);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/^ {2}R-PI-1 PatchStrayFiles: .*notes\.txt$/m);
  const unknown = await cli(['patch', 'plan', dir, '--json', '--dossiers', 'DEMO0002,NOPE1,demo0003']);
  expect(unknown.code).toBe(1);
  // a code in the wrong case names the dossier it probably meant (the same hint as the backup commands)
  expect((JSON.parse(unknown.stdout) as PlanJson).refusals).toEqual([
    { rule: 'R-PI-3', type: 'UnknownDossier', message: 'unknown dossier(s) in main: NOPE1, demo0003 (codes are case-sensitive: DEMO0003?)' },
  ]);

  // a gap before the packages: the supervisor's refusal under its own rule and type, and no count of dossiers the run never reaches
  const gap = tempDir('plan-gap');
  await generateDemoPatches(gap, 1, 9);
  const gapped = await cli(['patch', 'plan', gap]);
  expect(gapped.code).toBe(1);
  expect(gapped.stdout).toMatch(/^ {2}R-PI-8 PatchGap: the supervisor DEMO0001 would fail \(dossier DEMO0001 is at patch level \d+: patch \d+ is missing before patch 9\): the run would end before any other dossier is touched$/m);
  expect(gapped.stdout).not.toMatch(/the run would fail \d+ dossier/);

  // nothing changed: every table of the control schema and of every dossier as it was
  expect(await tableChecksums(pool)).toEqual(before);
});

test('R-PI-10: the run follows the plan: each dossier\'s outcome (status, levels, patches applied, notes, failure, treatments installed) equals the plan\'s, and the run shows the same plan summary in its details', async () => {
  const pool = ctx.stack.pools.get('main');
  await openWindow(pool);
  const first = tempDir('plan-first');
  await generateDemoPatches(first, 2);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const codes = ['DEMO0001', 'DEMO0002', 'DEMO0003', 'DEMO0004', 'DEMO0005', 'DEMO0006', 'DEMO0007'];
    expect(await runPatch(ctx.temporal.client, ctx.stack, { mode: 'integrate', dir: first, dossiers: codes })).toMatchObject({ state: 'completed', failed: 0 });
    // every case at once: a changed checksum (DEMO0005), a level without ledger rows (DEMO0003), a never-patched
    // specific dossier holding its own XKEEP (DEMO0008)
    await pool.query(`UPDATE ${qualified(schemaNameFor('DEMO0005'), 'apatch')} SET checksum = repeat('e', 64) WHERE number = 2`);
    await pool.query(`UPDATE nightshift.dossier SET patch_level = 3 WHERE code = 'DEMO0003'`);
    await pool.query(`UPDATE nightshift.dossier SET is_specific = true WHERE code = 'DEMO0008'`);
    const own = qualified(schemaNameFor('DEMO0008'), 'traitement');
    await pool.query(`CREATE TABLE ${own} (name text PRIMARY KEY, body text NOT NULL, checksum text NOT NULL, origin_patch integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
    await pool.query(`INSERT INTO ${own} (name, body, checksum, origin_patch) VALUES ('XKEEP', 'its own', 'own', 0)`);

    const dir = tempDir('plan-run');
    await generateDemoPatches(dir, 6);
    const planned = await cli(['patch', 'plan', dir, '--json']);
    // the run would fail DEMO0005: the plan says so and exits 1
    expect(planned.code).toBe(1);
    const plan = JSON.parse(planned.stdout) as PlanJson;
    expect(plan.packages.map((p) => p.source)).toEqual(['directory', 'directory', 'directory', 'directory', 'directory', 'directory']);
    expect(plan.summary).toMatchObject({ dossiers: 8, refused: 1 });
    expect(plan.estimate.history).toMatchObject({ runs: 1 });
    expect(plan.estimate.seconds).toEqual(expect.any(Number));
    const byCode = Object.fromEntries(plan.dossiers.map((d) => [d.code, d]));
    expect(byCode.DEMO0005).toMatchObject({ fromLevel: 2, toLevel: 2, applies: [], refusal: { patch: 2, type: 'ChecksumDrift', rule: 'R-PI-8' } });
    expect(byCode.DEMO0003!.steps.map((s) => s.action)).toEqual(['applied', 'applied', 'at-level', 'not-applicable', 'apply', 'apply']);
    expect(byCode.DEMO0008!.notes[0]).toBe('patch 1: treatment XKEEP kept: the dossier already holds a specific treatment of that name (its own, or one an earlier patch installed: not replaced) (R-PI-5)');

    const run = await cli(['patch', 'integrate', dir, '--wait', '--json']);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout).result;
    expect(result).toMatchObject({ state: 'partial', failed: 1, total: 8 });
    // the run's own plan, made before it touched a dossier, is the one the operator read
    expect(result.plan.lines).toEqual(summaryLines(plan.summary, plan.estimate.history));
    expect(result.plan).toMatchObject({ dossiers: 8, refused: 1, stopsAtSupervisor: false });
    const details = (await ctx.temporal.client.workflow.getHandle(JSON.parse(run.stdout).workflowId).query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
    expect(details).toContain('plan (R-PI-10): dossiers: 8 targeted, 7 to patch, 0 up to date, 1 refused (R-PI-8)');

    const { rows } = await pool.query<{ code: string; status: string; from_level: number; to_level: number; applied: number[]; notes: string[]; failure_type: string | null; failed_patch: number | null }>(
      `SELECT code, status, from_level, to_level, applied, notes, failure_type, failed_patch FROM nightshift.patch_run_item WHERE run_id = $1 ORDER BY code`,
      [result.runId],
    );
    const expected = [...plan.dossiers]
      .sort((a, b) => (a.code < b.code ? -1 : 1))
      .map((d) => ({
        code: d.code,
        status: d.refusal ? 'failed' : 'ok',
        from_level: d.fromLevel,
        to_level: d.toLevel,
        applied: d.applies,
        notes: d.notes,
        failure_type: d.refusal?.type ?? null,
        failed_patch: d.refusal?.patch ?? null,
      }));
    expect(rows).toEqual(expected);
    // the treatments each dossier received in this run: those the plan installs, from the patch it names
    for (const d of plan.dossiers) {
      const installs: Record<string, number> = {};
      for (const s of d.steps) for (const t of s.treatments) if (s.action !== 'applied' && s.action !== 'at-level' && t.decision === 'install') installs[t.name] = s.patch;
      const got = await pool.query<{ name: string; origin_patch: number }>(`SELECT name, origin_patch FROM ${qualified(schemaNameFor(d.code), 'traitement')} WHERE origin_patch >= 3 OR (origin_patch >= 1 AND $1)`, [d.fromLevel === 0]);
      expect([d.code, Object.fromEntries(got.rows.map((r) => [r.name, r.origin_patch]))]).toEqual([d.code, installs]);
    }

    // drill M: a package changed and sealed after dossiers received it was said to replace a stored one "applied nowhere"
    fs.appendFileSync(path.join(dir, 'P0001', 'data', '0001.sql'), '-- edited after it was integrated\n');
    await sealPatchPackage(path.join(dir, 'P0001'));
    const drifted = await cli(['patch', 'plan', dir]);
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toMatch(/^\s+1 standard\s+[0-9a-f]{12}… directory \(differs from the stored one, which dossier DEMO\d{4} holds: refused, R-PI-8\): /m);
    expect(drifted.stdout).not.toContain('applied nowhere');
    expect(drifted.stdout).toMatch(/R-PI-8 ChecksumDrift: patch 1 was already integrated on this target .*: refused\n/);
  });
});

test('R-PI-10: a dossier whose schema does not exist is planned as failing (the run would fail it): its line and reason, exit 1, in text and --json; the supervisor\'s stops the run', async () => {
  const pool = ctx.stack.pools.get('main');
  const { rows } = await pool.query<{ level: number }>(`SELECT max(patch_level)::int AS level FROM nightshift.dossier WHERE code IN ('DEMO0001', 'DEMO0007')`);
  const next = rows[0]!.level + 1;
  const dir = tempDir('plan-no-schema');
  await generateDemoPatches(dir, next);
  const args = ['patch', 'plan', dir, '--dossiers', 'DEMO0001,DEMO0007'];
  // with both schemas there, nothing to refuse: what follows is the missing schema's doing
  expect(await cli(args)).toMatchObject({ code: 0, stderr: '' });

  const rename = (code: string, to: string) => pool.query(`ALTER SCHEMA ${ident(schemaNameFor(code))} RENAME TO ${ident(to)}`);
  await rename('DEMO0007', 'gone_DEMO0007');
  try {
    const text = await cli(args);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`^refused: DEMO0007: PatchSqlFailed: schema "d_DEMO0007" of dossier DEMO0007 does not exist: the run would fail it at patch \\d+$`, 'm'));
    expect(text.stdout).toMatch(/^dossiers: 2 targeted, 1 to patch, 0 up to date, 1 refused/m);
    expect(text.stdout).toMatch(/^the run would fail 1 dossier\(s\)/m);
    expect(text.stdout).not.toMatch(/no refusal/);

    const json = await cli([...args, '--json']);
    expect(json.code).toBe(1);
    const plan = JSON.parse(json.stdout) as PlanJson;
    const gone = plan.dossiers.find((d) => d.code === 'DEMO0007')!;
    expect(gone).toMatchObject({ applies: [], refusal: { type: 'PatchSqlFailed', rule: 'R-PI-10', message: expect.stringContaining('schema "d_DEMO0007" of dossier DEMO0007 does not exist') } });
    expect(gone.toLevel).toBe(gone.fromLevel);
    expect(plan.dossiers.find((d) => d.code === 'DEMO0001')).not.toHaveProperty('refusal');
    expect(plan.summary).toMatchObject({ dossiers: 2, refused: 1 });

    // the supervisor's schema missing: the run would stop at it, before any other dossier
    await rename('DEMO0001', 'gone_DEMO0001');
    try {
      const sup = await cli(args);
      expect(sup.code).toBe(1);
      expect(sup.stdout).toMatch(/^ {2}R-PI-10 PatchSqlFailed: the supervisor DEMO0001 would fail \(schema "d_DEMO0001" of dossier DEMO0001 does not exist: the run would fail it at patch \d+\): the run would end before any other dossier is touched$/m);
      const supJson = JSON.parse((await cli([...args, '--json'])).stdout) as PlanJson;
      expect(supJson.refusals).toEqual([expect.objectContaining({ rule: 'R-PI-10', type: 'PatchSqlFailed' })]);
    } finally {
      await pool.query(`ALTER SCHEMA ${ident('gone_DEMO0001')} RENAME TO ${ident(schemaNameFor('DEMO0001'))}`);
    }
  } finally {
    await pool.query(`ALTER SCHEMA ${ident('gone_DEMO0007')} RENAME TO ${ident(schemaNameFor('DEMO0007'))}`);
  }
});

test('a DIR that is not here: one line naming it, exit 2, as `patch integrate` says it (not the file system\'s ENOENT)', async () => {
  const missing = path.join(tempDir('plan-missing'), 'no-such-patches');
  const r = await cli(['patch', 'plan', missing]);
  expect(r).toMatchObject({ code: 2, stdout: '', stderr: `nightshift: no patch directory ${missing} (its folder ${path.dirname(missing)} is here, without it)\n` });
  const nowhere = await cli(['patch', 'plan', '/nonexistent/dir', '--json']);
  expect(nowhere).toMatchObject({ code: 2, stdout: '', stderr: 'nightshift: no patch directory /nonexistent/dir\n' });
});

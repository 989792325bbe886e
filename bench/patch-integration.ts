import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { generateDemoDossiers } from '../registry/demo';
import { generateDemoPatches } from '../patches/demo';
import { readPatchDirectory } from '../patches/package';
import { patchDossier, type EngineDossier } from '../activities/patch/apply';
import { loadStoredPatches, storePatchPackages } from '../activities/patch';
import { listPatchDossiers } from '../store/patch/dossier-rows';
import { loadConfig } from '../config/config';
import { migrate } from '../db/migrate';
import { createActivities } from '../workers/activities';
import { CONNECTION_MAX_USES, createTargetPools, DOSSIER_WORK } from '../workers/resources';
import { DEFAULT_PATCH_TUNING, PATCH_WORKFLOW_TYPE, type PatchIntegrationInput, type PatchRunResult } from '../workflows/patch-integration.api';
import { startEmbeddedPostgres } from '../test/setup/servers';

/**
 * 20 patches x N dossiers (default 1000): the patch integration workflow (dev server, real worker)
 * against the same engine (activities/patch/apply.ts) in a plain loop with the same concurrency, on
 * two databases holding the same demo dossiers. Prints ms per dossier and the ratio last (goal <= 1.3x).
 *
 *   node bin/run-ts.js bench/patch-integration.ts [dossiers] [patches]
 */

const ROOT = path.resolve(__dirname, '..');
const N = Number(process.argv[2] ?? 1000);
const PATCHES = Number(process.argv[3] ?? 20);

async function database(admin: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name}`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  await migrate(url.toString());
  return url.toString();
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ns-patch-bench-'));
  fs.chmodSync(tmp, 0o755);
  const server = await startEmbeddedPostgres({
    dir: path.join(tmp, 'pg'),
    flags: ['-c', 'max_connections=100', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
  });
  const env = await TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: process.env.TEMPORAL_CLI ?? path.join(ROOT, '.tools', 'bin', 'temporal') }, extraArgs: ['--log-level', 'error'] },
  });
  try {
    const admin = server.adminUrl;
    const dir = path.join(tmp, 'patches');
    await generateDemoPatches(dir, PATCHES);
    const [loopUrl, wfUrl] = await Promise.all([database(admin, 'bench_loop'), database(admin, 'bench_wf')]);
    for (const url of [loopUrl, wfUrl]) {
      const pool = new pg.Pool({ connectionString: url, max: 4 });
      await generateDemoDossiers(pool, { target: 'main', count: N, sizeKb: 2 });
      await pool.query(
        `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
         VALUES (gen_random_uuid(), 'maintenance/bench', 'deployment', 'in_progress', 'working', now(), now() + interval '1 day')`,
      );
      // not timed: the freshly loaded tables are vacuumed and analyzed now, not by autovacuum during one of the runs
      await pool.query('VACUUM (ANALYZE)');
      await pool.end();
    }
    const ckpt = new pg.Client({ connectionString: admin });
    await ckpt.connect();
    await ckpt.query('CHECKPOINT');
    await ckpt.end();
    process.stdout.write(`${PATCHES} patches x ${N} dossiers (2 cores: chunks of ${DEFAULT_PATCH_TUNING.chunkSize}, ${DEFAULT_PATCH_TUNING.concurrency} in flight)\n`);

    // --- plain loop: read + store the packages, the supervisor, then the others in the same number of lanes
    const loopPool = new pg.Pool({ connectionString: loopUrl, max: 4, maxUses: CONNECTION_MAX_USES });
    const t0 = performance.now();
    await storePatchPackages(loopPool, await readPatchDirectory(dir), dir);
    const patches = await loadStoredPatches(loopPool);
    const rows = (await listPatchDossiers(loopPool)).map((r): EngineDossier => ({ code: r.code, role: r.role, test: r.is_test, specific: r.is_specific, schemaName: r.schema_name, patchLevel: r.patch_level }));
    const sup = rows.find((d) => d.role === 'supervisor')!;
    const supOut = await patchDossier(loopPool, sup, patches, sup.patchLevel);
    const others = rows.filter((d) => d !== sup);
    let next = 0;
    let loopFailed = 0;
    await Promise.all(
      Array.from({ length: DEFAULT_PATCH_TUNING.concurrency }, async () => {
        while (next < others.length) {
          const d = others[next++]!;
          if ((await patchDossier(loopPool, d, patches, supOut.toLevel)).status !== 'ok') loopFailed++;
        }
      }),
    );
    const loopMs = performance.now() - t0;
    await loopPool.end();
    process.stdout.write(`plain loop: ${(loopMs / 1000).toFixed(1)} s, ${(loopMs / N).toFixed(1)} ms per dossier, ${loopFailed} failed\n`);

    // --- the workflow, on a real worker
    const config = loadConfig({ DATABASE_URL: wfUrl, NIGHTSHIFT_DATA_DIR: path.join(tmp, 'data'), TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: 'patch-bench' });
    const pools = createTargetPools(config, 6, DOSSIER_WORK);
    const { code } = await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'workflows', 'index.ts'), logger: new DefaultLogger('ERROR') });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: 'patch-bench',
      workflowBundle: { code },
      activities: createActivities({ config, pools }),
    });
    const result = await worker.runUntil(async () => {
      const t1 = performance.now();
      const r = await env.client.workflow.execute<(i: PatchIntegrationInput) => Promise<PatchRunResult>>(PATCH_WORKFLOW_TYPE, {
        taskQueue: 'patch-bench',
        workflowId: `patch/main/bench-${Date.now()}`,
        args: [{ target: 'main', mode: 'integrate', dir }],
      });
      return { r, ms: performance.now() - t1 };
    });
    await pools.end();
    process.stdout.write(`workflow:   ${(result.ms / 1000).toFixed(1)} s, ${(result.ms / N).toFixed(1)} ms per dossier, state ${result.r.state}, ${result.r.failed} failed\n`);
    process.stdout.write(`ratio workflow / plain loop: ${(result.ms / loopMs).toFixed(2)}x (goal <= 1.3x)\n`);
  } finally {
    await env.teardown();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

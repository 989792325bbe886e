import { pruneDossier } from '../activities/prune';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { loadRetention } from '../store/generations/retention-plan';
import { pruneChunkAhead } from '../store/generations/prune-candidates';
import { generateDemoDossiers } from '../registry/demo';
import { batchPruneWorkflowId, pruneResult } from '../workflows/backup-prune.api';
import { startBenchStack } from './backup-batch-harness';

/**
 * The prune every batch starts at its end, on a night where nothing is to be deleted (`node bin/run-ts.js
 * bench/backup-prune-idle.ts [dossiers] [--rounds 3]`, default 2,000 dossiers of 2 KB, one generation each). Drill S2 saw
 * ~50 s of it after a batch of 0 at 10,000 dossiers. In one process tree, interleaved rounds, medians, ms per dossier:
 * - `locked`: each dossier through the locked path (a transaction, its rows FOR UPDATE, its leftovers read), 4 lanes:
 *   what every dossier cost before the chunk read ahead;
 * - `ahead`: the same dossiers, 200 at a time read first in two statements (pruneChunkAhead), 4 lanes: what the prune
 *   chunk does now;
 * - `workflow`: the whole prune workflow a batch of 0 starts (the worker in its own process; chunks of 200, 2 at once).
 * Prints ahead / locked (goal: well under 1) and workflow / locked.
 */

const args = process.argv.slice(2);
const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 2000);
const roundsAt = args.indexOf('--rounds');
const rounds = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 3;
const LANES = 4;
const CHUNK = 200;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function lanes(codes: string[], each: (code: string) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: LANES }, async () => {
    while (next < codes.length) await each(codes[next++]!);
  }));
}

async function main(): Promise<void> {
  const s = await startBenchStack();
  try {
    const pool = s.pools.get('main');
    const codes = await generateDemoDossiers(pool, { target: 'main', count, sizeKb: 2, prefix: 'P' });
    const first = await s.runBatch({ all: true });
    await pruneResult(s.client.workflow.getHandle(batchPruneWorkflowId(first.workflowId)).result());
    const { rows } = await pool.query<{ code: string }>('SELECT DISTINCT code FROM nightshift.backup_generation WHERE deleted_at IS NULL ORDER BY code');
    const pruned = rows.map((r) => r.code);
    console.log(`${codes.length} dossiers, ${pruned.length} with a generation (the batch's selection), prune policy: the default`);
    const { policies } = await loadRetention(pool, s.config);
    const backupFolder = (await loadBackupSettings(pool, s.config, 'main')).settings.folder;
    const base = { policies, timeZone: s.config.timeZone, dryRun: false, offsiteStore: () => undefined, backupFolder, offsiteConfigured: false };
    const check = (r: { deleted: number; error: string | null }) => {
      if (r.deleted || r.error) throw new Error(`the bench expects nothing to delete: ${JSON.stringify(r)}`);
    };
    const timed = async (fn: () => Promise<void>) => {
      const t = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - t) / 1e6 / pruned.length;
    };
    const results: Record<'locked' | 'ahead' | 'workflow', number[]> = { locked: [], ahead: [], workflow: [] };
    for (let round = 1; round <= rounds; round++) {
      results.locked.push(await timed(() => lanes(pruned, async (code) => check(await pruneDossier(pool, code, { ...base, prunedBy: `bench/locked/${round}` })))));
      results.ahead.push(
        await timed(async () => {
          for (let i = 0; i < pruned.length; i += CHUNK) {
            const codes = pruned.slice(i, i + CHUNK);
            const ahead = await pruneChunkAhead(pool, codes);
            await lanes(codes, async (code) =>
              check(await pruneDossier(pool, code, { ...base, prunedBy: `bench/ahead/${round}`, ahead: { generations: ahead.generations.get(code) ?? [], leftovers: ahead.withLeftovers.has(code), now: ahead.now } })),
            );
          }
        }),
      );
      const batch = await s.runBatch({});
      const h = s.client.workflow.getHandle(batchPruneWorkflowId(batch.workflowId));
      const r = await pruneResult(h.result());
      const d = await h.describe();
      if (r.deleted || r.failed) throw new Error(`the bench expects nothing to delete: ${JSON.stringify(r)}`);
      results.workflow.push((d.closeTime!.getTime() - d.startTime.getTime()) / Math.max(1, r.total));
      console.log(`round ${round}: locked ${results.locked.at(-1)!.toFixed(2)}, ahead ${results.ahead.at(-1)!.toFixed(2)}, workflow ${results.workflow.at(-1)!.toFixed(2)} ms per dossier`);
    }
    const [locked, ahead, workflow] = [median(results.locked), median(results.ahead), median(results.workflow)];
    console.log(`medians of ${rounds}: locked ${locked.toFixed(2)}, ahead ${ahead.toFixed(2)}, workflow ${workflow.toFixed(2)} ms per dossier`);
    console.log(`ahead / locked ${(ahead / locked).toFixed(2)} (goal: well under 1); workflow / locked ${(workflow / locked).toFixed(2)}; load ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  } finally {
    await s.close();
  }
}
void main();

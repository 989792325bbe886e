import { MockActivityEnvironment } from '@temporalio/testing';
import { createBackupActivities } from '../../activities/backup';
import { type PruneChunkInput, type PruneChunkResult, createPruneActivities } from '../../activities/prune';
import type { RetentionPolicies, RetentionPolicy } from '../../domain/retention';
import { generateDemoDossiers } from '../../registry/demo';
import { createTestStack, type TestStack } from '../helpers/env';

/**
 * Issue 13: a prune chunk whose worker died after some dossiers ended is retried; the retry skips them (its heartbeat),
 * and its counts still cover them: `kept` (and what leases hold) is the chunk's, whatever attempt decided each dossier
 * (a prune said kept 32 when 35 were kept). A dry run's retry says what the dry run without it says.
 */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;
const pool = () => stack.pools.get('main');
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ last: 0, daily: 0, weekly: 0, monthly: 0, ...p });
const lastTwo: RetentionPolicies = { normal: policy({ last: 2 }), EchangePrest: policy({ last: 2 }), Cloture: policy({ last: 2 }) };

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
});
afterAll(async () => {
  await stack.close();
});

test('issue 13: a chunk retried after its first attempt ended some dossiers counts what they keep; a dry run retried says the same as without', async () => {
  const codes = await generateDemoDossiers(pool(), { target: 'main', count: 4, sizeKb: 5, prefix: 'RTY' });
  for (const code of codes) for (let i = 0; i < 3; i++) await backup.backupDossier({ target: 'main', code, reason: 'manual' });
  const [, , third] = codes as [string, string, string, string];
  const args = (prunedBy: string, dryRun = false): PruneChunkInput => ({ target: 'main', codes, prunedBy, dryRun, policies: lastTwo, timeZone: 'Europe/Paris', concurrency: 1 });

  // the dry run, whole, then retried as if its first attempt had ended two dossiers: the same figures
  const plain = createPruneActivities({ config: stack.config, pools: stack.pools, offsiteStore: () => undefined });
  const dry = (await new MockActivityEnvironment().run(plain.pruneChunk, args('backup-prune/main/dry', true))) as PruneChunkResult;
  expect(dry).toMatchObject({ ok: 4, kept: 8, deleted: 4 });
  const dryRetried = await new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { current: [], done: 2, of: 4, resumeAt: 2 } }).run(plain.pruneChunk, args('backup-prune/main/dry', true));
  expect(dryRetried).toMatchObject({ ok: 2, skipped: 2, kept: dry.kept, deleted: dry.deleted, bytesFreed: dry.bytesFreed });

  // the first attempt dies after the third dossier's rows are marked (the worker killed between the mark and the unlink)
  const prunedBy = 'backup-prune/main/retried';
  const dying = createPruneActivities(
    { config: stack.config, pools: stack.pools, offsiteStore: () => undefined },
    {
      afterMark: async (code) => {
        if (code === third) throw new Error('worker killed');
      },
    },
  );
  const first = new MockActivityEnvironment({ attempt: 1 });
  let beat: unknown;
  first.on('heartbeat', (d: unknown) => (beat = d));
  await expect(first.run(dying.pruneChunk, args(prunedBy))).rejects.toThrow('worker killed');
  expect(beat).toMatchObject({ resumeAt: 2 });

  const retried = await new MockActivityEnvironment({ attempt: 2, heartbeatDetails: beat }).run(plain.pruneChunk, args(prunedBy));
  // the two dossiers the first attempt ended are skipped, yet counted: 2 kept each, 4 dossiers
  expect(retried).toMatchObject({ ok: 2, skipped: 2, failed: 0, kept: 8, leased: 0, filesLeft: 0 });
  expect(await plain.finishPrune({ target: 'main', prunedBy })).toMatchObject({ deleted: 4, bytesFreed: dry.bytesFreed });
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import { WorkflowFailedError } from '@temporalio/client';
import { failureTypeOf } from '../../domain/failures';
import { generateDemoDossiers } from '../../registry/demo';
import { startBackupBatch, startBackupPrune } from '../../starts';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { releaseGenerationLease, takeGenerationLease } from '../../store/generations/lease';
import { setRetentionSetting } from '../../store/generations/prune-set-retention-setting';
import type { BackupBatchResult } from '../../workflows/backup-batch.api';
import {
  BACKUP_PRUNE_PARTIAL,
  type BackupPruneResult,
  backupPruneProgressQuery,
  batchPruneWorkflowId,
  partialPruneResult,
  pruneResult,
  heldText,
} from '../../workflows/backup-prune.api';
import { createTestStack, createTestWorker, devServerClient, quietRuntime, type TestStack } from '../helpers/env';
import { agedBackups } from './backup-batch-helpers';

/** The prune workflow on the dev server (R-BK-11): after each batch (a child the batch abandons), and on demand, leases respected. */

let stack: TestStack;
let temporal: Awaited<ReturnType<typeof devServerClient>>;

beforeAll(async () => {
  quietRuntime();
  stack = await createTestStack();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
  await stack?.close();
});

const pool = () => stack.pools.get('main');

const aged = (code: string, daysAgo: number[]): Promise<number[]> => agedBackups(stack, code, daysAgo);

test('R-BK-11: the batch starts the prune at its end (backup-prune/..., abandoned); what retention does not keep is gone, the new generation stays', async () => {
  const codes = await generateDemoDossiers(pool(), { target: 'main', count: 3, sizeKb: 5, prefix: 'PW' });
  for (const code of codes) await aged(code, [3, 2]);
  await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  await worker.runUntil(async () => {
    const batchId = `backup/main/${crypto.randomUUID()}`;
    const batch = await startBackupBatch(temporal.client, { target: 'main', all: true }, { taskQueue: stack.config.temporal.taskQueue, workflowId: batchId });
    const b = (await batch.result()) as BackupBatchResult;
    // the demo's supervisor-like dossiers may be out of the selection (R-BK-2): whatever it backed up, retention keeps one each
    expect(b.state).toBe('completed');
    expect(b.ok).toBeGreaterThan(0);
    const pruneId = batchPruneWorkflowId(batchId);
    expect(pruneId).toBe(batchId.replace(/^backup\//, 'backup-prune/'));
    const prune = temporal.client.workflow.getHandle(pruneId);
    const r = (await prune.result()) as BackupPruneResult;
    expect(r).toMatchObject({ state: 'completed', dryRun: false, total: codes.length, done: codes.length, failed: 0, deleted: 2 * codes.length + b.ok - codes.length });
    // the batch's child, abandoned: the batch had ended before it
    const d = await prune.describe();
    expect(d.parentExecution?.workflowId).toBe(batchId);
    expect((await batch.describe()).closeTime!.getTime()).toBeLessThanOrEqual(d.closeTime!.getTime());
  });
  for (const code of codes) {
    const gens = await dossierGenerations(pool(), code, { deleted: true });
    const kept = gens.filter((g) => g.deletedAt === null);
    expect(kept).toHaveLength(1);
    // the newest stays (the batch's, when it backed this dossier up); every other one is gone
    expect(kept[0]!.id).toBe(Math.max(...gens.map((g) => g.id)));
    for (const g of gens.filter((x) => x.id !== kept[0]!.id)) {
      expect(g.deletedAt).not.toBeNull();
      expect(fs.existsSync(g.file)).toBe(false);
    }
  }
  await setRetentionSetting(pool(), undefined);
});

test('R-BK-11: a generation a restore is reading is not pruned (lease), nor a patch run\'s restore point (counted apart: drill S), a dry run changes nothing, and the details say what was done', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 5, prefix: 'PL' })) as [string];
  const ids = await aged(code, [3, 2, 1, 0]);
  await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  expect(await takeGenerationLease(pool(), ids[0]!, 'restore:test', 600)).toBe(true);
  expect(await takeGenerationLease(pool(), ids[1]!, 'restore-point:7', 600)).toBe(true);
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  await worker.runUntil(async () => {
    const dry = await startBackupPrune(temporal.client, { target: 'main', dryRun: true }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-prune/main/${crypto.randomUUID()}` });
    const dr = (await dry.result()) as BackupPruneResult;
    expect(dr).toMatchObject({ dryRun: true, deleted: 1, leased: 2, restorePoints: 1 });
    expect((await dossierGenerations(pool(), code)).map((g) => g.id).sort()).toEqual([...ids].sort());

    const h = await startBackupPrune(temporal.client, { target: 'main' }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-prune/main/${crypto.randomUUID()}` });
    const r = (await h.result()) as BackupPruneResult;
    expect(r).toMatchObject({ state: 'completed', deleted: 1, leased: 2, restorePoints: 1 });
    const gens = new Map((await dossierGenerations(pool(), code, { deleted: true })).map((g) => [g.id, g]));
    for (const kept of [ids[0]!, ids[1]!, ids[3]!]) {
      expect(gens.get(kept)!.deletedAt).toBeNull();
      expect(fs.existsSync(gens.get(kept)!.file)).toBe(true);
    }
    expect(gens.get(ids[2]!)!.deletedAt).not.toBeNull();
    // what the CLI and the Web UI read of it: the phase and the counts
    expect(await h.query(backupPruneProgressQuery)).toMatchObject({ phase: 'completed', deleted: 1, leased: 2, restorePoints: 1, failed: 0 });
    // (kept counts the file's other dossiers too: the leases are this one's)
    expect(await currentDetails(h)).toContain(heldText(2, 1));
  });
  await releaseGenerationLease(pool(), ids[0]!, 'restore:test');
  await releaseGenerationLease(pool(), ids[1]!, 'restore-point:7');
  await setRetentionSetting(pool(), undefined);
});

test('R-BK-11: the bytes freed count only the files the prune removed, not one already deleted by hand', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 5, prefix: 'PB' })) as [string];
  const ids = await aged(code, [3, 2, 1]);
  await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  const before = new Map((await dossierGenerations(pool(), code)).map((g) => [g.id, g]));
  fs.rmSync(before.get(ids[0]!)!.file);
  const worker = await createTestWorker(stack, temporal.nativeConnection);
  await worker.runUntil(async () => {
    const workflowId = `backup-prune/main/${crypto.randomUUID()}`;
    const h = await startBackupPrune(temporal.client, { target: 'main' }, { taskQueue: stack.config.temporal.taskQueue, workflowId });
    const r = (await h.result()) as BackupPruneResult;
    // the earlier tests' dossiers may lose generations too: what this prune marked, minus the file that was gone
    const { rows } = await pool().query<{ id: number; size: string }>('SELECT id::int AS id, size FROM nightshift.backup_generation WHERE deleted_by = $1', [workflowId]);
    expect(rows.map((g) => g.id)).toEqual(expect.arrayContaining([ids[0], ids[1]]));
    const marked = rows.reduce((n, g) => n + Number(g.size), 0);
    expect(before.get(ids[0]!)!.size).toBeGreaterThan(0);
    expect(r).toMatchObject({ state: 'completed', failed: 0, deleted: rows.length, bytesFreed: marked - before.get(ids[0]!)!.size });
  });
  expect(fs.existsSync(before.get(ids[1]!)!.file)).toBe(false);
  await setRetentionSetting(pool(), undefined);
});

/** What the Web UI shows as the workflow's current details (markdown). */
async function currentDetails(handle: { query<R>(q: string): Promise<R> }): Promise<string> {
  return (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
}

test('R-BK-11, R-OP-1: a prune that failed a dossier (a file it cannot remove) FAILS its workflow with BackupPrunePartial carrying the result, that file not counted freed; the batch that started one is not affected', async () => {
  const [code] = (await generateDemoDossiers(pool(), { target: 'main', count: 1, sizeKb: 5, prefix: 'PF' })) as [string];
  const ids = await aged(code, [3, 2]);
  await setRetentionSetting(pool(), { normal: { last: 1, daily: 0, weekly: 0, monthly: 0 } });
  const older = (await dossierGenerations(pool(), code)).find((g) => g.id === ids[0])!;
  // the tester's repro: a generation file the prune deletes made a directory (rm file; mkdir same path)
  fs.rmSync(older.file);
  fs.mkdirSync(older.file);
  try {
    const worker = await createTestWorker(stack, temporal.nativeConnection);
    await worker.runUntil(async () => {
      const h = await startBackupPrune(temporal.client, { target: 'main' }, { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup-prune/main/${crypto.randomUUID()}` });
      const err = await h.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      // the list shows it Failed, with a typed failure whose details carry the whole result
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(failureTypeOf(err)).toBe(BACKUP_PRUNE_PARTIAL);
      expect((await h.describe()).status.name).toBe('FAILED');
      const r = partialPruneResult(err)!;
      expect(r).toMatchObject({ state: 'completed_with_errors', dryRun: false, failed: 1, failuresTotal: 1 });
      expect(r.failures).toEqual([{ code, status: 'failed', error: expect.stringMatching(/^not removed: .*EISDIR/) as string }]);
      // the generation is marked deleted, but what it holds on disk is still there: not counted freed (the audit says what happened)
      const { rows } = await pool().query<{ id: number; size: string }>('SELECT id::int AS id, size FROM nightshift.backup_generation WHERE deleted_by = $1', [h.workflowId]);
      expect(rows.map((g) => g.id)).toContain(older.id);
      const marked = rows.reduce((n, g) => n + Number(g.size), 0);
      expect(r).toMatchObject({ deleted: rows.length, filesLeft: 1, filesLeftBytes: older.size, bytesFreed: marked - older.size });
      expect(await currentDetails(h)).toContain(`1 file(s) of the generation(s) deleted could not be removed`);
      // its message says what the CLI says: the counts, the dossier and its reason, the next command
      const message = (err as WorkflowFailedError).cause!.message;
      expect(message).toMatch(new RegExp(`^backup prune on main: ${r.done} / ${r.total} dossier\\(s\\), 1 failed: completed_with_errors \\(${code}: not removed: .*EISDIR.*\\); next: nightshift backup prune --target main$`));
      // what waits on a prune reads the result either way (the CLI's backup prune --wait)
      expect(await pruneResult(h.result())).toEqual(r);
      expect(await h.query(backupPruneProgressQuery)).toMatchObject({ phase: 'completed_with_errors', failed: 1 });
      expect(await currentDetails(h)).toContain('Once fixed, prune again: `nightshift backup prune --target main`');

      // the prune a batch starts at its end fails the same way (the directory is still there); the batch, which abandoned it, completed
      const batchId = `backup/main/${crypto.randomUUID()}`;
      const batch = await startBackupBatch(temporal.client, { target: 'main', all: true }, { taskQueue: stack.config.temporal.taskQueue, workflowId: batchId });
      expect(await batch.result()).toMatchObject({ state: 'completed' });
      const prune = temporal.client.workflow.getHandle(batchPruneWorkflowId(batchId));
      // the file is the first prune's (its row is marked by it): this one neither deleted nor freed it
      expect(await pruneResult(prune.result())).toMatchObject({ state: 'completed_with_errors', failed: 1, failures: [expect.objectContaining({ code })], filesLeft: 0 });
      const d = await prune.describe();
      expect(d.status.name).toBe('FAILED');
      expect(d.parentExecution?.workflowId).toBe(batchId);
      expect((await batch.describe()).status.name).toBe('COMPLETED');
    });
  } finally {
    fs.rmSync(older.file, { recursive: true, force: true });
    await setRetentionSetting(pool(), undefined);
  }
});

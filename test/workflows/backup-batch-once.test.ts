import crypto from 'node:crypto';
import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import type { BackupBatchInput, BackupBatchResult } from '../../workflows/backup-batch.api';
import { createDossiers, waitFor } from './backup-batch-helpers';
import { crashHarness, kill } from './crash-harness';
import { startBackupBatch } from '../../starts';

/**
 * R-BK-1, R-BK-6, R-BK-11: a worker SIGKILLed right after a dossier's generation is recorded (the fixture kills
 * itself there: no timing luck) leaves the dossier done in the run's ledger in the same commit, so the retried chunk
 * does not archive it a second time (was: two generations of one change_seq, the second taking a retention slot).
 */

const crash = crashHarness('backup-batch-worker.ts');

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));

test('R-BK-1 R-BK-6 R-BK-11 SIGKILL between a generation\'s record and the rest of its step: one generation per dossier, its ledger item ok with its file and size, the report right', async () => {
  const { stack, temporal } = crash;
  const pool = stack.pools.get('main');
  const codes = Array.from({ length: 6 }, (_, i) => `ONCE${i}`);
  await createDossiers(stack, codes.map((code) => ({ code })));
  const victim = 'ONCE2';
  const first = await crash.startWorker({ env: { NS_TEST_KILL_AFTER_RECORD: victim } });
  const handle = await startBackupBatch(
    temporal.client,
    { target: 'main', only: codes, tuning: { chunkSize: 6, window: 1, concurrency: 1, heartbeatTimeout: '3s' } } satisfies BackupBatchInput,
    { taskQueue: stack.config.temporal.taskQueue, workflowId: `backup/main/${crypto.randomUUID()}` },
  );
  await exited(first);
  expect(first.signalCode).toBe('SIGKILL');
  const runId = await waitFor('the run', async () => {
    const { rows } = await pool.query('SELECT id FROM nightshift.backup_run WHERE workflow_id = $1', [handle.workflowId]);
    return rows[0] ? Number(rows[0].id) : undefined;
  });
  // at the kill: the victim's generation and its ledger item committed together, or neither
  const atKill = await pool.query<{ generations: number; items: number }>(
    `SELECT (SELECT count(*)::int FROM nightshift.backup_generation WHERE run_id = $1 AND code = $2) AS generations,
            (SELECT count(*)::int FROM nightshift.backup_run_item WHERE run_id = $1 AND code = $2) AS items`,
    [runId, victim],
  );
  expect(atKill.rows[0]).toEqual({ generations: 1, items: 1 });

  const second = await crash.startWorker();
  const result = (await handle.result()) as BackupBatchResult;
  expect(result).toMatchObject({ state: 'completed', total: codes.length, ok: codes.length, failed: 0 });

  const { rows: generations } = await pool.query<{ code: string; id: string; size: string; links: string[]; change_seq: string }>(
    'SELECT code, id, size, links, change_seq::text FROM nightshift.backup_generation WHERE run_id = $1 ORDER BY code, id',
    [runId],
  );
  expect(generations.map((g) => g.code)).toEqual(codes);
  const { rows: items } = await pool.query<{ code: string; status: string; file: string; size: string; attempts: number }>(
    'SELECT code, status, file, size, attempts FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY code',
    [runId],
  );
  expect(items.map((i) => [i.code, i.status])).toEqual(codes.map((c) => [c, 'ok']));
  // the ledger says what really happened: the victim's item names the archive its generation holds
  const victimGeneration = generations.find((g) => g.code === victim)!;
  const victimItem = items.find((i) => i.code === victim)!;
  expect(victimItem.file).toBe(victimGeneration.links[0]);
  expect(Number(victimItem.size)).toBe(Number(victimGeneration.size));
  expect(victimItem.attempts).toBe(1);
  // R-BK-6: the dossier's last backup is that generation's change
  const { rows: dossier } = await pool.query<{ backup_seq: string }>('SELECT backup_seq::text FROM nightshift.dossier WHERE code = $1', [victim]);
  expect(dossier[0]!.backup_seq).toBe(victimGeneration.change_seq);
  // R-BK-7: one line per dossier
  const report = fs.readFileSync(result.reportPath!, 'utf8').split('\r\n');
  expect(report.filter((l) => l.startsWith('Dossier ')).sort()).toEqual(codes.map((c) => `Dossier ${c} : Traitement réussi`));
  expect(report).toContain(`${codes.length} / ${codes.length} dossier(s) traité(s)`);
  await kill(second, 'SIGTERM');
});

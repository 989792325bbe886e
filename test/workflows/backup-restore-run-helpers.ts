import crypto from 'node:crypto';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { createBackupActivities } from '../../activities/backup';
import { ident } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { startRestoreRun } from '../../starts';
import { partialRestoreRunResult, restoreRunWorkflowId, type RestoreRunInput, type RestoreRunResult } from '../../workflows/backup-restore-run.api';
import type { TestStack } from '../helpers/env';
import { dossierState } from './patch-rollback-helpers';

/** Shared by the bulk restore tests: generations dated by fixture SQL, a lost database, runs, and what each dossier holds. */

/** A backup of each dossier (a generation), its snapshot dated `at` (UTC ISO) by fixture SQL. Returns the generation ids. */
export async function backUp(stack: TestStack, codes: string[], at: string): Promise<Record<string, number>> {
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  const ids: Record<string, number> = {};
  for (const code of codes) {
    const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    ids[code] = r.generationId!;
    await stack.pools.get('main').query('UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1', [r.generationId, at]);
  }
  return ids;
}

/** The dossiers gone as with a lost database: their schema and their registry row (the generations catalog stays). */
export async function lose(pool: pg.Pool, codes: string[]): Promise<void> {
  for (const code of codes) {
    await pool.query(`DROP SCHEMA ${ident(schemaNameFor(code))} CASCADE`);
    await pool.query('DELETE FROM nightshift.dossier WHERE code = $1', [code]);
  }
}

/** A dossier's tables and registry row (its code, level, flags: not its creation time, which a restore sets). */
export async function contentOf(pool: pg.Pool, code: string): Promise<Record<string, unknown>> {
  const s = await dossierState(pool, code);
  const { created_at: _created, ...registry } = s.registry as Record<string, unknown>;
  return { ...s, registry };
}

export async function contentsOf(pool: pg.Pool, codes: string[]): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const c of codes) out[c] = await contentOf(pool, c);
  return out;
}

let seq = 0;
export async function startRestore(client: Client, stack: TestStack, input: Omit<RestoreRunInput, 'target'>) {
  return startRestoreRun(client, { target: 'main', ...input }, {
    taskQueue: stack.config.temporal.taskQueue,
    workflowId: restoreRunWorkflowId('main', `${Date.now()}-${++seq}-${crypto.randomBytes(3).toString('hex')}`),
  });
}

/** The run's result; one with failed dossiers FAILS with RestoreRunPartial and its result in details[0]: that result. */
export async function runRestore(client: Client, stack: TestStack, input: Omit<RestoreRunInput, 'target'>): Promise<RestoreRunResult> {
  return (await startRestore(client, stack, input)).result().catch((err: unknown) => partialRestoreRunResult(err) ?? Promise.reject(err));
}

/**
 * Each dossier's ledger rows over every restore run (status per run), and whether each restored dossier's registry row
 * was written by the very transaction that marked its ledger row ok (same xmin): restored once, and recorded with it.
 */
export async function restoreLedger(pool: pg.Pool): Promise<{ ok: Record<string, number>; kept: string[]; sameTransaction: Record<string, boolean> }> {
  const ok = await pool.query<{ code: string; n: number }>(`SELECT code, count(*)::int AS n FROM nightshift.restore_run_item WHERE status = 'ok' GROUP BY code ORDER BY code`);
  const kept = await pool.query<{ code: string }>(`SELECT DISTINCT code FROM nightshift.restore_run_item WHERE status = 'kept' ORDER BY code`);
  const same = await pool.query<{ code: string; same: boolean }>(
    `SELECT i.code, d.xmin::text = i.xmin::text AS same FROM nightshift.restore_run_item i JOIN nightshift.dossier d ON d.code = i.code WHERE i.status = 'ok' ORDER BY i.code`,
  );
  return {
    ok: Object.fromEntries(ok.rows.map((r) => [r.code, r.n])),
    kept: kept.rows.map((r) => r.code),
    sameTransaction: Object.fromEntries(same.rows.map((r) => [r.code, r.same])),
  };
}

/** Writes to a dossier (its parameters), so that its content differs from its generation's. */
export async function writeTo(pool: pg.Pool, code: string, what: string): Promise<void> {
  await pool.query(`UPDATE ${ident(schemaNameFor(code))}.parametre SET valeur = $1::jsonb`, [JSON.stringify({ what })]);
}

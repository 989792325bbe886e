import crypto from 'node:crypto';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { generateDemoDossiers } from '../../registry/demo';
import { writePatchPackage } from '../../patches/package';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import type { PatchManifest } from '../../domain/patch';
import { startPatchRun } from '../../starts';
import {
  partialPatchResult,
  patchWorkflowId,
  type PatchIntegrationInput,
  type PatchRunResult,
} from '../../workflows/patch-integration.api';
import type { TestStack } from '../helpers/env';

/** Shared by the patch integration tests: dossiers, an open window, runs, and what a dossier holds. */

/** DEMO0001 is the supervisor, DEMO0004 a test dossier, DEMO0006 a specific one (registry/demo.ts). */
export async function demoDossiers(stack: TestStack, count: number): Promise<string[]> {
  return generateDemoDossiers(stack.pools.get('main'), { target: 'main', count, sizeKb: 2 });
}

/** An in-progress maintenance window row: the single-user mode R-PI-2 asks for. */
export async function openWindow(pool: pg.Pool): Promise<string> {
  const id = crypto.randomUUID();
  await pool.query(
    `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at)
     VALUES ($1, $2, 'deployment', 'in_progress', 'working', now() - interval '1 minute', now() + interval '1 hour')`,
    [id, `maintenance/test-${id}`],
  );
  return id;
}

export async function closeWindows(pool: pg.Pool): Promise<void> {
  await pool.query(`UPDATE nightshift.maintenance_window SET state = 'completed' WHERE state = 'in_progress'`);
}

let seq = 0;
export async function startRun(client: Client, stack: TestStack, input: Omit<PatchIntegrationInput, 'target'>) {
  return startPatchRun(client, { target: 'main', ...input }, {
    taskQueue: stack.config.temporal.taskQueue,
    workflowId: patchWorkflowId('main', `${Date.now()}-${++seq}-${crypto.randomBytes(3).toString('hex')}`),
    // as the tests were written: the run upserts no search attribute of its own
    searchAttributes: false,
  });
}

/** The run's result; a run with failed dossiers FAILS with PatchRunPartial and its result in details[0]: that result. */
export async function runPatch(client: Client, stack: TestStack, input: Omit<PatchIntegrationInput, 'target'>): Promise<PatchRunResult> {
  return (await startRun(client, stack, input)).result().catch((err: unknown) => partialPatchResult(err) ?? Promise.reject(err));
}

export async function levels(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ code: string; patch_level: number }>('SELECT code, patch_level FROM nightshift.dossier ORDER BY code');
  return Object.fromEntries(rows.map((r) => [r.code, r.patch_level]));
}

export async function treatments(pool: pg.Pool, code: string): Promise<Record<string, string>> {
  const table = qualified(schemaNameFor(code), 'traitement');
  const exists = (await pool.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [table])).rows[0]!.ok;
  if (!exists) return {};
  const { rows } = await pool.query<{ name: string; body: string }>(`SELECT name, body FROM ${table} ORDER BY name`);
  return Object.fromEntries(rows.map((r) => [r.name, r.body]));
}

export async function ledger(pool: pg.Pool, code: string): Promise<{ number: number; outcome: string; checksum: string; applied_at: Date }[]> {
  const { rows } = await pool.query(`SELECT number, outcome, checksum, applied_at FROM ${qualified(schemaNameFor(code), 'apatch')} ORDER BY applied_at, number`);
  return rows;
}

/** As if every dossier had just been backed up: nothing is "modified since backup". */
export async function markAllBackedUp(pool: pg.Pool): Promise<void> {
  await pool.query('UPDATE nightshift.dossier SET backup_seq = change_seq, last_backup_at = now()');
}

export async function modifiedSinceBackup(pool: pg.Pool): Promise<Record<string, boolean>> {
  const { rows } = await pool.query<{ code: string; m: boolean }>('SELECT code, (backup_seq IS NULL OR change_seq > backup_seq) AS m FROM nightshift.dossier ORDER BY code');
  return Object.fromEntries(rows.map((r) => [r.code, r.m]));
}

/**
 * A plain package whose data fails in a dossier holding a table `blocker` (the operator's fix: drop
 * it), and logs every application into `applylog` (so a patch applied twice would show).
 */
export async function blockablePatches(dir: string, numbers: number[], extra: (n: number) => string = () => ''): Promise<PatchManifest[]> {
  const out: PatchManifest[] = [];
  for (const n of numbers) {
    out.push(
      await writePatchPackage(
        dir,
        `B${String(n).padStart(4, '0')}`,
        {
          number: n,
          type: 'standard',
          description: `blockable patch ${n}`,
          treatments: [{ name: `TRT${n}`, file: 'trt.src' }],
          dictionary: [],
          protectedDictionaryFields: [],
          structure: ['structure.sql'],
          data: ['data.sql'],
        },
        {
          'trt.src': `treatment ${n}\n`,
          'structure.sql': 'CREATE TABLE IF NOT EXISTS applylog (n integer NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());\n',
          'data.sql': `DO $$ BEGIN IF to_regclass('blocker') IS NOT NULL THEN RAISE EXCEPTION 'blocker present'; END IF; END $$;\nINSERT INTO applylog (n) VALUES (${n});\n${extra(n)}`,
        },
      ),
    );
  }
  return out;
}

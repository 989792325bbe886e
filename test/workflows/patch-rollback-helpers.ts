import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { ident, qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import type { PatchManifest } from '../../domain/patch';
import { writePatchPackage } from '../../patches/package';
import { startPatchRollback } from '../../starts';
import { partialRollbackResult, patchRollbackWorkflowId, type PatchRollbackInput, type RollbackRunResult } from '../../workflows/patch-rollback.api';
import type { TestStack } from '../helpers/env';
import type { MaintenanceWindowInput } from '../../workflows/maintenance-window.api';

/** Shared by the rollback tests (R-PI-11): a patch that fails half-way, a dossier's whole state, rollback runs. */

/**
 * Two standard packages. P1 changes every dossier (a column, data, a dictionary entry, a treatment); P2
 * adds a table, a treatment and a dictionary entry, and its data is two statements: the first updates a
 * parameter, the SECOND fails in a dossier holding a table `blocker`. Such a dossier ends at level 1, half-way.
 */
/** `halfWayPatches` in `<backup folder>/patches/NAME` (inside the shared store, where `patch integrate` takes a folder): its path. */
export async function halfWayPatchDir(backupDir: string, name: string): Promise<string> {
  const dir = path.join(backupDir, 'patches', name);
  fs.mkdirSync(dir, { recursive: true });
  await halfWayPatches(dir);
  return dir;
}

export async function halfWayPatches(dir: string): Promise<PatchManifest[]> {
  const base = { type: 'standard' as const, protectedDictionaryFields: [] };
  return [
    await writePatchPackage(
      dir,
      'P0001',
      {
        ...base,
        number: 1,
        description: 'rollback fixture 1',
        treatments: [{ name: 'TRT1', file: 'trt1.src' }],
        dictionary: [{ key: 'ECRAN_RB', fields: { libelle: 'v1' } }],
        structure: ['structure.sql'],
        data: ['data.sql'],
      },
      {
        'trt1.src': 'treatment 1\n',
        'structure.sql': 'ALTER TABLE parametre ADD COLUMN IF NOT EXISTS rb1 text;\n',
        'data.sql': `UPDATE parametre SET rb1 = 'patched by 1';\nINSERT INTO parametre (cle, valeur) VALUES ('rb.1', '{"patch": 1}') ON CONFLICT (cle) DO UPDATE SET valeur = EXCLUDED.valeur;\n`,
      },
    ),
    await writePatchPackage(
      dir,
      'P0002',
      {
        ...base,
        number: 2,
        description: 'rollback fixture 2: its second statement fails where a table blocker exists',
        treatments: [{ name: 'TRT2', file: 'trt2.src' }],
        dictionary: [{ key: 'ECRAN_RB', fields: { libelle: 'v2' } }],
        structure: ['structure.sql'],
        data: ['first.sql', 'second.sql'],
      },
      {
        'trt2.src': 'treatment 2\n',
        'structure.sql': 'CREATE TABLE IF NOT EXISTS zrb_2 (id integer PRIMARY KEY);\n',
        'first.sql': `UPDATE parametre SET valeur = '{"patch": 2}' WHERE cle = 'rb.1';\n`,
        'second.sql': `DO $$ BEGIN IF to_regclass('blocker') IS NOT NULL THEN RAISE EXCEPTION 'blocker present'; END IF; END $$;\n`,
      },
    ),
  ];
}

/** A table `blocker` in these dossiers: P2's second statement fails there. */
export async function block(pool: pg.Pool, codes: string[]): Promise<void> {
  for (const c of codes) await pool.query(`CREATE TABLE ${qualified(schemaNameFor(c), 'blocker')} (x integer)`);
}

/**
 * Everything a dossier is (R-PI-11): each table's columns and an md5 of its rows in order (data,
 * treatments `traitement`, dictionary `dictionnaire`, ledger `apatch`), its sequences, and its registry
 * row (level, flags, created). Not the last backup: the restore point itself is one, and stays recorded.
 */
export async function dossierState(pool: pg.Pool, code: string): Promise<Record<string, unknown>> {
  const schema = schemaNameFor(code);
  const client = await pool.connect();
  try {
    await client.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1`);
    const tables = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
      [schema],
    );
    const out: Record<string, unknown> = {};
    for (const { relname } of tables.rows) {
      const cols = await client.query<{ c: string }>(
        `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
        [schema, relname],
      );
      const sum = await client.query<{ n: string; md5: string }>(
        `SELECT count(*)::text AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) AS md5 FROM ${ident(schema)}.${ident(relname)} t`,
      );
      out[`table ${relname}`] = `${cols.rows[0]!.c} | ${sum.rows[0]!.n} rows | ${sum.rows[0]!.md5}`;
    }
    const seqs = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'S' ORDER BY c.relname`,
      [schema],
    );
    for (const { relname } of seqs.rows) {
      out[`sequence ${relname}`] = (await client.query(`SELECT last_value::text AS v FROM ${ident(schema)}.${ident(relname)}`)).rows[0].v;
    }
    const reg = await client.query(
      `SELECT label, role, is_test, is_specific, is_template, is_transferable, copy_status, schema_name, patch_level, created_at::text
         FROM nightshift.dossier WHERE code = $1`,
      [code],
    );
    out.registry = reg.rows[0];
    return out;
  } finally {
    client.release();
  }
}

export async function statesOf(pool: pg.Pool, codes: string[]): Promise<Record<string, Record<string, unknown>>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const c of codes) out[c] = await dossierState(pool, c);
  return out;
}

let seq = 0;
export async function startRollback(client: Client, stack: TestStack, input: Omit<PatchRollbackInput, 'target'>) {
  return startPatchRollback(client, { target: 'main', ...input }, {
    taskQueue: stack.config.temporal.taskQueue,
    workflowId: patchRollbackWorkflowId('main', `${Date.now()}-${++seq}-${crypto.randomBytes(3).toString('hex')}`),
  });
}

/** The rollback's result; one with failed dossiers FAILS with RollbackRunPartial and its result in details[0]: that result. */
export async function runRollback(client: Client, stack: TestStack, input: Omit<PatchRollbackInput, 'target'>): Promise<RollbackRunResult> {
  return (await startRollback(client, stack, input)).result().catch((err: unknown) => partialRollbackResult(err) ?? Promise.reject(err));
}

/** How many times each dossier was restored by rollback runs (the ledger), and the patch run's items marked rolled back. */
export async function rollbackLedger(pool: pg.Pool): Promise<{ restored: Record<string, number>; markedRolledBack: string[] }> {
  const r = await pool.query<{ code: string; n: number }>(`SELECT code, count(*)::int AS n FROM nightshift.patch_rollback_item WHERE status = 'ok' GROUP BY code ORDER BY code`);
  const m = await pool.query<{ code: string }>(`SELECT code FROM nightshift.patch_run_item WHERE rolled_back_at IS NOT NULL ORDER BY code`);
  return { restored: Object.fromEntries(r.rows.map((x) => [x.code, x.n])), markedRolledBack: m.rows.map((x) => x.code) };
}

/** A deployment window of target main starting in ~2 s, payload backup+patch of `dir`, told to roll back its failed dossiers (R-PI-11). */
export function rollbackWindowInput(dir: string, notify: string[] = []): MaintenanceWindowInput {
  const start = Math.ceil((Date.now() + 2000) / 1000) * 1000;
  return {
    target: 'main',
    type: 'deployment',
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + 30 * 60_000).toISOString(),
    payload: { kind: 'backup+patch', manifest: dir },
    onFailure: 'rollback',
    graceSeconds: 1,
    startWhenDrained: false,
    dbDrain: false,
    notify,
  };
}

import crypto from 'node:crypto';
import pg from 'pg';
import { backupDossierArchive } from '../../archive/engine';
import { generateDemoDossiers } from '../../registry/demo';
import { beginBackupSnapshot, beginSnapshot } from '../../store/catalog/begin-snapshot';
import { readSchemaCatalog } from '../../store/catalog/read-schema-catalog';
import { backupSnapshotRow } from '../../store/dossiers/backup-snapshot-row';
import { insertRun } from '../../store/backup/insert-run';
import { recordItem } from '../../store/backup/record-item';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/**
 * R-BK-1 R-BK-3: a dossier's backup snapshot uses the generic plan of its prepared statements from their first
 * execution on a connection (a recycled connection planned the catalog read for its parameters five times first:
 * bench/backup-plans.ts), and it is still taken by the first statement after the BEGIN (the in-use check and the
 * tables see one state). The statements that record a batch's dossier are prepared once per connection too
 * (bench/backup-record.ts: parsed and planned for every dossier, they cost PostgreSQL ~1 ms of CPU per dossier).
 */

let stack: TestStack;
let codes: string[];
beforeAll(async () => {
  stack = await createTestStack();
  codes = await generateDemoDossiers(stack.pools.get('main'), { target: 'main', count: 6, sizeKb: 4, prefix: 'PLN' });
});
afterAll(async () => {
  await stack?.close();
});

async function plansOf(client: pg.Client, begin: (c: pg.Client) => Promise<void>): Promise<{ generic: number; custom: number; after: string }> {
  for (const code of codes.slice(0, 3)) {
    await begin(client);
    const d = (await backupSnapshotRow(client, code))!;
    await readSchemaCatalog(client, d.schema_name);
    await client.query('COMMIT');
  }
  const { rows } = await client.query<{ generic_plans: string; custom_plans: string }>(
    `SELECT generic_plans::text, custom_plans::text FROM pg_prepared_statements WHERE name = 'nightshift.read_schema_catalog'`,
  );
  const after = (await client.query<{ plan_cache_mode: string }>('SHOW plan_cache_mode')).rows[0]!.plan_cache_mode;
  return { generic: Number(rows[0]!.generic_plans), custom: Number(rows[0]!.custom_plans), after };
}

async function fresh<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: stack.databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

test('R-BK-1 a fresh connection: the backup snapshot runs the catalog read on its generic plan from the first execution (plain BEGIN: planned for its parameters), and the setting ends with the transaction', async () => {
  expect(await fresh((c) => plansOf(c, beginBackupSnapshot))).toEqual({ generic: 3, custom: 0, after: 'auto' });
  expect(await fresh((c) => plansOf(c, beginSnapshot))).toEqual({ generic: 0, custom: 3, after: 'auto' });
});

test('R-BK-3 the backup snapshot is taken by its first statement, not by the BEGIN: what commits in between is what it sees', async () => {
  const code = codes[3]!;
  const pool = stack.pools.get('main');
  await fresh(async (c) => {
    await beginBackupSnapshot(c);
    await pool.query(`UPDATE nightshift.dossier SET label = 'changed after the BEGIN' WHERE code = $1`, [code]);
    expect((await backupSnapshotRow(c, code))!.label).toBe('changed after the BEGIN');
    await pool.query(`UPDATE nightshift.dossier SET label = 'changed after the first statement' WHERE code = $1`, [code]);
    expect((await backupSnapshotRow(c, code))!.label).toBe('changed after the BEGIN');
    await c.query('COMMIT');
  });
  // and the engine's archive of the dossier is whole
  const r = await backupDossierArchive({ pool, target: 'main', code, destinationDir: tempDir(`plans-${crypto.randomUUID()}`), plainOnPurpose: true });
  expect(r.tables).toBeGreaterThan(0);
});

test('R-BK-1 R-BK-6 a batch dossier\'s record (backup, generation, ledger item) runs on statements prepared once per connection', async () => {
  const dir = tempDir(`plans-${crypto.randomUUID()}`);
  // one connection: both dossiers' statements go to the same backend
  const pool = new pg.Pool({ connectionString: stack.databaseUrl, max: 1 });
  try {
    const runId = await insertRun(pool, {
      workflowId: `plans-${crypto.randomUUID()}`,
      kind: 'run',
      retryOf: null,
      previousRun: null,
      settings: { destinationDir: dir, documents: false, copyStatuses: ['original'], modifiedOnly: true, reportFolder: dir, reportRecipients: [], generationsRoot: dir },
      onlyCodes: null,
    });
    for (const code of codes.slice(4, 6)) {
      await backupDossierArchive({
        pool,
        target: 'main',
        code,
        destinationDir: dir,
        plainOnPurpose: true,
        generation: { kindRoot: dir, kind: 'normal', runId, reason: 'batch' },
        ledgerRunId: runId,
        beforeCommit: async (tx, g) => {
          expect(await recordItem(tx, runId, { code, status: 'ok', attempts: 1, error: null, file: g.file, size: g.bytes, durationMs: 1 })).toBe('added');
        },
      });
    }
    const { rows } = await pool.query<{ name: string; executions: number }>(
      `SELECT name, (generic_plans + custom_plans)::int AS executions FROM pg_prepared_statements
        WHERE name IN ('nightshift.record_backup', 'nightshift.record_generation', 'nightshift.record_backup_item') ORDER BY name`,
    );
    expect(rows).toEqual([
      { name: 'nightshift.record_backup', executions: 2 },
      { name: 'nightshift.record_backup_item', executions: 2 },
      { name: 'nightshift.record_generation', executions: 2 },
    ]);
    await pool.query(`UPDATE nightshift.backup_run SET state = 'completed', finished_at = now() WHERE id = $1`, [runId]);
  } finally {
    await pool.end();
  }
});

import type pg from 'pg';
import { qualified } from '../../db/ident';
import { schemaNameFor } from '../../domain/dossier';
import { generateDemoPatches } from '../../patches/demo';
import { SNAPSHOT_PAGE_SIZE } from '../../store/patch/read-only-snapshot';
import { tempDir } from '../helpers/env';
import { useCliStack, type CliResult } from '../helpers/cli';
import { demoDossiers } from '../workflows/patch-helpers';

/**
 * `nightshift patch plan` over patched dossiers (R-PI-10): its one snapshot must not keep a relation lock per
 * dossier read (2,001 patched dossiers filled the lock table: `out of shared memory`), and a plan that fails
 * half-way leaves no cut-off JSON document on stdout.
 */

const ctx = useCliStack(120_000);
const cli = ctx.cli;
const DOSSIERS = 2 * SNAPSHOT_PAGE_SIZE + 50;
let codes: string[];
let dir: string;

beforeAll(async () => {
  codes = await demoDossiers(ctx.stack, DOSSIERS);
  // each dossier as patch 1 leaves it (its engine tables, as nightshift.apply_patch creates them): what the plan reads per dossier
  await ctx.stack.pools.get('main').query(`
    DO $$ DECLARE s text; BEGIN
      FOR s IN SELECT schema_name FROM nightshift.dossier LOOP
        EXECUTE format('CREATE TABLE %1$I.apatch (number integer PRIMARY KEY, type text NOT NULL, checksum text NOT NULL, outcome text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
                        CREATE TABLE %1$I.traitement (name text PRIMARY KEY, body text NOT NULL, checksum text NOT NULL, origin_patch integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
                        CREATE TABLE %1$I.dictionnaire (key text PRIMARY KEY, fields jsonb NOT NULL)', s);
      END LOOP;
    END $$`);
  dir = tempDir('plan-locks');
  await generateDemoPatches(dir, 2);
});

/**
 * Starts `patch plan DIR --json` while the test holds `code`'s ledger locked: the plan stops there, the
 * dossiers before it read, and `whileBlocked` sees its session (the pid waiting for that lock).
 */
async function planBlockedAt(code: string, whileBlocked: (db: pg.PoolClient, pid: number) => Promise<void>): Promise<CliResult> {
  const db = await ctx.stack.pools.get('main').connect();
  try {
    await db.query('BEGIN');
    const ledger = qualified(schemaNameFor(code), 'apatch');
    await db.query(`LOCK TABLE ${ledger} IN ACCESS EXCLUSIVE MODE`);
    const planned = cli(['patch', 'plan', dir, '--json']);
    let pid: number | undefined;
    for (let i = 0; i < 600 && pid === undefined; i++) {
      const { rows } = await db.query<{ pid: number }>(`SELECT pid FROM pg_locks WHERE relation = $1::regclass AND NOT granted`, [ledger]);
      pid = rows[0]?.pid;
      if (pid === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    if (pid === undefined) throw new Error(`the plan never reached ${ledger}: ${JSON.stringify(await planned)}`);
    await whileBlocked(db, pid);
    await db.query('COMMIT');
    return await planned;
  } finally {
    await db.query('ROLLBACK').catch(() => {});
    db.release();
  }
}

test(`R-PI-10: patch plan's one snapshot holds the relation locks of one page of dossiers at most, not of every dossier read (${DOSSIERS} patched dossiers, pages of ${SNAPSHOT_PAGE_SIZE})`, async () => {
  let held: { schemas: number; locks: number } | undefined;
  const r = await planBlockedAt(codes[codes.length - 1]!, async (db, pid) => {
    const { rows } = await db.query<{ schemas: number; locks: number }>(
      `SELECT count(DISTINCT c.relnamespace)::int AS schemas, count(*)::int AS locks
         FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE l.pid = $1 AND l.granted AND n.nspname LIKE 'd\\_%'`,
      [pid],
    );
    held = rows[0];
  });
  // every dossier but the last one has been read when the plan waits for it: before the fix, the locks of all of them
  expect(held!.schemas).toBeGreaterThan(0);
  expect(held!.schemas).toBeLessThanOrEqual(SNAPSHOT_PAGE_SIZE);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout) as { dossiers: { code: string }[]; summary: { dossiers: number } };
  expect(plan.dossiers.map((d) => d.code)).toEqual(codes);
  expect(plan.summary.dossiers).toBe(DOSSIERS);
});

test('R-PI-10: a plan that fails half-way through its dossiers prints no cut-off --json document: nothing on stdout, the error on stderr, exit 1', async () => {
  const r = await planBlockedAt(codes[codes.length - 1]!, async (db, pid) => {
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
  });
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^nightshift: .*terminat/m);
});

test('R-PI-10: the pages, their locks let go in between, still read one snapshot: a dossier changed while the plan is on its first page is planned as it was when the plan began', async () => {
  const pool = ctx.stack.pools.get('main');
  const last = codes[codes.length - 1]!;
  try {
    // the plan waits in its first page; the last dossier, in its last page, moves to level 2 meanwhile
    const r = await planBlockedAt(codes[1]!, async () => {
      await pool.query(`UPDATE nightshift.dossier SET patch_level = 2 WHERE code = $1`, [last]);
    });
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { dossiers: { code: string; fromLevel: number; applies: number[] }[] };
    expect(plan.dossiers.find((d) => d.code === last)).toMatchObject({ fromLevel: 0, applies: [1, 2] });
    // the same plan now sees the change: the assertion above can tell the two apart
    const now = JSON.parse((await cli(['patch', 'plan', dir, '--json', '--dossiers', last])).stdout) as { dossiers: { fromLevel: number }[] };
    expect(now.dossiers[0]!.fromLevel).toBe(2);
  } finally {
    await pool.query(`UPDATE nightshift.dossier SET patch_level = 0 WHERE code = $1`, [last]);
  }
});

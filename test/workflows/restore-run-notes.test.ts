import fs from 'node:fs';
import { createTestStack, createTestWorker, devServerClient, quietRuntime } from '../helpers/env';
import { demoDossiers } from './patch-helpers';
import { backUp, runRestore } from './backup-restore-run-helpers';

/** What a whole-catalog restore run says at its end of the registered dossiers still without a schema (drill D2, R-BK-2). */

jest.setTimeout(300_000);

let temporal: Awaited<ReturnType<typeof devServerClient>>;
beforeAll(async () => {
  quietRuntime();
  temporal = await devServerClient();
});
afterAll(async () => {
  await temporal?.close();
});

const DAY1 = '2026-12-01T10:00:00Z';
const DAY3 = '2026-12-03T10:00:00Z';
const AT = '2026-12-02T11:00:00.000Z';

test('R-BK-11 R-BK-2: a dossier with generations at or before DATE that the run failed (its archives deleted by hand) is the run\'s failure, with its retry, never sent towards `dossiers delete` as never backed up; those no generation holds at or before DATE are', async () => {
  const stack = await createTestStack();
  try {
    const pool = stack.pools.get('main');
    const codes = await demoDossiers(stack, 4);
    // DEMO0001 restorable; DEMO0002 two generations, both archives deleted by hand (tester C's DEMO0008);
    // DEMO0003 backed up after DATE only; DEMO0004 never backed up
    await backUp(stack, ['DEMO0001', 'DEMO0002'], DAY1);
    await backUp(stack, ['DEMO0002'], '2026-12-01T12:00:00Z');
    await backUp(stack, ['DEMO0003'], DAY3);
    const files = await pool.query<{ file: string; links: string[] }>(`SELECT file, links FROM nightshift.backup_generation WHERE code = 'DEMO0002'`);
    expect(files.rowCount).toBe(2);
    for (const f of files.rows) for (const p of [f.file, ...f.links]) fs.rmSync(p, { force: true });
    for (const code of codes) await pool.query(`DROP SCHEMA "d_${code}" CASCADE`);

    const worker = await createTestWorker(stack, temporal.nativeConnection);
    const r = await worker.runUntil(runRestore(temporal.client, stack, { all: true, at: AT, replace: false, from: 'auto' }));
    expect(r).toMatchObject({ state: 'partial', total: 2, restored: 1, restoredCodes: ['DEMO0001'], failuresTotal: 1 });
    expect(r.failures.map((f) => f.code)).toEqual(['DEMO0002']);
    expect(r.retryCommand).toContain('--retry');

    const missing = r.notes.filter((n) => n.includes('still have no schema'));
    expect(missing).toEqual([
      '2 registered dossier(s) still have no schema and no backup at or before the date: DEMO0003 DEMO0004 ' +
        "(no backup of them at or before the date: backed up only later, in use at every batch, or never taken: test, non-transferable and template dossiers are not in the nightly selection, R-BK-2): restore them --at a later date, create them again, or remove them ('nightshift dossiers delete CODE')",
    ]);
    expect(r.notes.join('\n')).not.toContain('DEMO0002');
    // what `backup restore --run ID` reads later: the same notes, kept with the run
    const kept = await pool.query<{ notes: string[] }>(`SELECT notes FROM nightshift.restore_run ORDER BY id DESC LIMIT 1`);
    expect(kept.rows[0]!.notes.filter((n) => n.includes('still have no schema'))).toEqual(missing);
  } finally {
    await stack.close();
  }
});

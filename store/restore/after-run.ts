import type { Queryable } from '../queryable';
import type { RestoreAfterRun } from '../../domain/restore-run';

/** What a finished restore run leaves for the operator to know (domain/restore-run.ts RestoreAfterRun), read once at its close. */
export async function restoreAfterRun(db: Queryable, runId: number, o: { shown: number; wholeCatalog: boolean }): Promise<RestoreAfterRun> {
  const older = await db.query<{ code: string; generation: string; snapshot_at: Date; newest: string; newest_at: Date; n: number }>(
    `SELECT i.code, g.id::text AS generation, g.snapshot_at, n.id::text AS newest, n.snapshot_at AS newest_at, count(*) OVER ()::int AS n
       FROM nightshift.restore_run r
       JOIN nightshift.restore_run_item i ON i.run_id = r.id AND i.status = 'ok'
       JOIN nightshift.backup_generation g ON g.id = i.generation_id
       JOIN LATERAL (SELECT x.id, x.snapshot_at FROM nightshift.backup_generation x
                      WHERE x.code = i.code AND x.deleted_at IS NULL AND x.snapshot_at < r.restore_at + interval '1 millisecond' AND (r.kind IS NULL OR x.kind = r.kind)
                      ORDER BY x.snapshot_at DESC, x.id DESC LIMIT 1) n ON n.id <> g.id
      WHERE r.id = $1 ORDER BY i.code LIMIT $2`,
    [runId, o.shown],
  );
  const sup = (
    await db.query<{ code: string; patch_level: number; restored: boolean }>(
      `SELECT d.code, d.patch_level, EXISTS (SELECT 1 FROM nightshift.restore_run_item i WHERE i.run_id = $1 AND i.code = d.code AND i.status = 'ok') AS restored
         FROM nightshift.dossier d WHERE d.role = 'supervisor' ORDER BY d.code LIMIT 1`,
      [runId],
    )
  ).rows[0];
  const relative = async (below: boolean) => {
    if (!sup) return { total: 0, codes: [] as string[], highest: 0 };
    // below: the dossiers this run restored under the supervisor's level; above: every dossier over it
    const { rows } = await db.query<{ code: string; patch_level: number; n: number; highest: number }>(
      below
        ? `SELECT d.code, d.patch_level, count(*) OVER ()::int AS n, max(d.patch_level) OVER ()::int AS highest FROM nightshift.dossier d
             JOIN nightshift.restore_run_item i ON i.run_id = $1 AND i.code = d.code AND i.status = 'ok'
            WHERE d.role <> 'supervisor' AND d.patch_level < $2 ORDER BY d.code LIMIT $3`
        : `SELECT d.code, d.patch_level, count(*) OVER ()::int AS n, max(d.patch_level) OVER ()::int AS highest FROM nightshift.dossier d
            WHERE $1::bigint IS NOT NULL AND d.role <> 'supervisor' AND d.patch_level > $2 ORDER BY d.code LIMIT $3`,
      [runId, sup.patch_level, o.shown],
    );
    return { total: rows[0]?.n ?? 0, codes: rows.map((r) => r.code), highest: rows[0]?.highest ?? 0 };
  };
  const noSchema = o.wholeCatalog
    ? (
        await db.query<{ code: string; n: number }>(
          // a dossier the run took (failed: the run's failure, with its retry) or that a generation holds at or before the
          // date (of any kind) is not one to create again or delete (drill of 2026-12-06: one whose archive was lost was)
          `SELECT d.code, count(*) OVER ()::int AS n FROM nightshift.dossier d JOIN nightshift.restore_run r ON r.id = $1
            WHERE NOT EXISTS (SELECT 1 FROM pg_namespace s WHERE s.nspname = d.schema_name)
              AND NOT EXISTS (SELECT 1 FROM nightshift.restore_run_item i WHERE i.run_id = r.id AND i.code = d.code)
              AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g
                               WHERE g.code = d.code AND g.deleted_at IS NULL AND g.snapshot_at < r.restore_at + interval '1 millisecond')
            ORDER BY d.code LIMIT $2`,
          [runId, o.shown],
        )
      ).rows
    : [];
  return {
    older: {
      total: older.rows[0]?.n ?? 0,
      shown: older.rows.map((r) => ({ code: r.code, generation: Number(r.generation), snapshotAt: r.snapshot_at, newest: Number(r.newest), newestAt: r.newest_at })),
    },
    supervisor: sup ? { code: sup.code, level: sup.patch_level, restored: sup.restored } : null,
    belowSupervisor: await relative(true),
    aboveSupervisor: sup?.restored ? await relative(false) : { total: 0, codes: [], highest: 0 },
    noSchema: { total: noSchema[0]?.n ?? 0, codes: noSchema.map((r) => r.code) },
  };
}

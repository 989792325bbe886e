import type { Queryable } from '../queryable';
import { qualified } from '../../db/ident';

export interface DossierLedgerRead {
  /** the registry row: null when no dossier has that code */
  dossier: { code: string; role: string; test: boolean; specific: boolean; schemaName: string; level: number } | null;
  /** the supervisor's level (R-PI-9: the others follow it), null without a supervisor */
  supervisorLevel: number | null;
  /** the dossier's own ledger (apatch, R-PI-8); empty for a dossier never patched (no apatch table yet) */
  ledger: { number: number; type: string; checksum: string; outcome: string; appliedAt: Date }[];
  /** the packages stored on the target (patch_package), up to the highest number */
  stored: { number: number; type: string; checksum: string; description: string }[];
  /** the patch runs that recorded each number as applied to this dossier (patch_run_item.applied), the latest first */
  appliedBy: { number: number; runId: number }[];
}

/**
 * One dossier's patches as `patch history CODE` shows them (Flyway's `info`): its ledger, the stored packages and the
 * runs that applied them, in one read-only snapshot (the run items by code: their index of migration 0034).
 */
export async function readDossierLedger(db: Queryable, code: string): Promise<DossierLedgerRead> {
  const { rows: found } = await db.query<{ code: string; role: string; is_test: boolean; is_specific: boolean; schema_name: string; patch_level: number; has_ledger: boolean; supervisor_level: number | null }>(
    `SELECT d.code, d.role, d.is_test, d.is_specific, d.schema_name, d.patch_level,
            to_regclass(format('%I.apatch', d.schema_name)) IS NOT NULL AS has_ledger,
            (SELECT s.patch_level FROM nightshift.dossier s WHERE s.role = 'supervisor' ORDER BY s.code LIMIT 1) AS supervisor_level
       FROM nightshift.dossier d WHERE d.code = $1`,
    [code],
  );
  const stored = (
    await db.query<{ number: number; type: string; checksum: string; description: string }>(
      `SELECT number, type, checksum, description FROM nightshift.patch_package ORDER BY number`,
    )
  ).rows;
  const d = found[0];
  if (!d) return { dossier: null, supervisorLevel: null, ledger: [], stored, appliedBy: [] };
  const ledger = d.has_ledger
    ? (
        await db.query<{ number: number; type: string; checksum: string; outcome: string; applied_at: Date }>(
          `SELECT number, type, checksum, outcome, applied_at FROM ${qualified(d.schema_name, 'apatch')} ORDER BY number`,
        )
      ).rows.map((r) => ({ number: r.number, type: r.type, checksum: r.checksum, outcome: r.outcome, appliedAt: r.applied_at }))
    : [];
  const appliedBy = (
    await db.query<{ number: number; run_id: string }>(
      `SELECT DISTINCT ON (n) n AS number, i.run_id FROM nightshift.patch_run_item i, unnest(i.applied) AS n
        WHERE i.code = $1 AND i.rolled_back_at IS NULL ORDER BY n, i.run_id DESC`,
      [code],
    )
  ).rows.map((r) => ({ number: r.number, runId: Number(r.run_id) }));
  return {
    dossier: { code: d.code, role: d.role, test: d.is_test, specific: d.is_specific, schemaName: d.schema_name, level: d.patch_level },
    supervisorLevel: d.supervisor_level,
    ledger,
    stored,
    appliedBy,
  };
}

import type { Queryable } from '../queryable';

/** What nightshift.apply_patch (db/migrations/0008_patch-engine.sql) reports for one patch in one dossier. */
export type ApplyResult =
  | { status: 'applied' | 'not-applicable' | 'already' | 'unknown' }
  /** the dossier is below the level the run expected (restored meanwhile): nothing applied */
  | { status: 'moved'; level: number }
  | { status: 'failed'; step: string; sqlstate: string; message: string };

export interface ApplyPatchArgs {
  /** the dossier's level as the run last knew it (db/migrations/0027: below it, 'moved') */
  expectedLevel: number;
  code: string;
  schemaName: string;
  number: number;
  type: string;
  checksum: string;
  /** R-PI-6: false for a patch that does not go into this dossier (only its ledger row is written) */
  applies: boolean;
  createLedger: boolean;
  structure: { names: string[]; bodies: string[] };
  data: { names: string[]; bodies: string[] };
  dictionary: unknown;
  protectedFields: string[];
  installs: { name: string; body: string; checksum: string }[];
  /** how long the patch waits for a lock another session holds (default PATCH_LOCK_WAIT_SECONDS) */
  lockWaitSeconds?: number;
}

/**
 * How long a patch waits for a table (or the dossier's row) another session holds locked before it fails, as a
 * backup gives a dossier up (drill F2, session 37: a patch run, and the window's cancel with it, waited as long as a
 * `LOCK TABLE` left open in psql). The dossier fails with PostgreSQL's "canceling statement due to lock timeout":
 * retry it once the lock is gone.
 */
export const PATCH_LOCK_WAIT_SECONDS = 30;

/** One patch, one statement, one transaction (its lock_timeout local to it: set in the same statement, before). */
export async function applyPatch(db: Queryable, a: ApplyPatchArgs): Promise<ApplyResult> {
  const { rows } = await db.query<{ r: ApplyResult }>(
    `SELECT nightshift.apply_patch_from($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10::text[], $11::text[], $12::text[], $13::jsonb, $14::text[], $15::jsonb) AS r
       FROM (SELECT set_config('lock_timeout', $16, true)) AS lock_wait`,
    [
      a.expectedLevel,
      a.code,
      a.schemaName,
      a.number,
      a.type,
      a.checksum,
      a.applies,
      a.createLedger,
      a.structure.names,
      a.structure.bodies,
      a.data.names,
      a.data.bodies,
      JSON.stringify(a.dictionary),
      a.protectedFields,
      JSON.stringify(a.installs),
      `${Math.max(1, Math.floor(a.lockWaitSeconds ?? PATCH_LOCK_WAIT_SECONDS))}s`,
    ],
  );
  return rows[0]!.r;
}

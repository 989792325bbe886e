import type { Generation } from '../../domain/generation';
import type { Queryable } from '../queryable';
import { GENERATION_COLUMNS, type GenerationRow, toGeneration } from './row';

export interface PruneCandidate extends Generation {
  /** the latest expiry of an unexpired lease on it (a restore or a verification reading it), else null */
  leasedUntil: Date | null;
  /** the patch run whose restore point it is (an unexpired `restore-point:<run>` lease, R-PI-11), else null */
  restorePointRun: string | null;
}

const COLUMNS = `${GENERATION_COLUMNS},
         (SELECT max(l.expires_at) FROM nightshift.backup_generation_lease l WHERE l.generation_id = g.id AND l.expires_at > now()) AS leased_until,
         (SELECT substring(l.holder FROM 15) FROM nightshift.backup_generation_lease l
           WHERE l.generation_id = g.id AND l.expires_at > now() AND l.holder LIKE 'restore-point:%'
           ORDER BY l.expires_at DESC LIMIT 1) AS restore_point_run,
         now() AS db_now`;

const SQL = `SELECT ${COLUMNS}
    FROM nightshift.backup_generation g
   WHERE code = $1 AND deleted_at IS NULL
   ORDER BY snapshot_at DESC, id DESC`;

type CandidateRow = GenerationRow & { leased_until: Date | null; restore_point_run: string | null; db_now: Date };
const toCandidate = (r: CandidateRow): PruneCandidate => ({ ...toGeneration(r), leasedUntil: r.leased_until, restorePointRun: r.restore_point_run });

/**
 * A dossier's kept generations with their leases, newest first, and the database's clock (R-BK-11).
 * `lock`: inside the prune's transaction, the rows are locked until it commits, so that a reader taking a
 * lease (FOR SHARE in takeGenerationLease) waits for the decision and then sees a pruned row as pruned.
 */
export async function pruneCandidates(db: Queryable, code: string, o: { lock: boolean }): Promise<{ generations: PruneCandidate[]; now: Date }> {
  const { rows } = await db.query<CandidateRow>(o.lock ? `${SQL} FOR UPDATE OF g` : SQL, [code]);
  return { generations: rows.map(toCandidate), now: rows[0]?.db_now ?? new Date() };
}

/** What a chunk of the prune reads first, for all its dossiers at once (pruneChunkAhead). */
export interface ChunkAhead {
  /** each dossier's kept generations with their leases, newest first, unlocked; a dossier without any is absent */
  generations: Map<string, PruneCandidate[]>;
  /** the dossiers with pruned generations whose file or off-site copy may still be there (pruneLeftovers' rule) */
  withLeftovers: Set<string>;
  now: Date;
}

/**
 * The candidates of many dossiers in two statements, unlocked (R-BK-11): the prune's chunk decides from them which
 * dossiers have nothing to delete and nothing left over, and takes only the others through the locked path
 * (activities/prune.ts). `recentDays` as pruneLeftovers'.
 */
export async function pruneChunkAhead(db: Queryable, codes: string[], recentDays = 7): Promise<ChunkAhead> {
  const { rows } = await db.query<CandidateRow>(
    `SELECT ${COLUMNS} FROM nightshift.backup_generation g
      WHERE code = ANY($1::text[]) AND deleted_at IS NULL
      ORDER BY code, snapshot_at DESC, id DESC`,
    [codes],
  );
  const left = await db.query<{ code: string }>(
    `SELECT DISTINCT code FROM nightshift.backup_generation
      WHERE code = ANY($1::text[]) AND deleted_at IS NOT NULL
        AND (deleted_at > now() - make_interval(days => $2) OR (offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL))`,
    [codes, recentDays],
  );
  const generations = new Map<string, PruneCandidate[]>();
  for (const r of rows) {
    const g = toCandidate(r);
    const mine = generations.get(g.code);
    if (mine) mine.push(g);
    else generations.set(g.code, [g]);
  }
  return { generations, withLeftovers: new Set(left.rows.map((r) => r.code)), now: rows[0]?.db_now ?? new Date() };
}

import type { Queryable } from '../queryable';
import { nightlyKeepsSql, MODIFIED_SINCE_BACKUP_SQL } from '../backup/selection-sql';

/** Kept generations of one kind (or of every kind: `kind` null). */
export interface KeptTotals {
  kind: string | null;
  generations: number;
  bytes: number;
  dossiers: number;
  oldest: Date | null;
  newest: Date | null;
}

/** What `backup info` says of a target's backup store (pgBackRest's `info`, restic's `stats`), read in one snapshot. */
export interface StoreSummary {
  kept: KeptTotals;
  kinds: KeptTotals[];
  verify: { ok: number; unverified: number; corrupt: number; missing: number };
  offsite: { copied: number; failed: number; none: number };
  /** kept generations per key id (null: plain), most used first */
  keys: { keyId: string | null; generations: number }[];
  pruned: { generations: number; lastAt: Date | null };
  /** the dossiers with a kept generation found corrupt or missing (R-BK-13): the first UNCOVERED_SHOWN by code, and how many */
  unreadable: { codes: string[]; total: number };
}

const TOTALS = `count(*)::int AS generations, coalesce(sum(size), 0)::bigint AS bytes, count(DISTINCT code)::int AS dossiers,
                min(snapshot_at) AS oldest, max(snapshot_at) AS newest`;

/** One pass over the generations (kept and pruned): the totals, per kind, per key, verification and off-site states. */
export async function storeSummary(db: Queryable): Promise<StoreSummary> {
  type Row = { kind: string | null; generations: number; bytes: string; dossiers: number; oldest: Date | null; newest: Date | null };
  const { rows: kinds } = await db.query<Row>(
    `SELECT kind, ${TOTALS} FROM nightshift.backup_generation WHERE deleted_at IS NULL GROUP BY ROLLUP (kind) ORDER BY kind NULLS FIRST`,
  );
  const { rows: states } = await db.query<{
    ok: number; unverified: number; corrupt: number; missing: number; copied: number; failed: number; none: number; pruned: number; last_pruned: Date | null;
  }>(
    `SELECT count(*) FILTER (WHERE deleted_at IS NULL AND verify_state = 'ok')::int AS ok,
            count(*) FILTER (WHERE deleted_at IS NULL AND verify_state = 'unverified')::int AS unverified,
            count(*) FILTER (WHERE deleted_at IS NULL AND verify_state = 'corrupt')::int AS corrupt,
            count(*) FILTER (WHERE deleted_at IS NULL AND verify_state = 'missing')::int AS missing,
            count(*) FILTER (WHERE deleted_at IS NULL AND offsite_state = 'copied')::int AS copied,
            count(*) FILTER (WHERE deleted_at IS NULL AND offsite_state = 'failed')::int AS failed,
            count(*) FILTER (WHERE deleted_at IS NULL AND offsite_state NOT IN ('copied', 'failed'))::int AS none,
            count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS pruned,
            max(deleted_at) AS last_pruned
       FROM nightshift.backup_generation`,
  );
  const { rows: keys } = await db.query<{ key_id: string | null; n: number }>(
    'SELECT key_id, count(*)::int AS n FROM nightshift.backup_generation WHERE deleted_at IS NULL GROUP BY key_id ORDER BY n DESC, key_id NULLS LAST',
  );
  // the generations a verification found so (index backup_generation_unreadable, migration 0022)
  const { rows: unreadable } = await db.query<{ total: number; codes: string[] }>(
    `WITH u AS (SELECT DISTINCT code FROM nightshift.backup_generation WHERE deleted_at IS NULL AND verify_state IN ('corrupt', 'missing'))
     SELECT (SELECT count(*)::int FROM u) AS total, ARRAY(SELECT code FROM u ORDER BY code LIMIT ${UNCOVERED_SHOWN}) AS codes`,
  );
  const totals = (r: Row | undefined, kind: string | null): KeptTotals => ({
    kind,
    generations: r?.generations ?? 0,
    bytes: Number(r?.bytes ?? 0),
    dossiers: r?.dossiers ?? 0,
    oldest: r?.oldest ?? null,
    newest: r?.newest ?? null,
  });
  const s = states[0]!;
  return {
    kept: totals(kinds.find((k) => k.kind === null), null),
    kinds: kinds.filter((k) => k.kind !== null).map((k) => totals(k, k.kind)),
    verify: { ok: s.ok, unverified: s.unverified, corrupt: s.corrupt, missing: s.missing },
    offsite: { copied: s.copied, failed: s.failed, none: s.none },
    keys: keys.map((k) => ({ keyId: k.key_id, generations: k.n })),
    pruned: { generations: s.pruned, lastAt: s.last_pruned },
    unreadable: { codes: unreadable[0]!.codes, total: unreadable[0]!.total },
  };
}

/** Codes shown where a list of dossiers is said (the rest counted). */
export const UNCOVERED_SHOWN = 20;

/**
 * The registered dossiers and their coverage: how many the nightly selection takes (R-BK-2, `copyStatuses` from the
 * settings), those of them with no kept generation (the first UNCOVERED_SHOWN by code, and how many), and how many
 * of them changed since their last backup.
 */
export async function dossierCoverage(
  db: Queryable,
  copyStatuses: readonly string[],
): Promise<{ registered: number; nightly: number; uncovered: string[]; uncoveredTotal: number; modified: number }> {
  const { rows } = await db.query<{ registered: number; nightly: number; modified: number; uncovered_total: number; uncovered: string[] }>(
    `WITH nightly AS (SELECT d.code, ${MODIFIED_SINCE_BACKUP_SQL} AS modified,
                             NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g WHERE g.code = d.code AND g.deleted_at IS NULL) AS uncovered
                        FROM nightshift.dossier d WHERE ${nightlyKeepsSql('$1::text[]')})
     SELECT (SELECT count(*)::int FROM nightshift.dossier) AS registered,
            (SELECT count(*)::int FROM nightly) AS nightly,
            (SELECT count(*)::int FROM nightly WHERE modified) AS modified,
            (SELECT count(*)::int FROM nightly WHERE uncovered) AS uncovered_total,
            ARRAY(SELECT code FROM nightly WHERE uncovered ORDER BY code LIMIT ${UNCOVERED_SHOWN}) AS uncovered`,
    [copyStatuses],
  );
  const r = rows[0]!;
  return { registered: r.registered, nightly: r.nightly, modified: r.modified, uncovered: r.uncovered, uncoveredTotal: r.uncovered_total };
}

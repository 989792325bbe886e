import type { Queryable } from '../queryable';
import { nightlyKeepsSql, MODIFIED_SINCE_BACKUP_SQL } from '../backup/selection-sql';
import { keptKeyIds } from './kept-key-ids';

/** Kept generations of one kind (or of every kind: `kind` null). */
export interface KeptTotals {
  kind: string | null;
  generations: number;
  bytes: number;
  dossiers: number;
  oldest: Date | null;
  newest: Date | null;
}

/** What `backup info` says of a target's backup store (pgBackRest's `info`, restic's `stats`). */
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

const KEPT = 'deleted_at IS NULL';

/**
 * The totals, per kind, verification and off-site states, keys, pruned: one pass over the generations (kept and pruned,
 * by ROLLUP over the kind: its total row carries the states), the keys and the unreadable ones apart (small answers).
 * Call it inside one snapshot (`withReadOnlySnapshot`) for figures of one instant.
 */
export async function storeSummary(db: Queryable): Promise<StoreSummary> {
  type Row = {
    kind: string | null; generations: number; bytes: string; dossiers: number; oldest: Date | null; newest: Date | null;
    ok: number; unverified: number; corrupt: number; missing: number; copied: number; failed: number; none: number; pruned: number; last_pruned: Date | null;
  };
  const kept = (what: string, and = '') => `${what} FILTER (WHERE ${KEPT}${and})`;
  const { rows } = await db.query<Row>(
    `SELECT kind, ${kept('count(*)')}::int AS generations, coalesce(${kept('sum(size)')}, 0)::bigint AS bytes,
            ${kept('count(DISTINCT code)')}::int AS dossiers, ${kept('min(snapshot_at)')} AS oldest, ${kept('max(snapshot_at)')} AS newest,
            ${kept('count(*)', " AND verify_state = 'ok'")}::int AS ok, ${kept('count(*)', " AND verify_state = 'unverified'")}::int AS unverified,
            ${kept('count(*)', " AND verify_state = 'corrupt'")}::int AS corrupt, ${kept('count(*)', " AND verify_state = 'missing'")}::int AS missing,
            ${kept('count(*)', " AND offsite_state = 'copied'")}::int AS copied, ${kept('count(*)', " AND offsite_state = 'failed'")}::int AS failed,
            ${kept('count(*)', " AND offsite_state NOT IN ('copied', 'failed')")}::int AS none,
            count(*) FILTER (WHERE deleted_at IS NOT NULL)::int AS pruned, max(deleted_at) AS last_pruned
       FROM nightshift.backup_generation GROUP BY ROLLUP (kind) ORDER BY kind NULLS FIRST`,
  );
  // the generations a verification found so (index backup_generation_unreadable, migration 0022)
  const { rows: unreadable } = await db.query<{ total: number; codes: string[] }>(
    `WITH u AS (SELECT DISTINCT code FROM nightshift.backup_generation WHERE ${KEPT} AND verify_state IN ('corrupt', 'missing'))
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
  // no generation at all: ROLLUP over no row gives its total row all the same (counts 0)
  const all = rows.find((r) => r.kind === null);
  return {
    kept: totals(all, null),
    // a kind whose generations are all pruned is not a kind kept
    kinds: rows.filter((r) => r.kind !== null && r.generations > 0).map((r) => totals(r, r.kind)),
    verify: { ok: all?.ok ?? 0, unverified: all?.unverified ?? 0, corrupt: all?.corrupt ?? 0, missing: all?.missing ?? 0 },
    offsite: { copied: all?.copied ?? 0, failed: all?.failed ?? 0, none: all?.none ?? 0 },
    keys: await keptKeyIds(db),
    pruned: { generations: all?.pruned ?? 0, lastAt: all?.last_pruned ?? null },
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

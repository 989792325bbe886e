/**
 * The tail of a statement whose CTE `ins` added 'not_done' ledger rows to run $1 (RETURNING one row each): adds
 * them to the run's totals (migration 0018; NULL totals, a run claimed before them, stay NULL).
 */
export const COUNT_ADDED_SQL = `UPDATE nightshift.backup_run
          SET items_done = items_done + (SELECT count(*) FROM ins), items_failed = items_failed + (SELECT count(*) FROM ins),
              last_item_at = CASE WHEN EXISTS (SELECT 1 FROM ins) THEN now() ELSE last_item_at END
        WHERE id = $1`;

/**
 * The restore points a rollback may use (R-PI-11): a patch run item whose restore point was taken or reused
 * (db/migrations/0015) and that no rollback has used yet. Aliased `i` over nightshift.patch_run_item.
 */
export const USABLE_RESTORE_POINT = `i.restore_point IS NOT NULL AND i.restore_point_state IN ('taken', 'reused') AND i.rolled_back_at IS NULL`;

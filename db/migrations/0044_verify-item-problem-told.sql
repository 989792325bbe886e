-- Up Migration
-- R-BK-13 "told once": a problem found as an earlier run recorded it is mailed no more, but only when that earlier run's
-- mail was sent (drill F, session 36: problems found while no report recipient was set were never mailed once
-- recipients were). This index finds a generation's earlier problems without a run id (few rows: only the problems).
CREATE INDEX verify_run_item_problem_generation ON nightshift.verify_run_item (generation_id, run_id) WHERE status NOT IN ('ok', 'pruned');

-- Down Migration
DROP INDEX nightshift.verify_run_item_problem_generation;

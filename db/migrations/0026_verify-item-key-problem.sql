-- Up Migration
-- R-BK-13, R-BK-12: a verification that could not read a generation for want of its key leaves the generation's
-- verify_state as the last verification that could read it said (the archive is not at fault). `backup list` shows
-- that later check beside it, per generation: this index finds a generation's key problems without a run id (few
-- rows: only the 'key' outcomes).
CREATE INDEX verify_run_item_key_problem ON nightshift.verify_run_item (generation_id, finished_at DESC) WHERE status = 'key';

-- Down Migration
DROP INDEX nightshift.verify_run_item_key_problem;

-- Up Migration
-- R-BK-13 at scale: a verify run may read one part of every kept generation (restic's `check --read-data-subset
-- n/t`), the generations whose id divided by subset_of leaves subset_part - 1; a rotating run (`--rotate T`, the
-- schedule's) took the part after the target's last rotating run in as many parts that was not ended early, so that
-- T runs in a row read every generation kept throughout. NULL: every kept generation of the scope, as before.
ALTER TABLE nightshift.verify_run
  ADD COLUMN subset_part integer,
  ADD COLUMN subset_of integer,
  ADD COLUMN subset_rotating boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT verify_run_subset CHECK (
    (subset_part IS NULL AND subset_of IS NULL AND NOT subset_rotating)
    OR (scope = 'all' AND subset_of BETWEEN 2 AND 1000 AND subset_part BETWEEN 1 AND subset_of)
  );
-- the next rotating run's part: the last one of the same number of parts
CREATE INDEX verify_run_rotation ON nightshift.verify_run (subset_of, id DESC) WHERE subset_rotating;

-- Down Migration
DROP INDEX nightshift.verify_run_rotation;
ALTER TABLE nightshift.verify_run DROP CONSTRAINT verify_run_subset, DROP COLUMN subset_rotating, DROP COLUMN subset_of, DROP COLUMN subset_part;

-- Up Migration
-- AWS SSM's MaxErrors for patch runs (--max-failures): a run stopped once too many dossiers had failed records how many
-- of its dossiers it did not start, so that what the database alone says of it (`patch status`, a window's status
-- when no worker answers) names them and their revalidation (R-PI-9). NULL: the run was not stopped.
ALTER TABLE nightshift.patch_run ADD COLUMN not_started integer CONSTRAINT patch_run_not_started CHECK (not_started > 0);

-- Down Migration
ALTER TABLE nightshift.patch_run DROP COLUMN not_started;

-- Up Migration
-- R-BK-13, R-OP-1: a verify run whose workflow was terminated (or timed out) by hand stayed `running` in
-- `backup verify status` for ever. `verify status` now closes it as `backup status` closes an abandoned batch:
-- state failed, its totals from its ledger, and why in this note ("abandoned: its workflow is terminated").
ALTER TABLE nightshift.verify_run ADD COLUMN note text;

-- Down Migration
ALTER TABLE nightshift.verify_run DROP COLUMN note;

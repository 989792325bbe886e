-- Up Migration
-- A `patch repair` (migration 0040) realigns a dossier's ledger row: the touch trigger (R-BK-10) bumps its change
-- counter, and the dossier is modified for the next backup, as it should be. A rollback's check of data written since
-- the patch (store/rollback/changed-since-patch.ts) then read that bump as a user's write (tester B: 52 dossiers "written
-- to since", what users wrote "lost", after a repair nobody wrote anything). As a patch run records the counter with its
-- outcome (change_seq_after, 0023), a repair now records it per dossier it realigned: the counter before and after its
-- update. The check discounts the repair's bump only when the counter before it was one a patch run (or an earlier
-- repair) left: a user's write before the repair still counts.
CREATE TABLE nightshift.patch_repair_dossier (
  repair_id          bigint NOT NULL REFERENCES nightshift.patch_repair (id) ON DELETE CASCADE,
  code               text NOT NULL,
  change_seq_before  bigint NOT NULL,
  change_seq_after   bigint NOT NULL,
  PRIMARY KEY (repair_id, code)
);
CREATE INDEX patch_repair_dossier_code ON nightshift.patch_repair_dossier (code);

-- repair_patch_checksum (0040, apply) of one dossier, its counter before and after recorded under the repair when it
-- realigned a row (in the same statement: the page's ledgers, its count and these rows commit together).
CREATE FUNCTION nightshift.repair_dossier_ledger(repair bigint, dossier_code text, target_schema text, patch_number integer, old_checksums text[], new_checksum text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  before bigint;
  realigned integer;
BEGIN
  SELECT change_seq INTO before FROM nightshift.dossier WHERE code = dossier_code;
  realigned := nightshift.repair_patch_checksum(target_schema, patch_number, old_checksums, new_checksum, true);
  IF realigned > 0 THEN
    INSERT INTO nightshift.patch_repair_dossier (repair_id, code, change_seq_before, change_seq_after)
    SELECT repair, dossier_code, before, d.change_seq FROM nightshift.dossier d WHERE d.code = dossier_code
    -- a second patch realigned by the same repair: the counter before the repair's first write stays
    ON CONFLICT (repair_id, code) DO UPDATE SET change_seq_after = EXCLUDED.change_seq_after;
  END IF;
  RETURN realigned;
END
$$;

-- Down Migration
DROP FUNCTION nightshift.repair_dossier_ledger(bigint, text, text, integer, text[], text);
DROP TABLE nightshift.patch_repair_dossier;

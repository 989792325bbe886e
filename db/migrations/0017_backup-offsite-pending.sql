-- Up Migration
-- Off-site copies left to make and to delete (R-BK-14, R-BK-11, R-BK-4, issue 13).
--
-- 1. The dossiers whose newest kept generation of kind 'normal' has no completed off-site copy: a batch that copies
--    off-site takes them first even when unmodified (a copy that failed, a manual backup, a restore point, archives
--    written before the bucket was configured). One row per such dossier, kept by a trigger on backup_generation,
--    so the selection reads a set as small as what is left to copy instead of probing every dossier's newest
--    generation (100,000 probes per page of the selection).
CREATE TABLE nightshift.backup_offsite_pending (
  code          text PRIMARY KEY,
  -- the newest kept 'normal' generation of the dossier, whose off-site copy is not done
  generation_id bigint NOT NULL
);

CREATE FUNCTION nightshift.refresh_offsite_pending(dossier text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  newest record;
BEGIN
  -- one refresh at a time: the second waits for the first's commit and then sees its rows. One key for every
  -- dossier (a lock per dossier would exhaust the lock table in a statement touching thousands of dossiers); the
  -- transactions that change generations commit right after (a backup's record, a prune's mark, a copy's state).
  PERFORM pg_advisory_xact_lock(hashtext('nightshift.offsite-pending'));
  SELECT id, offsite_state INTO newest FROM nightshift.backup_generation
   WHERE code = dossier AND kind = 'normal' AND deleted_at IS NULL
   ORDER BY snapshot_at DESC, id DESC LIMIT 1;
  IF newest.id IS NULL OR newest.offsite_state = 'copied' THEN
    DELETE FROM nightshift.backup_offsite_pending WHERE code = dossier;
  ELSE
    INSERT INTO nightshift.backup_offsite_pending (code, generation_id) VALUES (dossier, newest.id)
    ON CONFLICT (code) DO UPDATE SET generation_id = EXCLUDED.generation_id;
  END IF;
END $$;

CREATE FUNCTION nightshift.backup_generation_offsite_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN PERFORM nightshift.refresh_offsite_pending(OLD.code); END IF;
  IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.code <> OLD.code) THEN PERFORM nightshift.refresh_offsite_pending(NEW.code); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER offsite_pending AFTER INSERT OR DELETE OR UPDATE OF code, kind, snapshot_at, offsite_state, deleted_at
  ON nightshift.backup_generation FOR EACH ROW EXECUTE FUNCTION nightshift.backup_generation_offsite_pending();

INSERT INTO nightshift.backup_offsite_pending (code, generation_id)
SELECT code, id FROM (
  SELECT DISTINCT ON (code) code, id, offsite_state FROM nightshift.backup_generation
   WHERE kind = 'normal' AND deleted_at IS NULL ORDER BY code, snapshot_at DESC, id DESC
) newest WHERE offsite_state <> 'copied';

-- 2. The prune's leftovers of a dossier (store/generations/prune-leftovers.ts): generations pruned lately (a retried
--    unlink) and pruned generations whose off-site object may still exist. Without these, every dossier of a prune
--    read the whole table (a sequential scan: 0.2 s per dossier at 3 million generations).
CREATE INDEX backup_generation_pruned ON nightshift.backup_generation (code, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX backup_generation_offsite_left ON nightshift.backup_generation (code)
  WHERE deleted_at IS NOT NULL AND offsite_state IN ('copied', 'failed') AND offsite_key IS NOT NULL;

-- 3. Which prune deleted a generation's off-site object: a later prune that finishes an earlier one's deletion counts
--    it as its own (the generation's deleted_by stays the prune that decided it).
ALTER TABLE nightshift.backup_generation ADD COLUMN offsite_deleted_by text;

-- Down Migration
ALTER TABLE nightshift.backup_generation DROP COLUMN offsite_deleted_by;
DROP INDEX nightshift.backup_generation_offsite_left;
DROP INDEX nightshift.backup_generation_pruned;
DROP TRIGGER offsite_pending ON nightshift.backup_generation;
DROP FUNCTION nightshift.backup_generation_offsite_pending();
DROP FUNCTION nightshift.refresh_offsite_pending(text);
DROP TABLE nightshift.backup_offsite_pending;

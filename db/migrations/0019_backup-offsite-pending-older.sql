-- Up Migration
-- Off-site copies nobody has to chase by hand (R-BK-14, R-BK-13, R-BK-4, issue 13). A dossier is now pending
-- (nightshift.backup_offsite_pending, migration 0017) when:
--   a. its newest kept 'normal' generation has no completed off-site copy (as before: generation_id names it);
--   b. any of its kept generations, any kind, has a copy recorded 'failed' (a copy that failed, or one a verification
--      found missing or different) while its local file is intact: the batch copies those again;
--   c. it was backed up (backup_seq set) but has no kept 'normal' generation: an archive written before generations
--      existed (0013), which no batch would otherwise copy until the dossier changes; the batch backs it up again.
-- generation_id is NULL in b (when the newest is copied) and c: there is no archive of the newest to copy as such.
ALTER TABLE nightshift.backup_offsite_pending ALTER COLUMN generation_id DROP NOT NULL;

CREATE OR REPLACE FUNCTION nightshift.refresh_offsite_pending(dossier text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  newest record;
BEGIN
  -- one refresh at a time (see 0017): the second waits for the first's commit and then sees its rows
  PERFORM pg_advisory_xact_lock(hashtext('nightshift.offsite-pending'));
  SELECT id, offsite_state INTO newest FROM nightshift.backup_generation
   WHERE code = dossier AND kind = 'normal' AND deleted_at IS NULL
   ORDER BY snapshot_at DESC, id DESC LIMIT 1;
  IF newest.id IS NOT NULL AND newest.offsite_state <> 'copied' THEN
    INSERT INTO nightshift.backup_offsite_pending (code, generation_id) VALUES (dossier, newest.id)
    ON CONFLICT (code) DO UPDATE SET generation_id = EXCLUDED.generation_id;
  ELSIF EXISTS (SELECT 1 FROM nightshift.backup_generation
                 WHERE code = dossier AND deleted_at IS NULL AND offsite_state = 'failed' AND verify_state NOT IN ('corrupt', 'missing'))
     OR (newest.id IS NULL AND EXISTS (SELECT 1 FROM nightshift.dossier d
                                        WHERE d.code = refresh_offsite_pending.dossier AND d.backup_seq IS NOT NULL)) THEN
    INSERT INTO nightshift.backup_offsite_pending (code, generation_id) VALUES (dossier, NULL)
    ON CONFLICT (code) DO UPDATE SET generation_id = NULL;
  ELSE
    DELETE FROM nightshift.backup_offsite_pending WHERE code = dossier;
  END IF;
END $$;

-- b depends on verify_state: a failed copy whose file a verification finds corrupt or missing cannot be made again
-- (and one found intact again can). A trigger of its own with a WHEN, not verify_state added to 0017's column list:
-- a verification updates verify_state on every generation it reads, and only these transitions need a refresh (each
-- refresh takes the one advisory lock above).
CREATE TRIGGER offsite_pending_verify AFTER UPDATE OF verify_state ON nightshift.backup_generation FOR EACH ROW
  WHEN (NEW.offsite_state = 'failed'
        AND (OLD.verify_state IN ('corrupt', 'missing')) IS DISTINCT FROM (NEW.verify_state IN ('corrupt', 'missing')))
  EXECUTE FUNCTION nightshift.backup_generation_offsite_pending();

-- the existing rows: a stays as 0017 filled it; b and c added (set-based, one pass each, however many dossiers)
INSERT INTO nightshift.backup_offsite_pending (code, generation_id)
SELECT DISTINCT code, NULL::bigint FROM nightshift.backup_generation
 WHERE deleted_at IS NULL AND offsite_state = 'failed' AND verify_state NOT IN ('corrupt', 'missing')
ON CONFLICT (code) DO NOTHING;
INSERT INTO nightshift.backup_offsite_pending (code, generation_id)
SELECT d.code, NULL::bigint FROM nightshift.dossier d
 WHERE d.backup_seq IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g WHERE g.code = d.code AND g.kind = 'normal' AND g.deleted_at IS NULL)
ON CONFLICT (code) DO NOTHING;

-- Down Migration
DROP TRIGGER offsite_pending_verify ON nightshift.backup_generation;
DELETE FROM nightshift.backup_offsite_pending WHERE generation_id IS NULL;
ALTER TABLE nightshift.backup_offsite_pending ALTER COLUMN generation_id SET NOT NULL;
CREATE OR REPLACE FUNCTION nightshift.refresh_offsite_pending(dossier text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  newest record;
BEGIN
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

-- Up Migration
-- Off-site copies of every kept archive (R-BK-14, R-BK-5): 0019's case b widened. A dossier is also pending when any of
-- its kept generations, any kind, has a copy never made ('none': written before the bucket was configured, or by a
-- single-dossier backup whose copy did not run) while its local file is intact. Without it an unmodified dossier's
-- Cloture/ or EchangePrest/ archive, kept for months, was never copied: the batch only takes a dossier that is
-- modified or pending. Only a batch that copies off-site reads the set (settings.offsite); without a bucket every
-- dossier whose newest 'normal' archive has no copy is pending already (case a), so the set does not grow.
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
                 WHERE code = dossier AND deleted_at IS NULL AND offsite_state IN ('failed', 'none') AND verify_state NOT IN ('corrupt', 'missing'))
     OR (newest.id IS NULL AND EXISTS (SELECT 1 FROM nightshift.dossier d
                                        WHERE d.code = refresh_offsite_pending.dossier AND d.backup_seq IS NOT NULL)) THEN
    INSERT INTO nightshift.backup_offsite_pending (code, generation_id) VALUES (dossier, NULL)
    ON CONFLICT (code) DO UPDATE SET generation_id = NULL;
  ELSE
    DELETE FROM nightshift.backup_offsite_pending WHERE code = dossier;
  END IF;
END $$;

-- as 0019's, for copies never made too: a file found corrupt or missing has nothing left to copy
DROP TRIGGER offsite_pending_verify ON nightshift.backup_generation;
CREATE TRIGGER offsite_pending_verify AFTER UPDATE OF verify_state ON nightshift.backup_generation FOR EACH ROW
  WHEN (NEW.offsite_state IN ('failed', 'none')
        AND (OLD.verify_state IN ('corrupt', 'missing')) IS DISTINCT FROM (NEW.verify_state IN ('corrupt', 'missing')))
  EXECUTE FUNCTION nightshift.backup_generation_offsite_pending();

-- the existing rows (set-based, one pass)
INSERT INTO nightshift.backup_offsite_pending (code, generation_id)
SELECT DISTINCT code, NULL::bigint FROM nightshift.backup_generation
 WHERE deleted_at IS NULL AND offsite_state = 'none' AND verify_state NOT IN ('corrupt', 'missing')
ON CONFLICT (code) DO NOTHING;

-- Down Migration
DROP TRIGGER offsite_pending_verify ON nightshift.backup_generation;
CREATE TRIGGER offsite_pending_verify AFTER UPDATE OF verify_state ON nightshift.backup_generation FOR EACH ROW
  WHEN (NEW.offsite_state = 'failed'
        AND (OLD.verify_state IN ('corrupt', 'missing')) IS DISTINCT FROM (NEW.verify_state IN ('corrupt', 'missing')))
  EXECUTE FUNCTION nightshift.backup_generation_offsite_pending();
CREATE OR REPLACE FUNCTION nightshift.refresh_offsite_pending(dossier text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  newest record;
BEGIN
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
DELETE FROM nightshift.backup_offsite_pending p
 WHERE p.generation_id IS NULL
   AND NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g
                    WHERE g.code = p.code AND g.deleted_at IS NULL AND g.offsite_state = 'failed' AND g.verify_state NOT IN ('corrupt', 'missing'))
   AND NOT (NOT EXISTS (SELECT 1 FROM nightshift.backup_generation g WHERE g.code = p.code AND g.kind = 'normal' AND g.deleted_at IS NULL)
            AND EXISTS (SELECT 1 FROM nightshift.dossier d WHERE d.code = p.code AND d.backup_seq IS NOT NULL));

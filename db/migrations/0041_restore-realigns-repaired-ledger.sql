-- Up Migration
-- A dossier restored (backup restore, a restore run, a patch rollback) from an archive older than a `patch repair`
-- (migration 0040) brings back a ledger row holding a checksum the repair replaced: every later patch run would refuse
-- it (R-PI-8) until the same repair was run again. The restore now realigns it in its own transaction, before the
-- dossier's touch triggers exist (no R-BK-10 touch: a restore is no user's change): each apatch row whose checksum a
-- completed repair of that number replaced or gave, and which differs from the stored package's, takes the stored
-- package's. Only checksums a repair knows: a ledger holding some other checksum stays refused. Returns the patch
-- numbers realigned (the restore says them).
CREATE FUNCTION nightshift.realign_repaired_ledger(target_schema text)
RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
  numbers integer[];
BEGIN
  IF to_regclass(format('%I.apatch', target_schema)) IS NULL THEN
    RETURN '{}';
  END IF;
  EXECUTE format(
    $sql$
    WITH realigned AS (
      UPDATE %I.apatch a SET checksum = p.checksum
        FROM nightshift.patch_package p
       WHERE p.number = a.number AND a.checksum <> p.checksum
         AND EXISTS (SELECT 1 FROM nightshift.patch_repair r
                      WHERE r.number = a.number AND r.state = 'completed' AND a.checksum = ANY (r.old_checksums || r.new_checksum))
      RETURNING a.number)
    SELECT coalesce(array_agg(number ORDER BY number), '{}') FROM realigned
    $sql$, target_schema) INTO numbers;
  RETURN numbers;
END
$$;

-- Down Migration
DROP FUNCTION nightshift.realign_repaired_ledger(text);

-- Up Migration
-- R-PI-8: a patch run plans each dossier from the level it read, then applies patch after patch. A restore that
-- committed in between (drill R, 2026-12-04: `backup restore --replace` of a level-8 archive during a run bringing
-- the dossier from 40 to 60) put the dossier back at 8, and nightshift.apply_patch, which only refuses a patch the
-- dossier already holds, applied 41..60 over it: ledger 1-8 and 41-60, level 60, nothing listed for revalidation.
-- apply_patch_from takes the level the run expects under the same row lock apply_patch takes (a restore locks that
-- row too) and answers 'moved' with the dossier's level when it is below: the run then applies nothing more to it.
CREATE FUNCTION nightshift.apply_patch_from(
  expected_level   integer,
  dossier_code     text,
  target_schema    text,
  patch_number     integer,
  patch_type       text,
  patch_checksum   text,
  applies          boolean,
  create_ledger    boolean,
  structure_files  text[],
  structure_sql    text[],
  data_files       text[],
  data_sql         text[],
  dictionary       jsonb,
  protected_fields text[],
  installs         jsonb
) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  lvl integer;
BEGIN
  SELECT patch_level INTO lvl FROM nightshift.dossier WHERE code = dossier_code FOR UPDATE;
  IF FOUND AND lvl < expected_level THEN RETURN jsonb_build_object('status', 'moved', 'level', lvl); END IF;
  RETURN nightshift.apply_patch(dossier_code, target_schema, patch_number, patch_type, patch_checksum, applies, create_ledger,
                                structure_files, structure_sql, data_files, data_sql, dictionary, protected_fields, installs);
END
$$;

-- Down Migration
DROP FUNCTION nightshift.apply_patch_from(integer, text, text, integer, text, text, boolean, boolean, text[], text[], text[], text[], jsonb, text[], jsonb);

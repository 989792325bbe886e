-- Up Migration
-- R-PI-8 (0027 was not enough, found by the re-check of drill R): a restore deletes the dossier's registry row and
-- inserts a new one while it holds the row's lock. A patch statement waiting on that lock then finds no row (the row
-- it waited for is deleted; in READ COMMITTED the new one is not seen by that statement), so apply_patch_from fell
-- through to apply_patch, whose own statement saw the new row and applied the patch over the restored dossier: a run
-- went on from 813 over a dossier restored at 5 and ended "ok 5 -> 2005" with patches 6-1215 missing. Not found: the
-- row is read again, by a new statement, which sees the row the restore inserted.
CREATE OR REPLACE FUNCTION nightshift.apply_patch_from(
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
  IF NOT FOUND THEN
    SELECT patch_level INTO lvl FROM nightshift.dossier WHERE code = dossier_code FOR UPDATE;
  END IF;
  IF FOUND AND lvl < expected_level THEN RETURN jsonb_build_object('status', 'moved', 'level', lvl); END IF;
  RETURN nightshift.apply_patch(dossier_code, target_schema, patch_number, patch_type, patch_checksum, applies, create_ledger,
                                structure_files, structure_sql, data_files, data_sql, dictionary, protected_fields, installs);
END
$$;

-- Down Migration
CREATE OR REPLACE FUNCTION nightshift.apply_patch_from(
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

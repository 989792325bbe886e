-- Up Migration
-- R-PI-5 in a dossier that was never patched (issue 14): the treatments it already holds were read only
-- when it had a patch ledger, so the first patch overwrote its own specific treatments. The ledger and
-- the treatments are now read each from its own table.
CREATE OR REPLACE FUNCTION nightshift.patch_state(target_schema text, names text[]) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ledger jsonb;
  held jsonb := '[]'::jsonb;
BEGIN
  IF to_regclass(format('%I.apatch', target_schema)) IS NOT NULL THEN
    EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_array(number, checksum) ORDER BY number), ''[]'') FROM %I.apatch', target_schema) INTO ledger;
  END IF;
  IF to_regclass(format('%I.traitement', target_schema)) IS NOT NULL THEN
    EXECUTE format('SELECT coalesce(jsonb_agg(name), ''[]'') FROM %I.traitement WHERE name = ANY($1)', target_schema) INTO held USING names;
  END IF;
  RETURN jsonb_build_object('ledger', ledger, 'treatments', held);
END $$;

-- Why a dossier did not receive something a patch ships (a treatment kept under R-PI-5): the run says so.
ALTER TABLE nightshift.patch_run_item ADD COLUMN notes text[] NOT NULL DEFAULT '{}';

-- Down Migration
ALTER TABLE nightshift.patch_run_item DROP COLUMN notes;
CREATE OR REPLACE FUNCTION nightshift.patch_state(target_schema text, names text[]) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  ledger jsonb;
  held jsonb;
BEGIN
  IF to_regclass(format('%I.apatch', target_schema)) IS NULL THEN
    RETURN jsonb_build_object('ledger', NULL, 'treatments', '[]'::jsonb);
  END IF;
  EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_array(number, checksum) ORDER BY number), ''[]'') FROM %I.apatch', target_schema) INTO ledger;
  EXECUTE format('SELECT coalesce(jsonb_agg(name), ''[]'') FROM %I.traitement WHERE name = ANY($1)', target_schema) INTO held USING names;
  RETURN jsonb_build_object('ledger', ledger, 'treatments', held);
END $$;

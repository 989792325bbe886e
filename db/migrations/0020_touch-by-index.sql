-- Up Migration
-- The touch trigger (R-BK-10) found its dossier by `schema_name = TG_TABLE_SCHEMA`: TG_TABLE_SCHEMA is of type
-- `name` (collation "C"), so the comparison was text = name under another collation than the column's unique
-- index, and every write statement to a dossier table read the whole registry (a sequential scan: 13-17 ms per
-- statement at 100,000 dossiers, the bulk of a patch's cost there; 0.1 ms at 1,000). Compared as text in the
-- column's collation, it is one index lookup whatever the number of dossiers. Same behaviour otherwise (0008).
CREATE OR REPLACE FUNCTION nightshift.touch_dossier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('nightshift.touched', true) IS NOT DISTINCT FROM TG_TABLE_SCHEMA THEN RETURN NULL; END IF;
  UPDATE nightshift.dossier
     SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
   WHERE schema_name = TG_TABLE_SCHEMA::text COLLATE "default";
  PERFORM set_config('nightshift.touched', TG_TABLE_SCHEMA, true);
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION nightshift.touch_dossier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('nightshift.touched', true) IS NOT DISTINCT FROM TG_TABLE_SCHEMA THEN RETURN NULL; END IF;
  UPDATE nightshift.dossier
     SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
   WHERE schema_name = TG_TABLE_SCHEMA;
  PERFORM set_config('nightshift.touched', TG_TABLE_SCHEMA, true);
  RETURN NULL;
END $$;

-- Up Migration
-- The relations of one schema through indexed catalog paths. pg_class has no index on relnamespace:
-- "WHERE relnamespace = ..." scans every relation of the database, ~20 per dossier, so each backup,
-- restore or trigger install cost grew with the number of dossiers (100,000 dossiers: 2 million rows).
-- pg_depend's reference index finds what DROP SCHEMA CASCADE would find: relations and types owned by
-- the schema itself; a composite type's relation hangs on its type, an index on its table.
CREATE FUNCTION nightshift.schema_relations(target_schema text)
RETURNS TABLE (oid oid, relname name, relkind "char") LANGUAGE sql STABLE AS $$
  WITH nsp AS (SELECT n.oid FROM pg_namespace n WHERE n.nspname = target_schema),
  owned AS (
    SELECT d.classid, d.objid FROM pg_depend d JOIN nsp ON d.refobjid = nsp.oid
     WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjsubid = 0
  ),
  rels AS (
    SELECT o.objid AS oid FROM owned o WHERE o.classid = 'pg_class'::regclass
    UNION
    SELECT t.typrelid FROM owned o JOIN pg_type t ON t.oid = o.objid WHERE o.classid = 'pg_type'::regclass AND t.typrelid <> 0
  ),
  tabs AS (
    SELECT c.oid, c.relname, c.relkind FROM rels r JOIN pg_class c ON c.oid = r.oid JOIN nsp ON c.relnamespace = nsp.oid
  )
  SELECT tabs.oid, tabs.relname, tabs.relkind FROM tabs
  UNION ALL
  SELECT ic.oid, ic.relname, ic.relkind
    FROM tabs JOIN pg_index i ON i.indrelid = tabs.oid JOIN pg_class ic ON ic.oid = i.indexrelid JOIN nsp ON ic.relnamespace = nsp.oid
$$;

-- Same triggers as before (0001), found through nightshift.schema_relations, and only on the tables that lack
-- one (after a create or restore: all of them; after a patch: the tables it created). Returns how many it added.
CREATE OR REPLACE FUNCTION nightshift.install_touch_triggers(target_schema text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  t record;
  n integer := 0;
BEGIN
  FOR t IN SELECT r.relname FROM nightshift.schema_relations(target_schema) r
            WHERE r.relkind IN ('r', 'p')
              AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = r.oid AND g.tgname = 'nightshift_touch') LOOP
    EXECUTE format('CREATE TRIGGER nightshift_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION nightshift.touch_dossier()', target_schema, t.relname);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION nightshift.install_touch_triggers(target_schema text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  t record;
  n integer := 0;
BEGIN
  FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE s.nspname = target_schema AND c.relkind IN ('r', 'p') LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS nightshift_touch ON %I.%I', target_schema, t.relname);
    EXECUTE format('CREATE TRIGGER nightshift_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I.%I '
                   'FOR EACH STATEMENT EXECUTE FUNCTION nightshift.touch_dossier()', target_schema, t.relname);
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
DROP FUNCTION nightshift.schema_relations(text);

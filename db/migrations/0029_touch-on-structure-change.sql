-- Up Migration
-- R-BK-10 (found by the scale drill, 2026-12-04): a dossier was "modified" only when a statement wrote to one of its
-- tables. A change of its structure made by hand (ALTER TABLE … ADD CONSTRAINT, DROP COLUMN, CREATE or DROP TABLE,
-- CREATE INDEX) left it "not modified": the next batch skipped it, and a patch run with restore points reused its
-- older archive as the restore point, so a rollback silently took the change away. A table created by hand had no
-- touch trigger either: writes to it went unseen. Event triggers see every such command: a command on a dossier's
-- schema makes the dossier modified (once per transaction, as the touch trigger), and a table created in it gets the
-- touch trigger at once.
-- An event trigger can only be created by a superuser: as another role the functions are created, the triggers not,
-- and `nightshift doctor` says structure changes made by hand are not seen (README, *Targets, dossiers, sessions*).
CREATE FUNCTION nightshift.touch_dossier_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  c record;
BEGIN
  FOR c IN SELECT DISTINCT ON (d.schema_name, x.objid) d.schema_name, x.command_tag, x.objid
             FROM pg_event_trigger_ddl_commands() x
             JOIN nightshift.dossier d ON d.schema_name = x.schema_name::text COLLATE "default" LOOP
    IF current_setting('nightshift.touched', true) IS DISTINCT FROM c.schema_name THEN
      UPDATE nightshift.dossier SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
       WHERE schema_name = c.schema_name;
      PERFORM set_config('nightshift.touched', c.schema_name, true);
    END IF;
    -- a table of the dossier created outside a patch: its writes make the dossier modified too
    IF c.command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
       AND EXISTS (SELECT 1 FROM pg_class r WHERE r.oid = c.objid AND r.relkind IN ('r', 'p'))
       AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.objid AND g.tgname = 'nightshift_touch') THEN
      EXECUTE format('CREATE TRIGGER nightshift_touch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s '
                     'FOR EACH STATEMENT EXECUTE FUNCTION nightshift.touch_dossier()', c.objid::regclass);
    END IF;
  END LOOP;
END $$;

CREATE FUNCTION nightshift.touch_dossier_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  s text;
BEGIN
  FOR s IN SELECT DISTINCT d.schema_name
             FROM pg_event_trigger_dropped_objects() x
             JOIN nightshift.dossier d ON d.schema_name = x.schema_name::text COLLATE "default" LOOP
    IF current_setting('nightshift.touched', true) IS DISTINCT FROM s THEN
      UPDATE nightshift.dossier SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
       WHERE schema_name = s;
      PERFORM set_config('nightshift.touched', s, true);
    END IF;
  END LOOP;
END $$;

DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    CREATE EVENT TRIGGER nightshift_touch_ddl ON ddl_command_end EXECUTE FUNCTION nightshift.touch_dossier_ddl();
    CREATE EVENT TRIGGER nightshift_touch_drop ON sql_drop EXECUTE FUNCTION nightshift.touch_dossier_drop();
  ELSE
    RAISE NOTICE 'nightshift: % is not a superuser: structure changes made by hand in dossier schemas will not mark them modified', current_user;
  END IF;
END $$;

-- Down Migration
DROP EVENT TRIGGER IF EXISTS nightshift_touch_drop;
DROP EVENT TRIGGER IF EXISTS nightshift_touch_ddl;
DROP FUNCTION nightshift.touch_dossier_drop();
DROP FUNCTION nightshift.touch_dossier_ddl();

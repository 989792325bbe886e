-- Up Migration
-- 0029's event triggers fire on every role's DDL in the database, and ran as that role: a role without rights on the
-- nightshift schema (the business application's own, an administrator's) had its CREATE TABLE in its own schema refused
-- ("permission denied for schema nightshift"). They run as their owner now (the superuser who created them), with a
-- fixed search path; their statements name every object with its schema.
ALTER FUNCTION nightshift.touch_dossier_ddl() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION nightshift.touch_dossier_drop() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Down Migration
ALTER FUNCTION nightshift.touch_dossier_drop() SECURITY INVOKER RESET search_path;
ALTER FUNCTION nightshift.touch_dossier_ddl() SECURITY INVOKER RESET search_path;

-- Up Migration
-- The dossier registry of one target database (../shared/domain.md, "Words").
CREATE SEQUENCE nightshift.change_seq;

CREATE TABLE nightshift.dossier (
  code            text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,40}$'),
  label           text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
  role            text NOT NULL DEFAULT 'regular' CHECK (role IN ('supervisor', 'regular')),
  is_test         boolean NOT NULL DEFAULT false,
  is_specific     boolean NOT NULL DEFAULT false,
  is_template     boolean NOT NULL DEFAULT false,
  is_transferable boolean NOT NULL DEFAULT true,
  copy_status     text NOT NULL DEFAULT 'original' CHECK (copy_status IN ('original', 'copy')),
  schema_name     text NOT NULL UNIQUE,
  created_at      timestamptz NOT NULL DEFAULT now(),
  modified_at     timestamptz NOT NULL DEFAULT now(),
  -- Bumped from nightshift.change_seq by every write to the dossier's tables. A backup records the
  -- value it saw in its snapshot (backup_seq): "modified since last backup" is change_seq > backup_seq,
  -- which stays true for a write that commits while the backup runs.
  change_seq      bigint NOT NULL DEFAULT nextval('nightshift.change_seq'),
  last_backup_at  timestamptz,
  backup_seq      bigint,
  patch_level     integer NOT NULL DEFAULT 0 CHECK (patch_level >= 0)
);
-- File names must not collide on case-insensitive file systems (B{code}.SVG).
CREATE UNIQUE INDEX dossier_code_ci ON nightshift.dossier (lower(code));
-- At most one supervisor per target; "exactly one" is checked by doctor and the patch run.
CREATE UNIQUE INDEX dossier_one_supervisor ON nightshift.dossier ((true)) WHERE role = 'supervisor';

-- Statement-level trigger installed on every table of a dossier schema.
CREATE FUNCTION nightshift.touch_dossier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE nightshift.dossier
     SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
   WHERE schema_name = TG_TABLE_SCHEMA;
  RETURN NULL;
END $$;

-- (Re)installs the touch trigger on every table of a dossier schema; called after create, restore, patch.
CREATE FUNCTION nightshift.install_touch_triggers(target_schema text) RETURNS integer LANGUAGE plpgsql AS $$
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

-- Sessions opened through the gate (R-SE-1) and the dossiers they hold open (R-SE-2).
-- A dossier is "in use" (R-BK-3) while a live session holds it open: see nightshift.dossier_in_use.
CREATE TABLE nightshift.session (
  id            uuid PRIMARY KEY,
  user_name     text NOT NULL,
  client        text,
  token_hash    text NOT NULL,
  opened_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  closed_at     timestamptz,
  close_reason  text
);
CREATE INDEX session_live ON nightshift.session (expires_at) WHERE closed_at IS NULL;

CREATE TABLE nightshift.session_dossier (
  session_id    uuid NOT NULL REFERENCES nightshift.session (id) ON DELETE CASCADE,
  dossier_code  text NOT NULL REFERENCES nightshift.dossier (code) ON DELETE CASCADE ON UPDATE CASCADE,
  opened_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (session_id, dossier_code)
);
CREATE INDEX session_dossier_code ON nightshift.session_dossier (dossier_code);

CREATE VIEW nightshift.dossier_in_use AS
  SELECT sd.dossier_code, s.id AS session_id, s.user_name, sd.opened_at
    FROM nightshift.session_dossier sd
    JOIN nightshift.session s ON s.id = sd.session_id
   WHERE s.closed_at IS NULL AND s.expires_at > now();

-- Down Migration
DROP VIEW nightshift.dossier_in_use;
DROP TABLE nightshift.session_dossier;
DROP TABLE nightshift.session;
DROP FUNCTION nightshift.install_touch_triggers(text);
DROP FUNCTION nightshift.touch_dossier();
DROP TABLE nightshift.dossier;
DROP SEQUENCE nightshift.change_seq;

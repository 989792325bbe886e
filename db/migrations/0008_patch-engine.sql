-- Up Migration
-- The per-dossier patch engine on the server side (activities/patch/apply.ts): one call per patch,
-- one statement and so one transaction per patch (R-PI-8), instead of a dozen round trips each.
-- The routing (which treatments go where, R-PI-3 .. R-PI-7) stays in domain/patch.ts: the caller
-- passes what to install; these functions only carry it out.

-- A dossier's patch ledger (null before its first patch) and which of `names` it holds as treatments.
CREATE FUNCTION nightshift.patch_state(target_schema text, names text[]) RETURNS jsonb LANGUAGE plpgsql AS $$
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

-- One patch into one dossier. Returns {"status": "applied" | "not-applicable" | "already" | "unknown"},
-- or {"status": "failed", "step", "sqlstate", "message"} with every change of the patch undone (the
-- dossier stays at its last good patch). The registry row lock serialises two attempts on one dossier.
CREATE FUNCTION nightshift.apply_patch(
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
  step text := 'start';
  i integer;
  err_state text;
  err_message text;
BEGIN
  SELECT patch_level INTO lvl FROM nightshift.dossier WHERE code = dossier_code FOR UPDATE;
  IF NOT FOUND THEN RETURN jsonb_build_object('status', 'unknown'); END IF;
  IF lvl >= patch_number THEN RETURN jsonb_build_object('status', 'already'); END IF;
  -- the patch's own SQL names the dossier's tables without a schema
  PERFORM set_config('search_path', quote_ident(target_schema), true);
  BEGIN
    IF create_ledger THEN
      step := 'engine tables';
      EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS %1$I.apatch (
          number      integer PRIMARY KEY,
          type        text NOT NULL,
          checksum    text NOT NULL,
          -- 'applied', or 'not-applicable' for a supervisor-type patch in another dossier (R-PI-6)
          outcome     text NOT NULL,
          applied_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS %1$I.traitement (
          name          text PRIMARY KEY,
          body          text NOT NULL,
          checksum      text NOT NULL,
          origin_patch  integer NOT NULL,
          updated_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS %1$I.dictionnaire (
          key     text PRIMARY KEY,
          fields  jsonb NOT NULL
        )$ddl$, target_schema);
    END IF;
    IF applies THEN
      FOR i IN 1 .. coalesce(array_length(structure_sql, 1), 0) LOOP
        step := structure_files[i];
        EXECUTE structure_sql[i];
      END LOOP;
    END IF;
    -- R-BK-10: new tables carry the touch trigger before the writes below
    IF create_ledger OR (applies AND coalesce(array_length(structure_sql, 1), 0) > 0) THEN
      step := 'touch triggers';
      PERFORM nightshift.install_touch_triggers(target_schema);
    END IF;
    IF applies THEN
      FOR i IN 1 .. coalesce(array_length(data_sql, 1), 0) LOOP
        step := data_files[i];
        EXECUTE data_sql[i];
      END LOOP;
      IF jsonb_array_length(dictionary) > 0 THEN
        step := 'dictionary';
        -- R-PI-7: protected fields an entry already has are kept; everything else comes from the patch
        EXECUTE format($sql$
          INSERT INTO %1$I.dictionnaire AS d (key, fields)
          SELECT x.key, x.fields FROM jsonb_to_recordset($1) AS x(key text, fields jsonb)
          ON CONFLICT (key) DO UPDATE SET fields = d.fields || EXCLUDED.fields ||
            coalesce((SELECT jsonb_object_agg(k, v) FROM jsonb_each(d.fields) AS e(k, v) WHERE k = ANY($2)), '{}'::jsonb)$sql$, target_schema)
          USING dictionary, protected_fields;
      END IF;
      IF jsonb_array_length(installs) > 0 THEN
        step := 'treatments';
        EXECUTE format($sql$
          INSERT INTO %1$I.traitement (name, body, checksum, origin_patch)
          SELECT x.name, x.body, x.checksum, $2 FROM jsonb_to_recordset($1) AS x(name text, body text, checksum text)
          ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, checksum = EXCLUDED.checksum,
            origin_patch = EXCLUDED.origin_patch, updated_at = now()$sql$, target_schema)
          USING installs, patch_number;
      END IF;
    END IF;
    step := 'ledger';
    EXECUTE format('INSERT INTO %I.apatch (number, type, checksum, outcome) VALUES ($1, $2, $3, $4)', target_schema)
      USING patch_number, patch_type, patch_checksum, CASE WHEN applies THEN 'applied' ELSE 'not-applicable' END;
    UPDATE nightshift.dossier SET patch_level = patch_number WHERE code = dossier_code;
  EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS err_state = RETURNED_SQLSTATE, err_message = MESSAGE_TEXT;
    RETURN jsonb_build_object('status', 'failed', 'step', step, 'sqlstate', err_state, 'message', err_message);
  END;
  RETURN jsonb_build_object('status', CASE WHEN applies THEN 'applied' ELSE 'not-applicable' END);
END $$;

-- One touch per dossier and transaction is enough (R-BK-10): the first gives the transaction's change_seq,
-- later ones would only take another number before the same commit. A patch writes several tables and
-- every statement fired this trigger (a quarter of a patch's time). The mark is transaction-local and
-- undone with a rolled-back subtransaction, so a touch that was rolled back is taken again.
CREATE OR REPLACE FUNCTION nightshift.touch_dossier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('nightshift.touched', true) IS NOT DISTINCT FROM TG_TABLE_SCHEMA THEN RETURN NULL; END IF;
  UPDATE nightshift.dossier
     SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
   WHERE schema_name = TG_TABLE_SCHEMA;
  PERFORM set_config('nightshift.touched', TG_TABLE_SCHEMA, true);
  RETURN NULL;
END $$;

-- Down Migration
CREATE OR REPLACE FUNCTION nightshift.touch_dossier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE nightshift.dossier
     SET modified_at = clock_timestamp(), change_seq = nextval('nightshift.change_seq')
   WHERE schema_name = TG_TABLE_SCHEMA;
  RETURN NULL;
END $$;
DROP FUNCTION nightshift.apply_patch(text, text, integer, text, text, boolean, boolean, text[], text[], text[], text[], jsonb, text[], jsonb);
DROP FUNCTION nightshift.patch_state(text, text[]);

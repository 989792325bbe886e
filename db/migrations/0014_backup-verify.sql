-- Up Migration
-- Verification of kept generations (R-BK-13, issue 13): one row per verify run, one per generation it read.
-- Like the batch's ledger (0005): the report and the mail are streamed from it, and a restarted chunk skips
-- what it already holds. Several verify runs may run at once (they only read, each under its own leases).
CREATE TABLE nightshift.verify_run (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id   text NOT NULL UNIQUE,
  -- what it covers: every kept generation, those a batch run wrote, or those of some dossiers
  scope         text NOT NULL CHECK (scope IN ('all', 'run', 'codes')),
  backup_run_id bigint REFERENCES nightshift.backup_run (id) ON DELETE SET NULL,
  codes         text[],
  -- full: every generation restored into a scratch schema; else a sample drawn from seed (same seed, same sample)
  full_restore  boolean NOT NULL DEFAULT false,
  sample_percent numeric(5, 2) NOT NULL DEFAULT 5,
  seed          bigint NOT NULL,
  -- restored whatever the sample says, so that every run restores at least one generation
  anchor_generation bigint,
  -- running; completed (no problem); problems (at least one generation corrupt, missing, unreadable); failed (ended early)
  state         text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'problems', 'failed')),
  settings      jsonb NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  selected      integer NOT NULL DEFAULT 0,
  total         integer NOT NULL DEFAULT 0,
  ok            integer NOT NULL DEFAULT 0,
  problems      integer NOT NULL DEFAULT 0,
  restored      integer NOT NULL DEFAULT 0,
  report_path   text,
  mail_state    text NOT NULL DEFAULT 'none' CHECK (mail_state IN ('none', 'pending', 'sent', 'failed')),
  mail_error    text
);
CREATE INDEX verify_run_running ON nightshift.verify_run (id) WHERE state = 'running';

CREATE TABLE nightshift.verify_run_item (
  run_id        bigint NOT NULL REFERENCES nightshift.verify_run (id) ON DELETE CASCADE,
  generation_id bigint NOT NULL,
  -- copied from the generation: the report names the dossier and the generation even once it is pruned
  code          text NOT NULL,
  file          text NOT NULL,
  snapshot_at   timestamptz NOT NULL,
  seq           bigint GENERATED ALWAYS AS IDENTITY,
  -- ok; corrupt (checksum, truncated, restore differs); missing (file gone); key (no key / wrong key);
  -- offsite (the off-site copy is missing or differs); failed (could not be read: I/O, database); pruned (deleted meanwhile)
  status        text NOT NULL CHECK (status IN ('ok', 'corrupt', 'missing', 'key', 'offsite', 'failed', 'pruned')),
  restored      boolean NOT NULL DEFAULT false,
  sha256        text,
  error         text,
  duration_ms   integer,
  finished_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, generation_id)
);
CREATE INDEX verify_run_item_report ON nightshift.verify_run_item (run_id, seq);
CREATE INDEX verify_run_item_problems ON nightshift.verify_run_item (run_id, code) WHERE status NOT IN ('ok', 'pruned');

-- Down Migration
DROP TABLE nightshift.verify_run_item;
DROP TABLE nightshift.verify_run;

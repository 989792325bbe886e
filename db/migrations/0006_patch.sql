-- Up Migration
-- Patch integration (R-PI-1 .. R-PI-9). Each dossier schema keeps its own ledger (apatch, created by the
-- engine); these control tables hold the verified packages and the runs.

-- Every package integrated into this target, as verified from its directory: revalidation and retry
-- apply exactly these bytes, whatever happened to the directory since. A number is stored once:
-- the same number with another checksum is refused (R-PI-8).
CREATE TABLE nightshift.patch_package (
  number       integer PRIMARY KEY CHECK (number > 0),
  type         text NOT NULL CHECK (type IN ('standard', 'specific', 'vertical', 'supervisor')),
  checksum     text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  description  text NOT NULL,
  manifest     jsonb NOT NULL,
  -- package-relative path -> content of every file the manifest names
  files        jsonb NOT NULL,
  source_dir   text,
  stored_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nightshift.patch_run (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id      text NOT NULL UNIQUE,
  mode             text NOT NULL CHECK (mode IN ('integrate', 'revalidate', 'retry')),
  retry_of         bigint REFERENCES nightshift.patch_run (id),
  -- running; completed (every dossier at the run's last patch); partial (some dossiers failed);
  -- failed (prerequisite, package or supervisor failure: ended early)
  state            text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'partial', 'failed')),
  window_workflow  text,
  source_dir       text,
  requested        text[],
  first_patch      integer,
  last_patch       integer,
  supervisor       text,
  prerequisites    jsonb NOT NULL DEFAULT '[]',
  notes            text[] NOT NULL DEFAULT '{}',
  error            text,
  started_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
-- R-PI-2: one patch run at a time on a target, also for concurrent starts.
CREATE UNIQUE INDEX patch_run_one_running ON nightshift.patch_run ((true)) WHERE state = 'running';

CREATE TABLE nightshift.patch_run_item (
  run_id        bigint NOT NULL REFERENCES nightshift.patch_run (id) ON DELETE CASCADE,
  code          text NOT NULL,
  status        text NOT NULL CHECK (status IN ('ok', 'failed')),
  from_level    integer NOT NULL,
  to_level      integer NOT NULL,
  applied       integer[] NOT NULL DEFAULT '{}',
  failed_patch  integer,
  failure_type  text,
  error         text,
  finished_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, code)
);
CREATE INDEX patch_run_item_failed ON nightshift.patch_run_item (run_id) WHERE status = 'failed';

-- Down Migration
DROP TABLE nightshift.patch_run_item;
DROP TABLE nightshift.patch_run;
DROP TABLE nightshift.patch_package;

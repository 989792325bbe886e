-- Up Migration
-- The backup batch of modified dossiers (R-BK-1 .. R-BK-9): one row per run, one per dossier of a run.
-- The ledger outlives the workflows: it is what "the failures of the last run" (R-BK-4) means, and the
-- report (R-BK-7) is streamed from it rather than from workflow memory.
CREATE TABLE nightshift.backup_run (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id   text NOT NULL UNIQUE,
  -- 'run' (modified dossiers, or all), 'retry' (the failed dossiers of retry_of)
  kind          text NOT NULL CHECK (kind IN ('run', 'retry')),
  retry_of      bigint REFERENCES nightshift.backup_run (id),
  -- running; completed (every selected dossier backed up); partial (every one attempted, some failed or
  -- in use); failed (ended early: cancelled, or the workflow failed)
  state         text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'failed', 'partial')),
  -- the run whose failures go first (R-BK-4), fixed when the run is claimed
  previous_run  bigint REFERENCES nightshift.backup_run (id),
  settings      jsonb NOT NULL,
  only_codes    text[],
  started_at    timestamptz NOT NULL DEFAULT now(),
  -- touched while the run makes progress: a 'running' row left by a terminated workflow goes stale
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  selected      integer NOT NULL DEFAULT 0,
  total         integer NOT NULL DEFAULT 0,
  ok            integer NOT NULL DEFAULT 0,
  failed        integer NOT NULL DEFAULT 0,
  report_path   text,
  note          text,
  mail_state    text NOT NULL DEFAULT 'none' CHECK (mail_state IN ('none', 'pending', 'sent', 'failed')),
  mail_error    text
);
-- R-BK-1: at most one running batch per target (this database is the target), also for concurrent starts.
CREATE UNIQUE INDEX backup_run_one_running ON nightshift.backup_run ((true)) WHERE state = 'running';
CREATE INDEX backup_run_finished ON nightshift.backup_run (id) WHERE state <> 'running';

CREATE TABLE nightshift.backup_run_item (
  run_id       bigint NOT NULL REFERENCES nightshift.backup_run (id) ON DELETE CASCADE,
  -- no foreign key to the registry: a dossier deleted later keeps its history
  code         text NOT NULL,
  -- report order: the order in which the dossiers finished
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  status       text NOT NULL CHECK (status IN ('ok', 'in_use', 'failed')),
  attempts     integer NOT NULL DEFAULT 1 CHECK (attempts >= 1),
  error        text,
  file         text,
  size         bigint,
  duration_ms  integer,
  finished_at  timestamptz NOT NULL DEFAULT now(),
  -- a dossier is reported once per run, whatever the retries and crashes
  PRIMARY KEY (run_id, code)
);
CREATE INDEX backup_run_item_report ON nightshift.backup_run_item (run_id, seq);
CREATE INDEX backup_run_item_failures ON nightshift.backup_run_item (run_id, code) WHERE status <> 'ok';

-- Common values of the R-BK-9 settings (the local value of the worker's machine wins, then this, then the default).
CREATE TABLE nightshift.backup_setting (
  key         text PRIMARY KEY CHECK (key IN ('folder', 'date-subfolder', 'dossiers', 'modified-only', 'documents',
                                              'report-recipients', 'on-exit', 'before-exchange', 'before-closing')),
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE nightshift.backup_setting;
DROP TABLE nightshift.backup_run_item;
DROP TABLE nightshift.backup_run;

-- Up Migration
-- Rollback (R-PI-11, issue 14): a dossier is restored from its restore point (the generation a patch run with
-- restore points recorded in patch_run_item.restore_point) and its patch ledger and level rewound with it.
-- One row per rollback run and one per dossier; the dossier's row turns 'ok' in the very transaction that
-- restores it, and the patch run's item is marked rolled back there too: a dossier is restored exactly once,
-- whatever a worker's crash or a retried chunk does.
CREATE TABLE nightshift.patch_rollback_run (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id      text NOT NULL UNIQUE,
  -- running; completed (every selected dossier restored); partial (some failed); failed (refused or ended early)
  state            text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'partial', 'failed')),
  -- the scope: the patch run whose restore points are used (--run), only its failed dossiers, or dossier codes
  patch_run        bigint REFERENCES nightshift.patch_run (id),
  failed_only      boolean NOT NULL DEFAULT false,
  requested        text[],
  -- a retry: the rollback run whose failed dossiers go again
  retry_of         bigint REFERENCES nightshift.patch_rollback_run (id),
  window_workflow  text,
  prerequisites    jsonb NOT NULL DEFAULT '[]',
  notes            text[] NOT NULL DEFAULT '{}',
  error            text,
  started_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
-- R-PI-2: one rollback run at a time on a target
CREATE UNIQUE INDEX patch_rollback_run_one_running ON nightshift.patch_rollback_run ((true)) WHERE state = 'running';

CREATE TABLE nightshift.patch_rollback_item (
  run_id         bigint NOT NULL REFERENCES nightshift.patch_rollback_run (id) ON DELETE CASCADE,
  code           text NOT NULL,
  -- pending: selected, not restored yet; ok: restored (in the restore's own transaction); failed: not restored
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'failed')),
  -- the patch run whose restore point this is, and the generation restored
  patch_run      bigint NOT NULL REFERENCES nightshift.patch_run (id),
  generation_id  bigint NOT NULL REFERENCES nightshift.backup_generation (id),
  from_level     integer,
  to_level       integer,
  failure_type   text,
  error          text,
  finished_at    timestamptz,
  PRIMARY KEY (run_id, code)
);
CREATE INDEX patch_rollback_item_open ON nightshift.patch_rollback_item (run_id, code) WHERE status = 'pending';
CREATE INDEX patch_rollback_item_failed ON nightshift.patch_rollback_item (run_id) WHERE status = 'failed';

-- The patch run's item says it was rolled back, and by which rollback run: its restore point is used once.
ALTER TABLE nightshift.patch_run_item ADD COLUMN rolled_back_at timestamptz;
ALTER TABLE nightshift.patch_run_item ADD COLUMN rolled_back_by bigint REFERENCES nightshift.patch_rollback_run (id);

-- Down Migration
ALTER TABLE nightshift.patch_run_item DROP COLUMN rolled_back_by;
ALTER TABLE nightshift.patch_run_item DROP COLUMN rolled_back_at;
DROP TABLE nightshift.patch_rollback_item;
DROP TABLE nightshift.patch_rollback_run;

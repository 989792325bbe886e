-- Up Migration
-- Bulk restore (`backup restore --all/--codes --at DATE`): a lost database of thousands of dossiers brought back from
-- the generations catalog (R-BK-11) on the fan-out engine. One row per restore run and one per dossier; a dossier's
-- row turns 'ok' in the very transaction that restores it (archive/engine.ts beforeCommit): a worker killed at any
-- moment neither loses nor repeats a restore.
CREATE TABLE nightshift.restore_run (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workflow_id  text NOT NULL UNIQUE,
  -- running; completed (every dossier restored or kept); partial (some failed); failed (refused or ended early)
  state        text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed', 'partial', 'failed')),
  -- each dossier's generation taken at or just before this instant (of this folder kind when given)
  restore_at   timestamptz NOT NULL,
  kind         text,
  -- an existing dossier is replaced (otherwise kept as it is)
  replace      boolean NOT NULL DEFAULT false,
  -- where each generation is read: auto (its file, or its off-site copy when the file is not there), local, offsite
  source       text NOT NULL DEFAULT 'auto' CHECK (source IN ('auto', 'local', 'offsite')),
  -- the scope: these codes (--codes), every dossier of the catalog (--all: null), or the failed ones of a run (--retry)
  requested    text[],
  retry_of     bigint REFERENCES nightshift.restore_run (id),
  prerequisites jsonb NOT NULL DEFAULT '[]',
  notes        text[] NOT NULL DEFAULT '{}',
  error        text,
  started_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
-- one restore run at a time on a target
CREATE UNIQUE INDEX restore_run_one_running ON nightshift.restore_run ((true)) WHERE state = 'running';

CREATE TABLE nightshift.restore_run_item (
  run_id         bigint NOT NULL REFERENCES nightshift.restore_run (id) ON DELETE CASCADE,
  code           text NOT NULL,
  -- pending: selected; ok: restored (in the restore's own transaction); kept: already there, not replaced; failed: not restored
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'kept', 'failed')),
  -- the generation restored
  generation_id  bigint REFERENCES nightshift.backup_generation (id),
  failure_type   text,
  error          text,
  finished_at    timestamptz,
  PRIMARY KEY (run_id, code)
);
CREATE INDEX restore_run_item_open ON nightshift.restore_run_item (run_id, code) WHERE status = 'pending';
CREATE INDEX restore_run_item_failed ON nightshift.restore_run_item (run_id) WHERE status = 'failed';

-- Down Migration
DROP TABLE nightshift.restore_run_item;
DROP TABLE nightshift.restore_run;

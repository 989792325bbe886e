-- Up Migration
-- Maintenance windows of this target (R-MW-1, R-MW-2). The workflow maintenance/{target} writes the row;
-- the gate reads it (several gate processes can serve one target).
CREATE TABLE nightshift.maintenance_window (
  id                   uuid PRIMARY KEY,
  workflow_id          text NOT NULL,
  type                 text NOT NULL CHECK (type IN ('database', 'deployment')),
  state                text NOT NULL CHECK (state IN ('scheduled', 'in_progress', 'completed', 'cancelled')),
  -- finer progress for the operator: scheduled, blocking_logins, closing_sessions, draining, working, checking,
  -- restoring, failed (work or check failed: the target stays closed until "reopen", R-MW-10), completed, cancelled
  phase                text NOT NULL,
  starts_at            timestamptz NOT NULL,
  ends_at              timestamptz NOT NULL CHECK (ends_at > starts_at),
  prevent_logins_from  timestamptz CHECK (prevent_logins_from IS NULL OR prevent_logins_from <= starts_at),
  message              text CHECK (message IS NULL OR length(message) <= 2000),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  finished_at          timestamptz
);
-- R-MW-2: at most one scheduled or in-progress window per target (this database is the target).
CREATE UNIQUE INDEX maintenance_window_one_active ON nightshift.maintenance_window ((true))
  WHERE state IN ('scheduled', 'in_progress');

-- R-MW-7: close orders given to open sessions, and how they ended.
ALTER TABLE nightshift.session
  ADD COLUMN close_requested_at timestamptz,
  ADD COLUMN close_by           timestamptz;
-- close_reason (from 0001): 'logout' | 'acknowledged' | 'forced' | 'expired'

-- Down Migration
ALTER TABLE nightshift.session DROP COLUMN close_by, DROP COLUMN close_requested_at;
DROP TABLE nightshift.maintenance_window;

-- Up Migration
-- The shared store of this target (issue 10, several worker hosts): every worker's backup folder, and
-- its documents folder, must be the one shared folder, recognised by the id in its `.nightshift-store`
-- marker. The first worker to start records the id here; every worker compares its folder's marker
-- with it at start and refuses to run when they differ (nightshift doctor says the same).
CREATE TABLE nightshift.shared_store (
  kind         text PRIMARY KEY CHECK (kind IN ('backups', 'documents')),
  store_id     text NOT NULL CHECK (store_id ~ '^[0-9a-f]{32}$'),
  recorded_by  text NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE nightshift.shared_store;

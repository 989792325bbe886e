-- Up Migration
-- Generations (R-BK-11 .. R-BK-14, issue 13): every complete, durable archive of a dossier is one row here.
-- B{code}.SVG in the seed's layout stays the latest (a second name of the newest generation's file); each
-- generation has a file of its own that is never replaced, until retention prunes it. Rows of pruned
-- generations stay (deleted_at) so the audit trail says what was deleted, when and by which run.
CREATE TABLE nightshift.backup_generation (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- no foreign key to the registry: a dossier deleted later keeps its generations until they are pruned
  code           text NOT NULL,
  -- the R-BK-9 / R-BK-5 folder it was written to: retention may differ between them
  kind           text NOT NULL CHECK (kind IN ('normal', 'EchangePrest', 'Cloture')),
  -- the generation's own file (absolute path), never replaced
  file           text NOT NULL UNIQUE,
  -- its other names: B{code}.SVG where the seed's layout shows it (a date sub-folder's stays after a newer one)
  links          text[] NOT NULL DEFAULT '{}',
  -- the batch run that wrote it (null: a single-dossier backup or a restore point)
  run_id         bigint REFERENCES nightshift.backup_run (id) ON DELETE SET NULL,
  -- why it was taken: batch, manual, an R-BK-5 event, a restore point before a patch (R-PI-11)
  reason         text NOT NULL DEFAULT 'batch',
  snapshot_at    timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  size           bigint NOT NULL,
  -- SHA-256 of the whole file when known (the S3 copy and the verification compute it)
  sha256         text,
  -- the encryption key id in its header (null: plain)
  key_id         text,
  patch_level    integer,
  -- the dossier's change counter in the snapshot: unmodified since this generation = same value
  change_seq     bigint,
  tables         integer,
  row_count      bigint,
  -- R-BK-13: last verification (checksums read; restored = restored into a scratch schema and compared)
  verify_state   text NOT NULL DEFAULT 'unverified' CHECK (verify_state IN ('unverified', 'ok', 'corrupt', 'missing')),
  verified_at    timestamptz,
  verify_restored boolean NOT NULL DEFAULT false,
  verify_error   text,
  -- R-BK-14: the off-site copy
  offsite_state  text NOT NULL DEFAULT 'none' CHECK (offsite_state IN ('none', 'copied', 'failed', 'deleted')),
  offsite_bucket text,
  offsite_key    text,
  offsite_at     timestamptz,
  offsite_error  text,
  -- pruned by retention (the file is gone); by: the prune workflow's id
  deleted_at     timestamptz,
  deleted_by     text
);
CREATE INDEX backup_generation_kept ON nightshift.backup_generation (code, kind, snapshot_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX backup_generation_run ON nightshift.backup_generation (run_id) WHERE run_id IS NOT NULL;

-- A restore or a verification reading a generation holds a lease on it: prune never deletes a leased one.
CREATE TABLE nightshift.backup_generation_lease (
  generation_id  bigint NOT NULL REFERENCES nightshift.backup_generation (id) ON DELETE CASCADE,
  holder         text NOT NULL,
  expires_at     timestamptz NOT NULL,
  PRIMARY KEY (generation_id, holder)
);

-- Retention (R-BK-11), off-site copies (R-BK-14) and verification (R-BK-13) settings are common values too.
ALTER TABLE nightshift.backup_setting DROP CONSTRAINT backup_setting_key_check;
ALTER TABLE nightshift.backup_setting ADD CONSTRAINT backup_setting_key_check
  CHECK (key IN ('folder', 'date-subfolder', 'dossiers', 'modified-only', 'documents', 'report-recipients', 'on-exit',
                 'before-exchange', 'before-closing', 'retention', 'offsite', 'verify'));

-- Down Migration
DELETE FROM nightshift.backup_setting WHERE key IN ('retention', 'offsite', 'verify');
ALTER TABLE nightshift.backup_setting DROP CONSTRAINT backup_setting_key_check;
ALTER TABLE nightshift.backup_setting ADD CONSTRAINT backup_setting_key_check
  CHECK (key IN ('folder', 'date-subfolder', 'dossiers', 'modified-only', 'documents', 'report-recipients', 'on-exit',
                 'before-exchange', 'before-closing'));
DROP TABLE nightshift.backup_generation_lease;
DROP TABLE nightshift.backup_generation;

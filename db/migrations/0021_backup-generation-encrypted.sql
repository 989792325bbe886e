-- Up Migration
-- R-BK-12: a worker that finds no backup key refuses to write a plain archive for a target whose archives were
-- encrypted before (a key file gone with a failed mount or a bad deploy must not turn encryption off in silence).
-- It asks for the newest encrypted generation; this index answers at once, also where none is (a plain deployment).
CREATE INDEX backup_generation_encrypted ON nightshift.backup_generation (id DESC) WHERE key_id IS NOT NULL;

-- Down Migration
DROP INDEX nightshift.backup_generation_encrypted;

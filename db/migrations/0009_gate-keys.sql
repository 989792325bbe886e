-- Up Migration
-- API keys of the business application on this target (R-SE-4): one row per application instance.
-- Only the SHA-256 of the secret is kept; prefix is its first characters, shown to tell keys apart.
-- A key is never deleted, only revoked, so that sessions and metrics keep naming it.
CREATE TABLE nightshift.gate_key (
  id            uuid PRIMARY KEY,
  name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._ -]{0,59}$'),
  prefix        text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 16),
  secret_hash   text NOT NULL UNIQUE CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_used_at  timestamptz,
  revoked_at    timestamptz
);

-- R-SE-5: sessions remember the key that opened them (caps per key); NULL for sessions opened before keys.
ALTER TABLE nightshift.session ADD COLUMN key_id uuid REFERENCES nightshift.gate_key (id);
CREATE INDEX session_live_key ON nightshift.session (key_id) WHERE closed_at IS NULL;
-- R-SE-5: the purge of closed sessions after the retention reads them by close instant.
CREATE INDEX session_closed_at ON nightshift.session (closed_at) WHERE closed_at IS NOT NULL;

-- Down Migration
DROP INDEX nightshift.session_closed_at;
DROP INDEX nightshift.session_live_key;
ALTER TABLE nightshift.session DROP COLUMN key_id;
DROP TABLE nightshift.gate_key;

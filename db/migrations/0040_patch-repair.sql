-- Up Migration
-- Flyway's `repair` for R-PI-8 (`nightshift patch repair DIR`): a package already applied somewhere whose checksum
-- changed since (a comment fixed, then resealed) is refused by every run; a repair realigns the ledgers instead of
-- re-applying anything: each dossier's apatch row of that number holding a checksum the repair replaces takes the new
-- one, then the stored package is replaced (replaces_package). A dossier restored later from an archive older than the
-- repair holds an old checksum again: the next repair with the same folder realigns it (replaces_package false). One
-- row per repair, its audit trail: the checksums it replaced, the new one, the folder, how many dossier ledgers it
-- realigned; 'running' until it is done (a repair cut off is run again and goes on).
CREATE TABLE nightshift.patch_repair (
  id                bigserial PRIMARY KEY,
  number            integer NOT NULL,
  old_checksums     text[] NOT NULL,
  new_checksum      text NOT NULL,
  source_dir        text NOT NULL,
  replaces_package  boolean NOT NULL,
  dossiers          integer NOT NULL DEFAULT 0 CHECK (dossiers >= 0),
  state             text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'completed')),
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz
);
-- one unfinished repair per patch number: run again, it goes on
CREATE UNIQUE INDEX patch_repair_running ON nightshift.patch_repair (number) WHERE state = 'running';

-- One dossier's ledger row of that patch, when it holds one of the old checksums: realigned to the new one (apply), or
-- only found (a dry run). 1 when it holds one, else 0; a dossier without one is not touched (the touch trigger,
-- R-BK-10, fires per statement: an UPDATE of no row would still mark it modified).
CREATE FUNCTION nightshift.repair_patch_checksum(target_schema text, patch_number integer, old_checksums text[], new_checksum text, apply boolean)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  stale boolean;
BEGIN
  IF to_regclass(format('%I.apatch', target_schema)) IS NULL THEN
    RETURN 0;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.apatch WHERE number = $1 AND checksum = ANY($2))', target_schema) INTO stale USING patch_number, old_checksums;
  IF NOT stale THEN
    RETURN 0;
  END IF;
  IF apply THEN
    EXECUTE format('UPDATE %I.apatch SET checksum = $3 WHERE number = $1 AND checksum = ANY($2)', target_schema) USING patch_number, old_checksums, new_checksum;
  END IF;
  RETURN 1;
END
$$;

-- Down Migration
DROP FUNCTION nightshift.repair_patch_checksum(text, integer, text[], text, boolean);
DROP TABLE nightshift.patch_repair;

/**
 * The tables every dossier starts with: the business application's accounting structure. The
 * foreign keys and secondary indexes come after the tables so that a bulk load (the demo generator,
 * a restore) can go in between: checking them once after COPY is much cheaper than row by row.
 * Constraint names are PostgreSQL's defaults, so both paths give the same catalog.
 */
export const DOSSIER_BASE_TABLES = `
CREATE TABLE compte (
  numero   varchar(12) PRIMARY KEY,
  libelle  text NOT NULL,
  nature   char(1) NOT NULL CHECK (nature IN ('A', 'P', 'C', 'R', 'T'))
);
CREATE TABLE journal (
  code     varchar(4) PRIMARY KEY,
  libelle  text NOT NULL,
  type     text NOT NULL
);
CREATE TABLE ecriture (
  id            bigserial PRIMARY KEY,
  journal       varchar(4) NOT NULL,
  date_ecriture date NOT NULL,
  piece         text,
  libelle       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ligne (
  ecriture_id bigint NOT NULL,
  n           smallint NOT NULL,
  compte      varchar(12) NOT NULL,
  debit       numeric(15, 2) NOT NULL DEFAULT 0,
  credit      numeric(15, 2) NOT NULL DEFAULT 0,
  PRIMARY KEY (ecriture_id, n)
);
CREATE TABLE parametre (
  cle     text PRIMARY KEY,
  valeur  jsonb NOT NULL
);
`;
export const DOSSIER_BASE_CONSTRAINTS = `
ALTER TABLE ecriture ADD CONSTRAINT ecriture_journal_fkey FOREIGN KEY (journal) REFERENCES journal (code);
ALTER TABLE ligne
  ADD CONSTRAINT ligne_ecriture_id_fkey FOREIGN KEY (ecriture_id) REFERENCES ecriture (id) ON DELETE CASCADE,
  ADD CONSTRAINT ligne_compte_fkey FOREIGN KEY (compte) REFERENCES compte (numero);
CREATE INDEX ligne_compte ON ligne (compte);
`;

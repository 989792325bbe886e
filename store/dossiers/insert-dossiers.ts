import { schemaNameFor, type NewDossier } from '../../domain/dossier';
import { FailureType, permanentFailure } from '../../domain/failures';
import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';
import { DOSSIER_BASE_CONSTRAINTS, DOSSIER_BASE_TABLES } from './base-structure';

/**
 * Inserts the registry row and creates the schema. Runs inside the caller's transaction.
 * With the base structure, `load` (if given) fills the tables before the constraints are added.
 */
export async function insertDossier(
  tx: Queryable,
  input: NewDossier,
  withBaseStructure: boolean,
  load?: (schema: string) => Promise<void>,
): Promise<void> {
  await insertDossiers(tx, [input], withBaseStructure, load && (([schema]) => load(schema!)));
}

/**
 * insertDossier for many dossiers in the caller's transaction, in a fixed number of round trips
 * (plus what `load` does): the demo generator makes 100,000 small dossiers this way. `load` gets the
 * schemas in input order.
 */
export async function insertDossiers(
  tx: Queryable,
  inputs: NewDossier[],
  withBaseStructure: boolean,
  load?: (schemas: string[]) => Promise<void>,
): Promise<void> {
  if (!inputs.length) return;
  const schemas = inputs.map((d) => schemaNameFor(d.code));
  const existing = await tx.query<{ code: string }>('SELECT code FROM nightshift.dossier WHERE lower(code) = ANY ($1::text[])', [
    inputs.map((d) => d.code.toLowerCase()),
  ]);
  if (existing.rows[0]) throw permanentFailure(FailureType.DossierExists, `dossier ${existing.rows[0].code} already exists`);
  if (inputs.some((d) => d.role === 'supervisor')) {
    const sup = await tx.query<{ code: string }>(`SELECT code FROM nightshift.dossier WHERE role = 'supervisor'`);
    if (sup.rows[0]) {
      throw permanentFailure(FailureType.SupervisorConflict, `dossier ${sup.rows[0].code} is already the supervisor of this target (one per target)`);
    }
  }
  const column = <T>(f: (d: NewDossier) => T): T[] => inputs.map(f);
  try {
    await tx.query(
      `INSERT INTO nightshift.dossier (code, label, role, is_test, is_specific, is_template, is_transferable, copy_status, schema_name)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::boolean[], $6::boolean[], $7::boolean[], $8::text[], $9::text[])`,
      [
        column((d) => d.code),
        column((d) => d.label),
        column((d) => d.role),
        column((d) => d.flags.test),
        column((d) => d.flags.specific),
        column((d) => d.flags.template),
        column((d) => d.flags.transferable),
        column((d) => d.copyStatus),
        schemas,
      ],
    );
    await tx.query(
      schemas
        .map((schema) => (withBaseStructure ? `CREATE SCHEMA ${ident(schema)}; SET LOCAL search_path = ${ident(schema)}; ${DOSSIER_BASE_TABLES}` : `CREATE SCHEMA ${ident(schema)};`))
        .join('\n') + (withBaseStructure ? '; SET LOCAL search_path = DEFAULT' : ''),
    );
  } catch (err) {
    throw conflictFailure(err, inputs.length === 1 ? inputs[0]!.code : `(one of ${inputs[0]!.code} .. ${inputs[inputs.length - 1]!.code})`, inputs.length === 1 ? schemas[0]! : 'of one of them');
  }
  if (withBaseStructure) {
    if (load) await load(schemas);
    await tx.query(schemas.map((schema) => `SET LOCAL search_path = ${ident(schema)}; ${DOSSIER_BASE_CONSTRAINTS}`).join('\n') + '; SET LOCAL search_path = DEFAULT');
    await tx.query('SELECT nightshift.install_touch_triggers(s) FROM unnest($1::text[]) AS s', [schemas]);
  }
}

/**
 * A concurrent create can pass the checks above and then hit the unique indexes (or an unregistered
 * schema of the same name): those are permanent conflicts, not transient errors worth retrying.
 */
function conflictFailure(err: unknown, code: string, schema: string): unknown {
  const e = err as { code?: string; constraint?: string };
  if (e.code === '23505' && e.constraint === 'dossier_one_supervisor') {
    return permanentFailure(FailureType.SupervisorConflict, 'this target already has a supervisor dossier (one per target)');
  }
  if (e.code === '23505') return permanentFailure(FailureType.DossierExists, `dossier ${code} already exists`);
  if (e.code === '42P06') return permanentFailure(FailureType.DossierExists, `schema ${schema} already exists in the target database without a registered dossier`);
  return err;
}

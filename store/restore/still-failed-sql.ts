/**
 * The failed dossiers of a restore run that no later restore run has restored or kept since: what its retry takes
 * (drill D2: a second `--retry` of a `--replace` run restored a dossier the first retry had restored, over what users
 * wrote since). `run` is the run id's parameter (`$2`); selects `code`.
 */
export function stillFailedSql(run: string): string {
  return `SELECT f.code FROM nightshift.restore_run_item f
           WHERE f.run_id = ${run}::bigint AND f.status = 'failed'
             AND NOT EXISTS (SELECT 1 FROM nightshift.restore_run_item l WHERE l.code = f.code AND l.run_id > f.run_id AND l.status IN ('ok', 'kept'))`;
}

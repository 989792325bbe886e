import type { VerifyScope } from '../../domain/backup-verify';

/**
 * The kept generations a verify run covers, as a WHERE clause over nightshift.backup_generation g with its
 * bind values from `first` on (every kept one, or one part of them; those a batch run wrote; those of some dossiers).
 */
export function verifyScopeWhere(scope: VerifyScope, first: number): { sql: string; values: unknown[] } {
  switch (scope.kind) {
    case 'all':
      // one part (migration 0038): the ids that leave part - 1 divided by the number of parts
      return scope.part
        ? { sql: `g.deleted_at IS NULL AND mod(g.id, $${first}::bigint) = $${first + 1}::bigint`, values: [scope.part.of, scope.part.part - 1] }
        : { sql: 'g.deleted_at IS NULL', values: [] };
    case 'run':
      return { sql: `g.deleted_at IS NULL AND g.run_id = $${first}`, values: [scope.runId] };
    case 'codes':
      return { sql: `g.deleted_at IS NULL AND g.code = ANY($${first}::text[])`, values: [scope.codes] };
  }
}

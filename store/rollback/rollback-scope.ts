/** What a rollback run restores: dossier codes (each its newest unused restore point), a patch run's dossiers, or a rollback run's failed ones. */
export type RollbackScope =
  | { kind: 'codes'; codes: string[] }
  | { kind: 'run'; patchRun: number; failedOnly: boolean }
  | { kind: 'retry'; retryOf: number };

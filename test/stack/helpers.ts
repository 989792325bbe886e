import net from 'node:net';
import path from 'node:path';
import { freePort } from '../helpers/net';

export { freePort };
export { runCli, type CliResult } from '../helpers/cli';

/** Helpers for the stack tests: ports, and the CLI spawned as a real process. */

export const ROOT = path.resolve(__dirname, '..', '..');

/** Distinct free ports (asked one after the other, so the kernel does not hand out the same one twice). */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The environment without anything that points Nightshift at servers: each test says what it wants. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(DATABASE_URL|NIGHTSHIFT_|TEMPORAL_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

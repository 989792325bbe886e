import net from 'node:net';
import path from 'node:path';
import { freePort } from '../helpers/net';

export { freePort };
export { runCli, type CliResult } from '../helpers/cli';

/** Helpers for the stack tests: ports, and the CLI spawned as a real process. */

export const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Distinct free ports for a stack the test starts, chosen BELOW the kernel's ephemeral range (32768-60999 here): a
 * port the kernel handed out as free is also one it may hand to an outgoing connection before the server binds it
 * (the Temporal dev server's own services connect to each other as they start, and its UI then found its port taken:
 * `bind: address already in use`, once in a CI run).
 */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.has(port) && (await portFree(port))) ports.add(port);
  }
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

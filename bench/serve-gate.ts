import os from 'node:os';
import { loadConfig } from '../config/config';
import { startGate } from '../gate/server';
import { createTargetPools } from '../workers/resources';

/**
 * What `nightshift gate` does, in a bench's child process, with the login limits raised for the load
 * generator; it serves until SIGTERM. `env` adds variables (a time zone, TLS files) to the fixed ones.
 */
export async function serveGateUntilSigterm(databaseUrl: string, port: number, env: Record<string, string> = {}): Promise<void> {
  const loaded = loadConfig({
    DATABASE_URL: databaseUrl,
    NIGHTSHIFT_GATE_HOST: '127.0.0.1',
    NIGHTSHIFT_GATE_PORT: String(port),
    NIGHTSHIFT_LOG_LEVEL: 'warn',
    NIGHTSHIFT_DATA_DIR: os.tmpdir(),
    ...env,
  });
  const config = {
    ...loaded,
    gate: { ...loaded.gate, metricsPort: 0, loginRatePerAddress: 1_000_000, loginRatePerKey: 1_000_000, maxSessionsPerKey: 1_000_000 },
  };
  const pools = createTargetPools(config, 10);
  const gate = await startGate(config, pools);
  process.stdout.write(`listening on ${gate.address}\n`);
  await new Promise((resolve) => process.once('SIGTERM', resolve));
  await gate.close();
  await pools.end();
}

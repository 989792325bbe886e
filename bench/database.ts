import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../test/setup/servers';

/**
 * A bench's work folder and database: the embedded PostgreSQL in that folder (`server`, to stop at the end), or the
 * server of DATABASE_URL when it is set.
 */
async function benchDatabase(prefix: string): Promise<{ work: string; url: string; server?: EmbeddedPostgresServer }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // the embedded server runs as its own OS user: it must reach its folder below this one
  fs.chmodSync(work, 0o755);
  if (process.env.DATABASE_URL) return { work, url: process.env.DATABASE_URL };
  const server = await startEmbeddedPostgres({ dir: path.join(work, 'pg') });
  return { work, url: server.adminUrl, server };
}

/**
 * A bench's main: `body` with its database (benchDatabase), the load average printed at its end (the figures above it
 * carry the machine's noise), then the server stopped and the work folder removed; exit 1 on an error, 0 otherwise.
 */
export function runBench(prefix: string, body: (db: { work: string; url: string; server?: EmbeddedPostgresServer }) => Promise<void>): void {
  const run = async () => {
    const db = await benchDatabase(prefix);
    try {
      await body(db);
      console.log(`load average at the end ${loadAverage()} (${os.cpus().length} cores)`);
    } finally {
      await db.server?.stop();
      fs.rmSync(db.work, { recursive: true, force: true });
    }
  };
  run().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** The machine's load averages over 1, 5 and 15 minutes, as a bench prints them beside its figures. */
export function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

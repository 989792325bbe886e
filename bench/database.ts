import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from '../test/setup/servers';

/**
 * A bench's work folder and database: the embedded PostgreSQL in that folder (`server`, to stop at the end), or the
 * server of DATABASE_URL when it is set.
 */
export async function benchDatabase(prefix: string): Promise<{ work: string; url: string; server?: EmbeddedPostgresServer }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // the embedded server runs as its own OS user: it must reach its folder below this one
  fs.chmodSync(work, 0o755);
  if (process.env.DATABASE_URL) return { work, url: process.env.DATABASE_URL };
  const server = await startEmbeddedPostgres({ dir: path.join(work, 'pg') });
  return { work, url: server.adminUrl, server };
}

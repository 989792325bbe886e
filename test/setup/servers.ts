import pg from 'pg';
import { startEmbeddedPostgres as startPostgres, type EmbeddedPostgres } from '../../db/embedded-postgres';
import { freePort } from '../helpers/net';

export interface EmbeddedPostgresServer {
  /** a few conveniences over the running server (the benchmarks use them) */
  server: { createDatabase(name: string): Promise<void>; stop(): Promise<void> };
  postgres: EmbeddedPostgres;
  port: number;
  /** the `postgres` database, as the `nightshift` superuser */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * An embedded PostgreSQL (the test suite's and the benchmarks'), data in `dir`, deleted at stop(),
 * through the project's one starter (db/embedded-postgres.ts: as root it runs PostgreSQL as the
 * `postgres` user and moves what that user cannot reach). `flags` are passed to postgres as they are.
 */
export async function startEmbeddedPostgres(opts: { dir: string; port?: number; flags?: string[] }): Promise<EmbeddedPostgresServer> {
  const port = opts.port ?? (await freePort());
  const postgres = await startPostgres({
    dataDir: opts.dir,
    port,
    user: 'nightshift',
    password: 'nightshift',
    persistent: false,
    ...(opts.flags ? { flags: opts.flags } : {}),
  });
  const adminUrl = `postgres://nightshift:nightshift@127.0.0.1:${port}/postgres`;
  const createDatabase = async (name: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`);
    } finally {
      await c.end();
    }
  };
  return { server: { createDatabase, stop: () => postgres.stop() }, postgres, port, adminUrl, stop: () => postgres.stop() };
}

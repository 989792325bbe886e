import path from 'node:path';
import { runner } from 'node-pg-migrate';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
export const CONTROL_SCHEMA = 'nightshift';

/** Applies the numbered SQL migrations of db/migrations to one target database (idempotent, locked). */
export async function migrate(databaseUrl: string, log: (msg: string) => void = () => {}): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    migrationsSchema: CONTROL_SCHEMA,
    schema: CONTROL_SCHEMA,
    createSchema: true,
    createMigrationsSchema: true,
    checkOrder: true,
    log,
    logger: { debug: () => {}, info: log, warn: log, error: log },
  });
  return applied.map((m: { name: string }) => m.name);
}

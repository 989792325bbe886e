import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { START_SETTINGS_FILE, startEmbeddedPostgres } from '../../db/embedded-postgres';
import { freePort } from '../helpers/net';
import { tempDir } from '../helpers/env';

jest.setTimeout(120_000);

// drill K: PostgreSQL restarted by hand (`pg_ctl -D <dir>/pg start`, as the README said) came back on 5432 without the
// lock table of 256 slots: its port and settings were on the command line only, and the whole cluster stayed down
test('an embedded PostgreSQL started again by hand with its startCommand (pg_ctl) comes back on its port with its settings', async () => {
  const port = await freePort();
  const dir = tempDir('pg-restart');
  const first = await startEmbeddedPostgres({ dataDir: dir, port, user: 'nightshift', password: 'nightshift', persistent: true, flags: ['-c', 'max_connections=37'] });
  const show = async (name: string) => {
    const c = new pg.Client({ connectionString: `postgres://nightshift:nightshift@127.0.0.1:${port}/postgres` });
    await c.connect();
    try {
      return (await c.query(`SHOW ${name}`)).rows[0][name] as string;
    } finally {
      await c.end();
    }
  };
  try {
    const written = fs.readFileSync(path.join(first.realDataDir, START_SETTINGS_FILE), 'utf8');
    expect(written).toContain(`port = ${port}\n`);
    expect(written).toContain("max_locks_per_transaction = '256'\n");
    expect(written).toContain("max_connections = '37'\n");
    expect(fs.readFileSync(path.join(first.realDataDir, 'postgresql.conf'), 'utf8')).toContain(`include_if_exists = '${START_SETTINGS_FILE}'`);
    await first.stop();

    // by hand, as the README and the cluster's restart/postgres script do it
    execSync(first.startCommand, { stdio: 'ignore', timeout: 60_000 });
    try {
      expect(await show('port')).toBe(String(port));
      expect(await show('max_locks_per_transaction')).toBe('256');
      expect(await show('max_connections')).toBe('37');
    } finally {
      execSync(first.stopCommand, { stdio: 'ignore', timeout: 60_000 });
    }
    // the include is added once, whatever the number of starts
    const again = await startEmbeddedPostgres({ dataDir: dir, port, user: 'nightshift', password: 'nightshift', persistent: false });
    await again.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

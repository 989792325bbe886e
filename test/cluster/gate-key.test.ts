import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { CLUSTER_KEY_NAME, ensureClusterKey } from '../../cluster/gate-key';
import { issueKey } from '../../gate/keys';
import { listKeys } from '../../store/gate/list-keys';
import { createTestDatabase, tempDir } from '../helpers/env';

/** `cluster up`'s gate key (finding 5 of the operator's drill): reused while live, one valid cluster key at a time. */

let pool: pg.Pool;
beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await createTestDatabase('ckey'), max: 2 });
});
afterAll(async () => {
  await pool?.end();
});

const liveClusterKeys = async () => (await listKeys(pool)).filter((k) => k.name === CLUSTER_KEY_NAME && !k.revokedAt).map((k) => k.prefix);

test('five starts keep one key; a key left by an older start is revoked, not the application key; a lost file gets a new key and the old one is revoked', async () => {
  const file = path.join(tempDir('cluster-key'), 'gate-api-key');
  const first = await ensureClusterKey(pool, file);
  expect(first).toMatchObject({ created: true, revoked: [] });
  expect(fs.readFileSync(file, 'utf8').trim()).toBe(first.secret);
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  for (let i = 0; i < 4; i++) expect(await ensureClusterKey(pool, file)).toEqual({ secret: first.secret, created: false, revoked: [] });
  expect(await liveClusterKeys()).toEqual([first.secret.slice(0, 12)]);

  // keys of earlier starts (before keys were reused), and the application's own key, which stays
  const older = await issueKey(pool, CLUSTER_KEY_NAME);
  const app = await issueKey(pool, 'compta-app');
  const kept = await ensureClusterKey(pool, file);
  expect(kept).toEqual({ secret: first.secret, created: false, revoked: [older.key.prefix] });
  expect(await liveClusterKeys()).toEqual([first.secret.slice(0, 12)]);
  expect((await listKeys(pool)).find((k) => k.id === app.key.id)!.revokedAt).toBeNull();

  // the file lost: a new key, and the one it held is revoked
  fs.rmSync(file);
  const fresh = await ensureClusterKey(pool, file);
  expect(fresh).toMatchObject({ created: true, revoked: [first.secret.slice(0, 12)] });
  expect(fresh.secret).not.toBe(first.secret);
  expect(await liveClusterKeys()).toEqual([fresh.secret.slice(0, 12)]);
});

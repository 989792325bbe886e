import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { loadConfig, type Config } from '../../config/config';
import { runWorker } from '../../workers/main';
import { STORE_MARKER_FILE, SharedFolderError } from '../../shared-store/marker';
import { runDoctor } from '../../cli/commands/doctor';
import { loadBackupSettings, setCommonBackupSetting } from '../../store/settings/backup-settings';
import { createTestDatabase, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { freePort } from '../helpers/net';

/**
 * Several targets (one database a firm) on one host (drill T): each has its own backup folder (R-BK-5, R-BK-9) —
 * <data>/sauve/<target> by default, <NIGHTSHIFT_BACKUP_DIR>/<target> with a local folder — and two targets on one
 * folder (a code in two firms one B{code}.SVG, one's prune deleting the other's archives) are refused by the worker
 * before anything is claimed, and failed by doctor for each of them.
 */

let paris: string;
let lyon: string;

beforeAll(async () => {
  paris = await createTestDatabase('tfp');
  lyon = await createTestDatabase('tfl');
});

async function envFor(dataDir: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    NIGHTSHIFT_TARGETS: `paris=${paris},lyon=${lyon}`,
    TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
    TEMPORAL_TASK_QUEUE: uniqueName('tq'),
    NIGHTSHIFT_METRICS_PORT: String(await freePort()),
    NIGHTSHIFT_DATA_DIR: dataDir,
    NIGHTSHIFT_LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function startAndStop(config: Config): Promise<unknown> {
  const controller = new AbortController();
  const done = runWorker(config, {
    signal: controller.signal,
    logger: pino({ level: 'warn' }),
    workflowBundle: { codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') },
    shutdownGraceTime: '1s',
    onReady: () => controller.abort(),
  });
  return done.then(
    () => undefined,
    (e: unknown) => e,
  );
}

async function recordedBackupStore(url: string): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ store_id: string }>(`SELECT store_id FROM nightshift.shared_store WHERE kind = 'backups'`)).rows[0]?.store_id;
  } finally {
    await c.end();
  }
}

const markerId = (folder: string) => (JSON.parse(fs.readFileSync(path.join(folder, STORE_MARKER_FILE), 'utf8')) as { storeId: string }).storeId;

test('R-BK-5 R-BK-9: with several targets each has its own backup folder, <data>/sauve/<target>, its own store; a local NIGHTSHIFT_BACKUP_DIR is the folder of their folders', async () => {
  const host = tempDir('targets');
  const config = loadConfig(await envFor(host));
  expect(await startAndStop(config)).toBeUndefined();
  const folders = { paris: path.join(host, 'sauve', 'paris'), lyon: path.join(host, 'sauve', 'lyon') };
  expect(await recordedBackupStore(paris)).toBe(markerId(folders.paris));
  expect(await recordedBackupStore(lyon)).toBe(markerId(folders.lyon));
  expect(markerId(folders.paris)).not.toBe(markerId(folders.lyon));
  const pool = new pg.Pool({ connectionString: lyon });
  try {
    expect((await loadBackupSettings(pool, config, 'lyon')).settings.folder).toBe(folders.lyon);
    const local = loadConfig(await envFor(host, { NIGHTSHIFT_BACKUP_DIR: '/srv/sauve' }));
    expect((await loadBackupSettings(pool, local, 'lyon')).settings.folder).toBe('/srv/sauve/lyon');
    // one target: the seed's <data>/sauve, as before
    const one = loadConfig({ DATABASE_URL: lyon, NIGHTSHIFT_DATA_DIR: host });
    expect((await loadBackupSettings(pool, one, 'main')).settings.folder).toBe(path.join(host, 'sauve'));
  } finally {
    await pool.end();
  }
  const doctor = await runDoctor(config, 3000);
  expect(doctor.services.store.paris).toMatchObject({ state: 'ok' });
  expect(doctor.services.store.lyon).toMatchObject({ state: 'ok' });
}, 120_000);

test('R-BK-5: two targets given one backup folder: the worker refuses before it claims anything, doctor fails both, in one line naming them', async () => {
  const host = tempDir('targets-shared');
  const config = loadConfig(await envFor(host));
  const parisFolder = path.join(host, 'sauve', 'paris');
  const pool = new pg.Pool({ connectionString: lyon });
  try {
    await setCommonBackupSetting(pool, 'folder', parisFolder);
    const before = await recordedBackupStore(lyon);
    const err = await startAndStop(config);
    expect(err).toBeInstanceOf(SharedFolderError);
    expect((err as Error).message).toBe(
      `targets paris, lyon have one backup folder, ${parisFolder}: a dossier code in two of them would be one archive ` +
        `(one firm's restore reading the other's data, one's prune deleting the other's): give each target its own, ` +
        `'nightshift backup settings set folder DIR --target NAME' (or unset NIGHTSHIFT_BACKUP_DIR: with several targets each has <data>/sauve/<target>)`,
    );
    expect(await recordedBackupStore(lyon)).toBe(before);
    const doctor = await runDoctor(config, 3000);
    expect(doctor.ok).toBe(false);
    for (const t of ['paris', 'lyon']) expect(doctor.services.store[t]).toMatchObject({ state: 'error', message: expect.stringContaining('targets paris, lyon have one backup folder') });
  } finally {
    await setCommonBackupSetting(pool, 'folder', undefined);
    await pool.end();
  }
}, 120_000);

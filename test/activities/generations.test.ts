import fs from 'node:fs';
import path from 'node:path';
import { createBackupActivities } from '../../activities/backup';
import { generateDemoDossiers } from '../../registry/demo';
import { verifyArchive } from '../../archive/engine';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { createTestStack, type TestStack } from '../helpers/env';

/** Generations on disk and in the ledger (R-BK-11, R-BK-6): each backup keeps a file of its own; B{code}.SVG is the newest. */

let stack: TestStack;
let backup: ReturnType<typeof createBackupActivities>;

beforeAll(async () => {
  stack = await createTestStack();
  backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  await generateDemoDossiers(stack.pools.get('main'), { target: 'main', count: 2, sizeKb: 20, prefix: 'GEN' });
});
afterAll(async () => {
  await stack.close();
});

test('R-BK-11: two backups of a dossier are two generations; the seed name is the newest, the older one stays readable', async () => {
  const first = await backup.backupDossier({ target: 'main', code: 'GEN0001', reason: 'manual' });
  const second = await backup.backupDossier({ target: 'main', code: 'GEN0001', reason: 'manual' });
  expect(first.generationId).toBeDefined();
  expect(second.generationId).toBeGreaterThan(first.generationId!);

  const gens = await dossierGenerations(stack.pools.get('main'), 'GEN0001');
  expect(gens.map((g) => g.id)).toEqual([second.generationId, first.generationId]);
  const [newest, older] = gens;
  // one inode for the newest generation and the seed's name: keeping generations costs nothing for the latest
  expect(fs.statSync(newest!.file).ino).toBe(fs.statSync(second.file).ino);
  expect(newest!.links).toEqual([second.file]);
  expect(older!.file).not.toBe(newest!.file);
  expect(path.dirname(older!.file)).toBe(path.join(path.dirname(second.file), 'generations', 'GEN0001'));
  expect(path.basename(older!.file)).toMatch(/^BGEN0001\.\d{8}T\d{6}Z\.[0-9a-f]{6}\.SVG$/);
  for (const g of gens) {
    expect(fs.statSync(g.file).mode & 0o777).toBe(0o600);
    expect(g).toMatchObject({ kind: 'normal', reason: 'manual', runId: null, verifyState: 'unverified', offsiteState: 'none', deletedAt: null });
    expect(g.size).toBe(fs.statSync(g.file).size);
    expect(g.tables).toBeGreaterThan(0);
  }
  const check = await verifyArchive(older!.file);
  expect(check.code).toBe('GEN0001');
  // nothing left behind: no temporary file next to either name
  const leftovers = [path.dirname(second.file), path.dirname(older!.file)].flatMap((d) => fs.readdirSync(d)).filter((f) => f.endsWith('.tmp'));
  expect(leftovers).toEqual([]);
});

test('R-BK-11 / R-BK-5: an event backup is a generation of its own folder kind', async () => {
  const r = await backup.backupDossier({ target: 'main', code: 'GEN0002', reason: 'cloture' });
  const [g] = await dossierGenerations(stack.pools.get('main'), 'GEN0002');
  expect(g).toMatchObject({ id: r.generationId, kind: 'Cloture', reason: 'cloture' });
  expect(g!.file.startsWith(path.join(path.dirname(r.file), 'generations', 'GEN0002') + path.sep)).toBe(true);
});

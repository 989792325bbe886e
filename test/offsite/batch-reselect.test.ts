import fs from 'node:fs';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { type BackupBatchInput } from '../../workflows/backup-batch.api';
import { createTestWorker } from '../helpers/env';
import { runBatch, useOffsiteStack } from './offsite-stack';
import { createDossiers, ledger, modify } from '../workflows/backup-batch-helpers';

/**
 * R-BK-14, R-BK-4: a dossier written locally whose off-site copy failed is selected again the next night even
 * though unmodified, taken first (the priority phase), and its archive of that night copied (not a new one);
 * on real servers: the Temporal dev server, PostgreSQL, versitygw stopped and started again.
 */

const off = useOffsiteStack('reselect/', { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');

const batch = (input: Partial<BackupBatchInput> = {}) => runBatch(off, input);

const selected = async (runId: number) => (await pool().query<{ selected: number }>('SELECT selected FROM nightshift.backup_run WHERE id = $1', [runId])).rows[0]!.selected;

test('R-BK-14, R-BK-4: copies that failed while S3 was down are made the next night: those dossiers taken first even unmodified, their archive copied (a new one if modified since), counted once', async () => {
  // M0 sorts before the others: taken first only if the priority phase takes the P dossiers
  const codes = ['M0', 'P1', 'P2', 'Q1'];
  await createDossiers(off.stack, codes.map((code) => ({ code })));
  const w = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await w.runUntil(async () => {
    const first = await batch();
    expect(first).toMatchObject({ state: 'completed', ok: 4 });

    // night 2, the storage away: P1 and P2 are written locally, their copies fail
    await modify(pool(), 'P1');
    await modify(pool(), 'P2');
    await off.s3.kill();
    const away = await batch();
    expect(away).toMatchObject({ state: 'partial', total: 2, ok: 0, failed: 2 });
    const written = new Map<string, number>();
    for (const code of ['P1', 'P2']) {
      const [g] = await dossierGenerations(pool(), code);
      expect(g).toMatchObject({ runId: away.runId, offsiteState: 'failed' });
      expect(fs.existsSync(g!.file)).toBe(true);
      written.set(code, g!.id);
    }

    // a run of one dossier in between: its ledger knows nothing of P1 and P2 (the next night's "previous run")
    await modify(pool(), 'Q1');
    const only = await batch({ only: ['Q1'] });
    expect(only).toMatchObject({ total: 1, failed: 1 });

    // night 3, the storage back: P1, P2 (unmodified since night 2) first, then the modified M0
    await off.s3.restart();
    await modify(pool(), 'M0');
    // P2 changed since its copy failed: its archive of night 2 is no longer current, it is backed up anew
    await modify(pool(), 'P2');
    const next = await batch();
    expect(next).toMatchObject({ state: 'completed', total: 4, ok: 4, failed: 0 });
    expect(await selected(next.runId)).toBe(4);
    const items = await ledger(pool(), next.runId);
    // Q1 failed in the previous run (the only one): priority too; M0 last though first by code
    expect(items.map((i) => [i.code, i.status])).toEqual([['P1', 'ok'], ['P2', 'ok'], ['Q1', 'ok'], ['M0', 'ok']]);
    // P1: the archive of night 2 is the one copied: no new generation, one object more
    const p1 = await dossierGenerations(pool(), 'P1');
    expect(p1).toHaveLength(2);
    expect(p1[0]).toMatchObject({ id: written.get('P1'), runId: away.runId, offsiteState: 'copied', offsiteError: null });
    expect(await off.store.checkObject(p1[0]!.offsiteKey!, { size: p1[0]!.size, sha256: p1[0]!.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await off.store.listDossier('main', 'P1')).toHaveLength(2);
    // P2: a new archive, copied; night 2's, no longer the newest but still kept, copied too (migration 0019)
    const p2 = await dossierGenerations(pool(), 'P2');
    expect(p2.map((g) => [g.runId, g.offsiteState])).toEqual([[next.runId, 'copied'], [away.runId, 'copied'], [first.runId, 'copied']]);
    expect(await off.store.listDossier('main', 'P2')).toHaveLength(3);
    // Q1's copy failed in the run of one (the storage still away): that archive is copied too; M0 is backed up anew
    expect((await dossierGenerations(pool(), 'Q1'))[0]).toMatchObject({ runId: only.runId, offsiteState: 'copied' });
    expect((await dossierGenerations(pool(), 'M0'))[0]).toMatchObject({ runId: next.runId, offsiteState: 'copied' });

    // nothing left: the next night takes nothing
    const quiet = await batch();
    expect(quiet).toMatchObject({ state: 'completed', total: 0 });
  });
});

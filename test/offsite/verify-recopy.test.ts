import fs from 'node:fs';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { markVerifyMail } from '../../store/verify/mark-mail';
import { createTestWorker } from '../helpers/env';
import { batchAndFollowUps, useOffsiteStack, verifyCodes } from './offsite-stack';
import { createDossiers, ledger, modify } from '../workflows/backup-batch-helpers';

/**
 * R-BK-13, R-BK-14, R-BK-4: a verification that finds a generation's off-site object gone records its copy failed,
 * so the dossier is back in the pending set and the next batch copies that archive first; the verification after
 * is clean. On real servers: the Temporal dev server, PostgreSQL, versitygw.
 */

const off = useOffsiteStack('verify-recopy/', { keepEveryGeneration: true });
const pool = () => off.stack.pools.get('main');

const batch = () => batchAndFollowUps(off);
const verify = (codes: string[]) => verifyCodes(off, codes);

const pending = async () => (await pool().query<{ code: string; generation_id: string }>('SELECT code, generation_id FROM nightshift.backup_offsite_pending ORDER BY code')).rows;

test('R-BK-13, R-BK-14: an off-site object deleted by hand: the verification reports it and records the copy failed; the next batch copies it first (no new generation); the verification after is clean', async () => {
  // A0 sorts first: it is taken first only by the priority phase, so R1 before it proves the reselection
  const codes = ['A0', 'R1', 'R2'];
  await createDossiers(off.stack, codes.map((code) => ({ code })));
  const worker = await createTestWorker(off.stack, off.temporal.nativeConnection);
  await worker.runUntil(async () => {
    expect(await batch()).toMatchObject({ state: 'completed', ok: 3 });
    expect(await pending()).toEqual([]);
    const [lost] = await dossierGenerations(pool(), 'R1');
    expect(lost).toMatchObject({ offsiteState: 'copied' });

    // the object goes behind Nightshift's back (a lifecycle rule, an operator, a storage fault)
    await off.store.deleteObject(lost!.offsiteKey!);
    const found = await verify(codes);
    expect(found).toMatchObject({ state: 'problems', total: 3, ok: 2, problems: 1 });
    expect(found.failures.map((f) => f.code)).toEqual(['R1']);
    // what is shown first (the details cut it), then the whole finding in the ledger and the report
    expect(found.failures[0]!.error).toContain(': copie à refaire, la prochaine sauvegarde la recopie en premier; copie externe');
    const item = (await pool().query<{ status: string; error: string }>('SELECT status, error FROM nightshift.verify_run_item WHERE run_id = $1 AND code = $2', [found.runId, 'R1'])).rows;
    expect(item).toEqual([{ status: 'offsite', error: `copie à refaire, la prochaine sauvegarde la recopie en premier; copie externe ${lost!.offsiteBucket}/${lost!.offsiteKey} : no object ${lost!.offsiteKey} in bucket ${lost!.offsiteBucket}` }]);
    const marked = (await dossierGenerations(pool(), 'R1'))[0]!;
    // the local archive is fine; its copy is not done any more, and the dossier waits for it
    expect(marked).toMatchObject({ id: lost!.id, verifyState: 'ok', offsiteState: 'failed', offsiteKey: lost!.offsiteKey, offsiteError: expect.stringMatching(/^off-site copy missing or different: \(verify run \d+\) copie externe \S+ : no object/) as string });
    expect(await pending()).toEqual([{ code: 'R1', generation_id: String(lost!.id) }]);
    // the next step says the copy is to make again, not the backup (drill R, session 39: "back up these dossiers again")
    expect(found.nextSteps).toEqual([
      {
        text:
          'the local archives read back whole, but their off-site copies are gone or differ from what was written: recorded to copy again, ' +
          'the next batch copies them first (no new backup is taken for that); the command does it now',
        command: 'nightshift backup run --all --only R1 --target main',
      },
    ]);

    // R-BK-14 (tester, 2026-12-08): verified again before the copy is made again, it is still the problem (no longer
    // "2 / 2 ok", exit 0), told once (the first run's mail carried it: this stack sets no recipients, so it is taken as sent)
    await markVerifyMail(pool(), found.runId, 'sent');
    const still = await verify(['R1']);
    expect(still).toMatchObject({ state: 'problems', total: 1, ok: 0, problems: 1, mail: false });
    const stillItem = (await pool().query<{ status: string; error: string }>('SELECT status, error FROM nightshift.verify_run_item WHERE run_id = $1', [still.runId])).rows;
    expect(stillItem).toEqual([
      { status: 'offsite', error: expect.stringMatching(new RegExp(`^\\(signalé déjà\\) copie à refaire, la prochaine sauvegarde la recopie en premier; \\(verify run ${found.runId}\\) copie externe \\S+ : no object`)) as string },
    ]);
    expect(fs.readFileSync(still.reportPath!, 'utf8')).toContain(': Copie externe (S3) absente ou différente. (signalé déjà) copie à refaire');
    expect(still.nextSteps).toEqual(found.nextSteps);
    // nothing changed: the copy stays recorded lost, the dossier waits for it
    expect((await dossierGenerations(pool(), 'R1'))[0]).toMatchObject({ offsiteState: 'failed', offsiteError: marked.offsiteError });
    expect(await pending()).toEqual([{ code: 'R1', generation_id: String(lost!.id) }]);

    // the next night: R1 unmodified, taken first and its archive copied again; A0 modified, after it
    await modify(pool(), 'A0');
    const next = await batch();
    expect(next).toMatchObject({ state: 'completed', total: 2, ok: 2, failed: 0 });
    expect((await ledger(pool(), next.runId)).map((i) => [i.code, i.status])).toEqual([
      ['R1', 'ok'],
      ['A0', 'ok'],
    ]);
    const r1 = await dossierGenerations(pool(), 'R1');
    expect(r1).toHaveLength(1);
    expect(r1[0]).toMatchObject({ id: lost!.id, offsiteState: 'copied', offsiteKey: lost!.offsiteKey, offsiteError: null });
    expect(await off.store.checkObject(lost!.offsiteKey!, { size: lost!.size, sha256: lost!.sha256! }, { readBack: true })).toMatchObject({ status: 'ok' });
    expect(await pending()).toEqual([]);

    const clean = await verify(codes);
    expect(clean).toMatchObject({ state: 'completed', total: 4, ok: 4, problems: 0 });
    // and the night after takes nothing
    expect(await batch()).toMatchObject({ state: 'completed', total: 0 });
  });
});

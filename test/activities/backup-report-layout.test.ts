import fs from 'node:fs';
import { createBackupBatchActivities } from '../../activities/backup-batch';
import { reportStopReason } from '../../domain/backup-batch';
import { FailureType, failureTypeOf } from '../../domain/failures';
import { claimSharedFolder } from '../../shared-store/marker';
import { reportPage } from '../../store/backup/report-page';
import type { Queryable } from '../../store/queryable';
import { createMailTransport } from '../../workers/resources';
import { createTestStack, type TestStack } from '../helpers/env';
import { createDossiers, freePort, setCommon, startSmtp } from '../workflows/backup-batch-helpers';

/**
 * R-BK-7 as an operator reads it in the morning (seed 003's example: 8215156, 8219370, 8219748, PRESSE, TVA, ZBASASS):
 * one line per dossier in code order, whatever order the dossiers ended in; a run stopped by the worker's own English
 * line says it in French, in the dossiers' lines, the line before the summary and the mail (R-BK-8), while the ledger
 * keeps the worker's line (`backup status` and the Web UI are English). The paging stays a keyset over the ledger's
 * primary key at 100,000 dossiers.
 */

let stack: TestStack;
let smtpPort: number;
const pool = () => stack.pools.get('main');
const rejection = (p: Promise<unknown>) => p.then(() => undefined, (e: Error) => e);
const SEED_CODES = ['8215156', '8219370', '8219748', 'PRESSE', 'TVA', 'ZBASASS'];

beforeAll(async () => {
  smtpPort = await freePort();
  stack = await createTestStack({ NIGHTSHIFT_SMTP_PORT: String(smtpPort), NIGHTSHIFT_APP_NAME: 'Isacompta' });
  await createDossiers(stack, SEED_CODES.map((code) => ({ code })));
  fs.mkdirSync(stack.config.backupDir, { recursive: true });
  expect(await claimSharedFolder(pool(), 'backups', stack.config.backupDir)).toMatchObject({ state: 'ok' });
});
afterAll(async () => {
  await stack.close();
});

test('R-BK-7, R-BK-8: dossiers in code order, not in the order they ended; the store refusal that stopped the run said in French in the report and the mail', async () => {
  const smtp = await startSmtp(smtpPort);
  const mail = createMailTransport(stack.config);
  await setCommon(pool(), 'report-recipients', ['ops@example.com']);
  const away = `${stack.config.backupDir}.away`;
  try {
    const batch = createBackupBatchActivities({ config: stack.config, pools: stack.pools, mail });
    const claim = await batch.claimBackupRun({ target: 'main', workflowId: 'backup/main/layout' });
    expect(claim.selected).toBe(6);
    const chunk = { target: 'main', runId: claim.runId, settings: claim.settings, concurrency: 1, timeBudgetMs: 60_000 };
    // one lane: these three end in this order, the reverse of their codes'
    const first = await batch.backupChunk({ ...chunk, codes: ['ZBASASS', 'TVA', '8219748'] });
    expect(first).toMatchObject({ ok: 3, failed: 0 });
    // then the share goes away: the next chunk stops the run with the worker's line, its dossier and the rest not done
    fs.renameSync(stack.config.backupDir, away);
    const stopped = await rejection(batch.backupChunk({ ...chunk, codes: ['PRESSE'] }));
    expect(failureTypeOf(stopped)).toBe(FailureType.DestinationUnavailable);
    const finish = await batch.finishBackupRun({ target: 'main', runId: claim.runId, endedEarly: true });
    expect(finish).toMatchObject({ state: 'failed', total: 6, ok: 3, failed: 3, mail: true });

    // the ledger keeps the worker's own line: the report and the mail say it in French
    const { rows } = await pool().query<{ stop_reason: string }>('SELECT stop_reason FROM nightshift.backup_run WHERE id = $1', [claim.runId]);
    const english = rows[0]!.stop_reason;
    expect(english).toMatch(/^this worker's backup folder .* is not the shared store of target main \(folder missing\): mount the shared folder there/);
    const french = reportStopReason(english);
    expect(french).toMatch(/^La sauvegarde a été arrêtée : le dossier de sauvegarde .* n'est pas, sur ce serveur, le stockage partagé de la cible main \(dossier absent\)\. /);

    const report = fs.readFileSync(finish.reportPath!, 'utf8');
    expect(report).toBe(
      [
        `Dossier 8215156 : Non traité. ${french}`,
        `Dossier 8219370 : Non traité. ${french}`,
        'Dossier 8219748 : Traitement réussi',
        `Dossier PRESSE : Non traité. ${french}`,
        'Dossier TVA : Traitement réussi',
        'Dossier ZBASASS : Traitement réussi',
        `3 / 6 dossier(s) non traité(s), comptés en erreur : ${french}`,
        '3 / 6 dossier(s) traité(s)',
        '3 / 6 dossier(s) en erreur(s)',
        '',
      ].join('\r\n'),
    );
    expect(report).not.toMatch(/worker|shared store|mount the/);

    await batch.mailBackupReport({ target: 'main', runId: claim.runId });
    const sent = smtp.received[0]!;
    expect(sent.text).toContain(french);
    expect(sent.text).not.toContain('shared store');
  } finally {
    if (fs.existsSync(away)) {
      fs.rmSync(stack.config.backupDir, { recursive: true, force: true });
      fs.renameSync(away, stack.config.backupDir);
    }
    mail.close();
    await smtp.close();
  }
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows': number;
  Plans?: PlanNode[];
}
const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

test('R-BK-7 at 100,000 dossiers: the report pages in code order over the ledger\'s primary key, 2000 rows a page, nothing sorted', async () => {
  const db = pool();
  const { rows: run } = await db.query<{ id: string }>(
    `INSERT INTO nightshift.backup_run (workflow_id, kind, state, settings) VALUES ('backup/main/big', 'run', 'completed', '{}') RETURNING id`,
  );
  const runId = run[0]!.id;
  // ended in an order unrelated to their codes (a permutation of the codes by a multiplier prime to 100,000)
  await db.query(
    `INSERT INTO nightshift.backup_run_item (run_id, code, status, attempts, duration_ms)
     SELECT $1, 'D' || lpad(((i * 7919) % 100000)::text, 6, '0'), CASE WHEN i % 97 = 0 THEN 'failed' ELSE 'ok' END, 1, 1 FROM generate_series(0, 99999) i`,
    [runId],
  );
  await db.query('ANALYZE nightshift.backup_run_item');

  let after = '';
  let pages = 0;
  let count = 0;
  let previous = '';
  for (;;) {
    const page = await reportPage(db, runId, after);
    if (!page.length) break;
    pages++;
    for (const r of page) {
      expect(r.code > previous).toBe(true);
      previous = r.code;
    }
    count += page.length;
    after = page[page.length - 1]!.after;
  }
  expect({ pages, count, last: previous }).toEqual({ pages: 50, count: 100_000, last: 'D099999' });

  // a page in the middle of the run: an index scan of the primary key that stops after its 2000 rows, no sort
  let plan: PlanNode | undefined;
  const explaining = {
    query: async (sql: string, values: unknown[]) => {
      const { rows: r } = await db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, values);
      plan = r[0]!['QUERY PLAN'][0].Plan;
      return { rows: [], rowCount: 0 };
    },
  } as unknown as Queryable;
  await reportPage(explaining, runId, 'D050000');
  const all = nodes(plan!);
  expect(all.map((n) => n['Node Type'])).not.toContain('Sort');
  expect(all.map((n) => n['Node Type'])).not.toContain('Seq Scan');
  const scan = all.find((n) => n['Node Type'] === 'Index Scan');
  expect(scan).toMatchObject({ 'Index Name': 'backup_run_item_pkey', 'Actual Rows': 2000 });
}, 120_000);

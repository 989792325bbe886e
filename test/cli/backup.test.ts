import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createRegistryActivities } from '../../activities/registry';
import { generateDemoDossiers } from '../../registry/demo';
import { backupDossierWorkflowId } from '../../workflows/backup-dossier.api';
import { createTestWorker, tempDir } from '../helpers/env';
import { useCliStack } from '../helpers/cli';

/** `nightshift backup dossier|restore` spawned as a process against the dev server, a worker in this process (R-BK-5). */

const ctx = useCliStack(60_000);
const cli = ctx.cli;




test('backup dossier --wait, restore --verify-only, restore --as --wait: the round trip end to end', async () => {
  const [code] = (await generateDemoDossiers(ctx.stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 20, prefix: 'CLI', documentsDir: ctx.stack.config.documentsDir })) as [string];
  const registry = createRegistryActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const b = await cli(['backup', 'dossier', code, '--reason', 'echange-prestataire', '--documents', '--wait', '--json']);
    expect(b).toMatchObject({ code: 0, stderr: '' });
    const backedUp = JSON.parse(b.stdout);
    expect(backedUp.workflowId).toBe(backupDossierWorkflowId('main', code));
    expect(backedUp.url).toMatch(new RegExp(`^http://localhost:${ctx.stack.config.temporal.uiPort}/namespaces/default/workflows/backup-dossier%2Fmain%2F${code}/`));
    expect(backedUp.result.file).toBe(path.join(ctx.stack.config.backupDir, 'EchangePrest', `B${code}.SVG`));
    expect(backedUp.result.documents).toBeGreaterThan(0);

    const v = await cli(['backup', 'restore', backedUp.result.file, '--verify-only', '--json']);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ code, documents: backedUp.result.documents });

    const r = await cli(['backup', 'restore', backedUp.result.file, '--as', `${code}X`, '--wait']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`restored dossier ${code}X: 5 tables`));
    expect(await registry.tableStats('main', `${code}X`)).toEqual(await registry.tableStats('main', code));

    // restoring over the existing dossier without --replace is refused (exit 1, the failure type named)
    const again = await cli(['backup', 'restore', backedUp.result.file, '--wait']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/DossierExists/);
  });
});

test('bad input exits 2 and starts nothing; a damaged archive fails verify-only with ArchiveInvalid', async () => {
  for (const args of [
    ['backup', 'dossier', '../etc'],
    ['backup', 'dossier', 'OK', '--reason', 'whenever'],
    ['backup', 'restore', '/nonexistent/BX.SVG', '--as', 'a b'],
  ]) {
    const r = await cli(args);
    expect({ args, code: r.code }).toEqual({ args, code: 2 });
    expect(r.stderr).not.toMatch(/\n\s+at /); // no ctx.stack trace without --debug
  }
  await expect(ctx.temporal.client.workflow.getHandle(backupDossierWorkflowId('main', 'OK')).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  const bad = path.join(tempDir('cli'), 'BBAD.SVG');
  fs.writeFileSync(bad, 'NIGHTSHIFT-SVG 1 gzip\nnot compressed at all');
  const v = await cli(['backup', 'restore', bad, '--verify-only']);
  expect(v.code).toBe(1);
  expect(v.stderr).toMatch(/ArchiveInvalid: invalid archive/);
});

test('a second start while a backup of the same dossier runs is a clear error naming the running workflow', async () => {
  // no worker polls this queue: the first run stays open
  const id = backupDossierWorkflowId('main', 'BUSY');
  const first = await ctx.temporal.client.workflow.start('backupDossierWorkflow', {
    taskQueue: ctx.stack.config.temporal.taskQueue,
    workflowId: id,
    args: [{ target: 'main', code: 'BUSY', reason: 'manual' }],
  });
  try {
    const r = await cli(['backup', 'dossier', 'BUSY']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${id} is already running`);
    expect(r.stderr).toContain(first.firstExecutionRunId);
  } finally {
    await first.terminate('test over');
  }
});

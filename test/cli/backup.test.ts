import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createRegistryActivities } from '../../activities/registry';
import { generateDemoDossiers } from '../../registry/demo';
import { backupDossierWorkflowId, restoreDossierWorkflowId } from '../../workflows/backup-dossier.api';
import { startBackupDossier } from '../../starts';
import { createTestWorker, tempDir } from '../helpers/env';
import { openSession } from '../workflows/backup-batch-helpers';
import { DOSSIER_IN_USE_MESSAGE } from '../../domain/failures';
import { runCli, stackCliEnv, useCliStack } from '../helpers/cli';
import { freePort } from '../helpers/net';

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
    // the text: times in the operator's zone, the snapshot's UTC instant beside it (drill R, session 39: UTC alone)
    const text = await cli(['backup', 'restore', backedUp.result.file, '--verify-only'], { TZ: 'Europe/Paris', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' });
    const snapshot = JSON.parse(v.stdout).snapshotAt as string;
    const TIME = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d';
    expect(text.stdout).toMatch(new RegExp(`\nsnapshot ${TIME} \\(Europe/Paris; ${snapshot.replace(/[.]/g, '\\.')}\\), written ${TIME}, brotli, `));

    const r = await cli(['backup', 'restore', backedUp.result.file, '--as', `${code}X`, '--wait']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`restored dossier ${code}X: 5 tables`));
    expect(await registry.tableStats('main', `${code}X`)).toEqual(await registry.tableStats('main', code));

    // restoring over the existing dossier without --replace is refused before anything starts (exit 2)
    const again = await cli(['backup', 'restore', backedUp.result.file, '--wait']);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`nightshift: dossier ${code} already exists: restore beside it with --as NEWCODE, or over it with --replace\n`);
    await expect(ctx.temporal.client.workflow.getHandle(restoreDossierWorkflowId('main', code)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  });
});

test('a failure after the workflow started exits 1 whatever its type; a reader that closes stdout at once changes neither the outcome nor the exit code', async () => {
  const [code] = (await generateDemoDossiers(ctx.stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 5, prefix: 'CLIP' })) as [string];
  const closedStdout = (args: string[]) => runCli(args, stackCliEnv(ctx.stack), 60_000, { closedStdout: true });
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    // the worker finds no file (InvalidInput), but a workflow was started: not "bad usage (nothing started)"
    const missing = await cli(['backup', 'restore', '/nonexistent/BN1.SVG', '--as', 'N1', '--wait']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^started restore-dossier\/main\/N1 /);
    expect(missing.stderr).toBe('nightshift: InvalidInput: cannot read archive /nonexistent/BN1.SVG: ENOENT (no such file where the worker reads it)\n');

    // `| head -1`: no unhandled EPIPE, no stack trace; the backup done, exit 0
    const b = await closedStdout(['backup', 'dossier', code, '--wait']);
    expect(b).toMatchObject({ code: 0, stderr: '' });
    expect((await ctx.temporal.client.workflow.getHandle(backupDossierWorkflowId('main', code)).describe()).status.name).toBe('COMPLETED');
    // R-BK-3: a dossier open in a session is refused before a workflow starts, as `backup trigger` refuses it (it said "started")
    const close = await openSession(ctx.stack.pools.get('main'), code);
    const inUse = await cli(['backup', 'dossier', code]);
    expect(inUse).toMatchObject({ code: 1, stdout: '' });
    expect(inUse.stderr).toBe(`nightshift: DossierInUse: dossier ${code} is open in 1 session(s): ${DOSSIER_IN_USE_MESSAGE}; nothing started\n`);
    await close();
    expect(await closedStdout(['backup', 'prune', '--dry-run'])).toMatchObject({ code: 0, stderr: '' });
    const failed = await closedStdout(['backup', 'restore', '/nonexistent/BN2.SVG', '--as', 'N2', '--wait']);
    expect(failed).toMatchObject({ code: 1, stderr: 'nightshift: InvalidInput: cannot read archive /nonexistent/BN2.SVG: ENOENT (no such file where the worker reads it)\n' });
  });
});

test('Temporal unreachable: one line naming the address tried and the variable that sets it', async () => {
  const port = await freePort();
  // a dossier that exists: an unknown code is refused before Temporal is reached
  const [code] = (await generateDemoDossiers(ctx.stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 5, prefix: 'TUNREACH' })) as [string];
  const [remote, local] = await Promise.all([
    cli(['backup', 'dossier', code], { TEMPORAL_ADDRESS: `127.0.0.1:${port}` }),
    cli(['backup', 'dossier', code], { TEMPORAL_ADDRESS: '', NIGHTSHIFT_TEMPORAL_PORT: String(port) }),
  ]);
  for (const [r, variables] of [
    [remote, 'TEMPORAL_ADDRESS'],
    [local, 'NIGHTSHIFT_TEMPORAL_PORT or TEMPORAL_ADDRESS'],
  ] as const) {
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^nightshift: [^\n]+\n$/);
    expect(r.stderr).toContain(`nightshift: cannot connect to Temporal at 127.0.0.1:${port} (set by ${variables}): `);
  }
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
  // a reason that is none of the words: one line naming them (commander's choices printed two)
  expect(await cli(['backup', 'dossier', 'OK', '--reason', 'whenever'])).toMatchObject({ code: 2, stderr: 'nightshift: --reason: expected manual, echange-prestataire or cloture\n' });
  // a code that names no dossier: exit 2 before any start (one in the wrong case named with the one meant)
  const [known] = (await generateDemoDossiers(ctx.stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 5, prefix: 'CASE' })) as [string];
  const lower = await cli(['backup', 'dossier', known.toLowerCase()]);
  expect(lower).toMatchObject({ code: 2, stderr: `nightshift: unknown dossier ${known.toLowerCase()} in target main (codes are case-sensitive: ${known}?); nothing started\n` });
  await expect(ctx.temporal.client.workflow.getHandle(backupDossierWorkflowId('main', known.toLowerCase())).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
  // said before Temporal is reached: with Temporal away, the slip is still the answer (drill X, session 40: "cannot
  // connect to Temporal" came first, after 6 s)
  expect(await cli(['backup', 'dossier', known.toLowerCase()], { TEMPORAL_ADDRESS: '127.0.0.1:1' })).toMatchObject({ code: 2, stderr: lower.stderr });
  // restore without --at: a dossier code is no file (it used to start a restore that failed on ENOENT), a file not there is named
  const noAt = await cli(['backup', 'restore', known, '--as', 'NOATX']);
  expect(noAt).toMatchObject({ code: 2, stderr: `nightshift: ${known} is a dossier, not an archive file here: restore one of its generations with --at DATE (see 'nightshift backup list ${known}'); nothing started\n` });
  const missingFile = path.join(tempDir('cli'), 'BNOPE.SVG');
  expect(await cli(['backup', 'restore', missingFile, '--as', 'NOATY'])).toMatchObject({ code: 2, stderr: `nightshift: no archive file ${missingFile} (its folder ${path.dirname(missingFile)} is here, without it); nothing started\n` });
  // --verify-only reads here, without a database: a dossier code for a file is named as one maybe (drill C: a bare ENOENT)
  const verifyCode = await cli(['backup', 'restore', known, '--verify-only']);
  expect(verifyCode.code).toBe(2);
  expect(verifyCode.stderr).toContain(`; if ${known} is a dossier: verify its generations with 'nightshift backup verify --codes ${known} --wait'`);
  for (const as of ['NOATX', 'NOATY']) await expect(ctx.temporal.client.workflow.getHandle(restoreDossierWorkflowId('main', as)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

  const bad = path.join(tempDir('cli'), 'BBAD.SVG');
  fs.writeFileSync(bad, 'NIGHTSHIFT-SVG 1 gzip\nnot compressed at all');
  const v = await cli(['backup', 'restore', bad, '--verify-only']);
  expect(v.code).toBe(1);
  expect(v.stderr).toMatch(/ArchiveInvalid: invalid archive/);
});

test('a second start while a backup of the same dossier runs is a clear error naming the running workflow', async () => {
  // no worker polls this queue: the first run stays open
  const [busy] = (await generateDemoDossiers(ctx.stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 5, prefix: 'BUSY' })) as [string];
  const id = backupDossierWorkflowId('main', busy);
  const first = await startBackupDossier(ctx.temporal.client, { target: 'main', code: busy, reason: 'manual' }, { taskQueue: ctx.stack.config.temporal.taskQueue });
  expect(first.workflowId).toBe(id);
  try {
    const r = await cli(['backup', 'dossier', busy]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${id} is already running`);
    expect(r.stderr).toContain(first.firstExecutionRunId);
  } finally {
    await first.terminate('test over');
  }
});

test('encrypted archives end to end (issue 13.2): backup --wait, verify-only names the key, restore --as; a wrong or missing key exits 1 with its type; no key in any output', async () => {
  const [code] = (await generateDemoDossiers(ctx.stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 20, prefix: 'CLIE', documentsDir: ctx.stack.config.documentsDir })) as [string];
  const dir = tempDir('clikeys');
  const key = crypto.randomBytes(32).toString('base64');
  const wrongKey = crypto.randomBytes(32).toString('base64');
  const keysFile = path.join(dir, 'keys');
  const wrongFile = path.join(dir, 'wrong');
  fs.writeFileSync(keysFile, `cli1=${key}\n`, { mode: 0o600 });
  fs.writeFileSync(wrongFile, `cli1=${wrongKey}\n`, { mode: 0o600 });
  const backupKeys = { file: keysFile, fileGiven: true };
  const registry = createRegistryActivities({ config: ctx.stack.config, pools: ctx.stack.pools });
  const worker = await createTestWorker({ ...ctx.stack, config: { ...ctx.stack.config, backupKeys } }, ctx.temporal.nativeConnection);
  const outputs: string[] = [];
  const run = async (args: string[], env: Record<string, string>) => {
    const r = await cli(args, env);
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const withKey = { NIGHTSHIFT_BACKUP_KEYS_FILE: keysFile };
  await worker.runUntil(async () => {
    const b = await run(['backup', 'dossier', code, '--wait', '--json'], withKey);
    expect(b).toMatchObject({ code: 0, stderr: '' });
    const file = JSON.parse(b.stdout).result.file as string;
    expect(fs.readFileSync(file, 'latin1').split('\n')[0]).toMatch(/^NIGHTSHIFT-SVG 1 brotli aes-256-gcm key=cli1 /);

    const v = await run(['backup', 'restore', file, '--verify-only'], withKey);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/brotli, encrypted with key cli1\n/);
    const r = await run(['backup', 'restore', file, '--as', `${code}E`, '--wait'], withKey);
    expect(r.code).toBe(0);
    expect(await registry.tableStats('main', `${code}E`)).toEqual(await registry.tableStats('main', code));

    const wrong = await run(['backup', 'restore', file, '--verify-only', '--debug'], { NIGHTSHIFT_BACKUP_KEYS_FILE: wrongFile });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/BackupKeyWrong: .* was not encrypted with the key given as cli1/);
    const missing = await run(['backup', 'restore', file, '--verify-only'], {});
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/BackupKeyMissing: .* is encrypted with backup key cli1, and no backup key is given/);
    // restore without --as reads the code from the archive: the key is needed there too
    const noKey = await run(['backup', 'restore', file], { NIGHTSHIFT_BACKUP_KEYS: `other=${wrongKey}` });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/BackupKeyMissing: .* the keys given are other/);
  });
  const all = outputs.join('\n');
  for (const k of [key, wrongKey]) {
    expect(all).not.toContain(k);
    expect(all).not.toContain(Buffer.from(k, 'base64').toString('hex'));
  }
});

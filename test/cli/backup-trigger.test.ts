import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { DOSSIER_IN_USE_MESSAGE } from '../../domain/failures';
import { BACKUP_EVENTS, backupTriggerWorkflowId } from '../../workflows/backup-dossier.api';
import { createTestWorker } from '../helpers/env';
import { useCliStack } from '../helpers/cli';
import { createDossiers, openSession, setCommon } from '../workflows/backup-batch-helpers';

/** `nightshift backup trigger CODE --event E`: the gate's R-BK-9 trigger without HTTP, spawned as a process. */

const ctx = useCliStack(90_000);
const cli = ctx.cli;

const tag = crypto.randomBytes(3).toString('hex').toUpperCase();
const code = (name: string) => `CT${tag}${name}`;
const pool = () => ctx.stack.pools.get('main');



async function noBackupStarted(dossier: string): Promise<void> {
  for (const event of BACKUP_EVENTS) {
    const exists = await ctx.temporal.client.workflow
      .getHandle(backupTriggerWorkflowId('main', dossier, event))
      .describe()
      .then(() => true, (err: unknown) => (err instanceof WorkflowNotFoundError ? false : Promise.reject(err)));
    expect({ event, exists }).toEqual({ event, exists: false });
  }
}

test('R-BK-9 R-BK-5: trigger --event provider-exchange|closing --wait writes EchangePrest/ and Cloture/; exit follows on-exit', async () => {
  const d = code('A');
  await createDossiers(ctx.stack, [{ code: d }]);
  const worker = await createTestWorker(ctx.stack, ctx.temporal.nativeConnection);
  await worker.runUntil(async () => {
    const exchange = await cli(['backup', 'trigger', d, '--event', 'provider-exchange', '--wait', '--json']);
    expect(exchange).toMatchObject({ code: 0, stderr: '' });
    const e = JSON.parse(exchange.stdout);
    expect(e).toMatchObject({ triggered: true, event: 'provider-exchange', folder: 'EchangePrest', alreadyRunning: false, workflowId: backupTriggerWorkflowId('main', d, 'provider-exchange') });
    expect(e.result.file).toBe(path.join(ctx.stack.config.backupDir, 'EchangePrest', `B${d}.SVG`));
    expect(fs.statSync(e.result.file).size).toBe(e.result.bytes);

    const closing = await cli(['backup', 'trigger', d, '--event', 'closing', '--wait']);
    expect(closing.code).toBe(0);
    expect(closing.stdout).toContain(`started ${backupTriggerWorkflowId('main', d, 'closing')}`);
    expect(closing.stdout).toContain('into Cloture/ (before-closing = yes, default)');
    expect(closing.stdout).toMatch(new RegExp(`wrote .*Cloture/B${d}\\.SVG`));
    expect(fs.existsSync(path.join(ctx.stack.config.backupDir, 'Cloture', `B${d}.SVG`))).toBe(true);

    // on-exit is never by default: nothing starts, exit 0, the reason printed; the event's word in any case (EXIT), as
    // the other fixed words are read (drill finding: refused)
    for (const word of ['exit', 'EXIT', 'Exit']) {
      const never = await cli(['backup', 'trigger', d, '--event', word]);
      expect({ word, code: never.code, stderr: never.stderr }).toEqual({ word, code: 0, stderr: '' });
      expect(never.stdout).toMatch(/no backup on dossier exit: on-exit is never \(default value/);
    }
    expect(fs.existsSync(path.join(ctx.stack.config.backupDir, `B${d}.SVG`))).toBe(false);

    await setCommon(pool(), 'on-exit', 'always');
    try {
      const always = await cli(['backup', 'trigger', d, '--event', 'exit', '--wait', '--json']);
      expect(always.code).toBe(0);
      expect(JSON.parse(always.stdout)).toMatchObject({ triggered: true, folder: null, setting: { key: 'on-exit', value: 'always', source: 'common' } });
      expect(fs.existsSync(path.join(ctx.stack.config.backupDir, `B${d}.SVG`))).toBe(true);
    } finally {
      await pool().query('DELETE FROM nightshift.backup_setting');
    }
  });
});

test('R-BK-9: a local value (NIGHTSHIFT_BACKUP_BEFORE_CLOSING=no) wins over the common yes and starts nothing', async () => {
  const d = code('B');
  await createDossiers(ctx.stack, [{ code: d }]);
  await setCommon(pool(), 'before-closing', true);
  try {
    const r = await cli(['backup', 'trigger', d, '--event', 'closing', '--json'], { NIGHTSHIFT_BACKUP_BEFORE_CLOSING: 'no' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ triggered: false, reason: 'disabled', setting: { key: 'before-closing', value: false, source: 'local' } });
  } finally {
    await pool().query('DELETE FROM nightshift.backup_setting');
  }
  await noBackupStarted(d);
});

test('R-BK-3: a dossier in use exits 1 with DossierInUse and the seed text; nothing starts', async () => {
  const d = code('C');
  await createDossiers(ctx.stack, [{ code: d }]);
  const close = await openSession(pool(), d);
  try {
    const r = await cli(['backup', 'trigger', d, '--event', 'closing']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DossierInUse');
    expect(r.stderr).toContain(DOSSIER_IN_USE_MESSAGE);
  } finally {
    await close();
  }
  await noBackupStarted(d);
});

test('R-BK-9 bad input exits 2 and starts nothing: unknown or missing event, ../ and NUL codes, 10 KB code, unknown target or dossier', async () => {
  const d = code('D');
  await createDossiers(ctx.stack, [{ code: d }]);
  const results = await Promise.all([
    cli(['backup', 'trigger', d, '--event', 'whenever']),
    cli(['backup', 'trigger', d]),
    cli(['backup', 'trigger', '../etc', '--event', 'closing']),
    cli(['backup', 'trigger', 'A\u0001B', '--event', 'closing']),
    cli(['backup', 'trigger', 'A'.repeat(10 * 1024), '--event', 'closing']),
    cli(['backup', 'trigger', d, '--event', 'closing', '--target', 'nope']),
    cli(['backup', 'trigger', `${d}X`, '--event', 'closing']),
  ]);
  for (const r of results) {
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }
  expect(results[0]!.stderr).toBe('nightshift: --event: expected provider-exchange, closing or exit\n');
  expect(results[1]!.stderr).toMatch(/--event/);
  expect(results[2]!.stderr).toMatch(/CODE: a dossier code has 1-40 letters, digits, "_" or "-" and starts with a letter or a digit/);
  expect(results[4]!.stderr).toMatch(/CODE: a dossier code has at most 40 characters/);
  expect(results[5]!.stderr).toMatch(/nope/);
  expect(results[6]!.stderr).toContain(`unknown dossier "${d}X" in target main`);
  await noBackupStarted(d);
  expect(fs.existsSync(ctx.stack.config.backupDir) ? fs.readdirSync(ctx.stack.config.backupDir, { recursive: true }).filter((f) => String(f).includes(d)) : []).toEqual([]);
});

import { defaultBackupSettings, resolveBackupSettings, type BackupSettings } from '../../domain/backup-batch';
import { backupEventSchema, planBackupTrigger } from '../../domain/backup-trigger';
import { destinationSegments } from '../../domain/backup';

/** R-BK-9 events -> setting -> backup (R-BK-5 folder), as the gate and `backup trigger` decide. */

const resolved = (local: Partial<BackupSettings> = {}, common: Record<string, unknown> = {}) =>
  resolveBackupSettings(local, common, defaultBackupSettings('/data/sauve'));

test('R-BK-9 defaults: before-exchange and before-closing trigger, on-exit never does', () => {
  const r = resolved();
  const exchange = planBackupTrigger('provider-exchange', 'main', 'ACME', r);
  const closing = planBackupTrigger('closing', 'main', 'ACME', r);
  const exit = planBackupTrigger('exit', 'main', 'ACME', r);
  expect(exchange).toMatchObject({ triggered: true, folder: 'EchangePrest', workflowId: 'backup-dossier/main/ACME/provider-exchange', setting: { key: 'before-exchange', value: true, source: 'default' } });
  expect(closing).toMatchObject({ triggered: true, folder: 'Cloture', workflowId: 'backup-dossier/main/ACME/closing', setting: { key: 'before-closing', value: true, source: 'default' } });
  expect(exit).toMatchObject({ triggered: false, reason: 'disabled', setting: { key: 'on-exit', value: 'never', source: 'default' } });
});

test('R-BK-5: each event backs up into its folder with the reason the archive writer knows', () => {
  const r = resolved({}, { 'on-exit': 'always' });
  const today = { year: 2026, month: 12, day: 1 };
  const folders = (['provider-exchange', 'closing', 'exit'] as const).map((e) => {
    const p = planBackupTrigger(e, 'main', 'ACME', r);
    if (!p.triggered) throw new Error(`${e} did not trigger`);
    return destinationSegments(p.input.reason, p.input.dateSubfolder ?? false, today);
  });
  expect(folders).toEqual([['EchangePrest'], ['Cloture'], []]);
});

test('R-BK-9 precedence: local > common > default, and the date sub-folder and documents settings follow into the backup', () => {
  expect(planBackupTrigger('closing', 'main', 'A', resolved({}, { 'before-closing': false }))).toMatchObject({ triggered: false, setting: { value: false, source: 'common' } });
  expect(planBackupTrigger('closing', 'main', 'A', resolved({ 'before-closing': true }, { 'before-closing': false }))).toMatchObject({ triggered: true, setting: { source: 'local' } });
  expect(planBackupTrigger('exit', 'main', 'A', resolved({ 'on-exit': 'never' }, { 'on-exit': 'always' }))).toMatchObject({ triggered: false, setting: { source: 'local' } });
  // an invalid common value is ignored (the default applies)
  expect(planBackupTrigger('exit', 'main', 'A', resolved({}, { 'on-exit': 'sometimes' }))).toMatchObject({ triggered: false, setting: { value: 'never', source: 'default' } });
  const withOptions = planBackupTrigger('provider-exchange', 'main', 'A', resolved({}, { 'date-subfolder': true, documents: true }));
  expect(withOptions).toMatchObject({ triggered: true, input: { target: 'main', code: 'A', reason: 'echange-prestataire', dateSubfolder: true, includeDocuments: true } });
});

test('R-BK-9: the message of a disabled event names the setting, its value and where it comes from', () => {
  const p = planBackupTrigger('provider-exchange', 'main', 'A', resolved({}, { 'before-exchange': false }));
  expect(p.triggered).toBe(false);
  if (!p.triggered) expect(p.message).toBe('no backup before a provider exchange: before-exchange is no (common value of "back up before a provider exchange", R-BK-9)');
});

test('hostile events are refused by the schema without echoing them', () => {
  for (const v of ['', 'CLOSING', 'closing\0', 'x'.repeat(10 * 1024), 'exit ', null, 7, ['exit'], { event: 'exit' }]) {
    const r = backupEventSchema.safeParse(v);
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.message).toBe('expected one of provider-exchange, closing, exit');
  }
  expect(backupEventSchema.parse('exit')).toBe('exit');
});

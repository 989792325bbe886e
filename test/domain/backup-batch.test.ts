import { emailSchema } from '../../domain/maintenance-input';
import {
  nobodyToldText,
  batchAccount,
  batchAccountText,
  notDoneErrorText,
  notDoneReason,
  reportNotDoneLine,
  MAIL_BODY,
  cronProblem,
  defaultBackupSettings,
  firstCursor,
  isTimeZone,
  itemErrorText,
  localDateTime,
  mailSubject,
  nextPhase,
  onlyCodesSchema,
  parseBackupSetting,
  reportFileName,
  reportLine,
  reportSummaryLines,
  resolveBackupSettings,
} from '../../domain/backup-batch';
import { DOSSIER_IN_USE_MESSAGE } from '../../domain/failures';
import { dossierCodeSchema } from '../../domain/dossier';

/** Pure rules of the backup batch: report lines, mail texts, settings precedence, selection order, schedules. */

test('R-BK-7 report lines and summary are the seed lines, byte for byte', () => {
  expect(reportLine('821S156', 'ok', null)).toBe('Dossier 821S156 : Traitement réussi');
  expect(reportLine('PRESSE', 'in_use', DOSSIER_IN_USE_MESSAGE)).toBe(
    'Dossier PRESSE : Echec du traitement. Les données concernées sont utilisées par un utilisateur. Ce ou ces utilisateurs doivent fermer les fenêtres ouvertes.',
  );
  expect(reportSummaryLines(24, 1)).toEqual(['24 / 25 dossier(s) traité(s)', '1 / 25 dossier(s) en erreur(s)']);
  expect(Buffer.from(reportSummaryLines(24, 1)[0], 'utf8').toString('hex')).toContain(Buffer.from('traité(s)', 'utf8').toString('hex'));
  expect(itemErrorText('cannot write\nbackups')).toBe('Echec du traitement. cannot write backups');
  expect(itemErrorText(DOSSIER_IN_USE_MESSAGE)).toBe(DOSSIER_IN_USE_MESSAGE);
});

test('R-BK-7 report name is svgauto-YYYYMMDD-HHMMSS.txt in the local time zone', () => {
  const t = localDateTime(new Date('2016-09-13T20:50:18Z'), 'Europe/Paris');
  expect(reportFileName(t)).toBe('svgauto-20160913-225018.txt');
});

test('R-BK-8 subject and body are the seed texts', () => {
  expect(mailSubject('Isacompta')).toBe('Isacompta: Rapport de la sauvegarde des dossiers modifiés');
  // several targets (drill T): the target follows, the seed's text unchanged before it
  expect(mailSubject('Isacompta', 'lyon')).toBe('Isacompta: Rapport de la sauvegarde des dossiers modifiés (lyon)');
  expect(MAIL_BODY).toBe(
    'Des erreurs sont survenues pendant la sauvegarde des dossiers modifiés. Veuillez trouver ci-joint le rapport de traitement ainsi que la liste des dossiers en erreur',
  );
});

test('R-BK-9 precedence: local wins over common, common over default; bad common values are ignored', () => {
  const defaults = defaultBackupSettings('/data/sauve');
  const { settings, details, ignored } = resolveBackupSettings(
    { documents: true },
    { documents: false, dossiers: 'copies', 'modified-only': 'maybe' },
    defaults,
  );
  expect(settings.documents).toBe(true);
  expect(settings.dossiers).toBe('copies');
  expect(settings['modified-only']).toBe(true);
  expect(settings.folder).toBe('/data/sauve');
  expect(details.find((d) => d.key === 'documents')?.source).toBe('local');
  expect(details.find((d) => d.key === 'dossiers')?.source).toBe('common');
  expect(details.find((d) => d.key === 'folder')?.source).toBe('default');
  expect(ignored.map((i) => i.key)).toEqual(['modified-only']);
  // the seed's defaults
  expect(defaults).toMatchObject({ 'date-subfolder': false, dossiers: 'originals-and-copies', 'modified-only': true, documents: false, 'report-recipients': [], 'on-exit': 'never', 'before-exchange': true, 'before-closing': true });
});

test('settings set values are validated per key', () => {
  expect(parseBackupSetting('report-recipients', 'a@x.fr, b@y.fr')).toEqual({ key: 'report-recipients', value: ['a@x.fr', 'b@y.fr'] });
  // an empty entry is a list cut short: refused as maintenance --notify refuses it, not dropped; a blank value is nobody
  for (const slip of ['a@x.fr,,b@y.fr', 'a@x.fr,', ', a@x.fr', 'a@x.fr; ;b@y.fr']) {
    expect(() => parseBackupSetting('report-recipients', slip)).toThrow("report-recipients: expected e-mail addresses separated by commas, got an empty one (to send to nobody, give '')");
  }
  expect(parseBackupSetting('report-recipients', '')).toEqual({ key: 'report-recipients', value: [] });
  // R-BK-8, drill C: addresses no SMTP server takes (RFC 5321) were stored, and every report mail to them was refused
  expect(() => parseBackupSetting('report-recipients', `${'a'.repeat(100_000)}@x.fr`)).toThrow(/at most 254 characters \(RFC 5321\)/);
  expect(() => parseBackupSetting('report-recipients', `ops@x.fr, ${'a'.repeat(65)}@x.fr`)).toThrow(/at most 64 characters before its @ \(RFC 5321\)/);
  expect(parseBackupSetting('report-recipients', `${'a'.repeat(64)}@x.fr`).value).toEqual([`${'a'.repeat(64)}@x.fr`]);
  expect(emailSchema.safeParse(`${'a'.repeat(65)}@x.fr`).success).toBe(false);
  expect(parseBackupSetting('modified-only', 'non')).toEqual({ key: 'modified-only', value: false });
  // drill X, session 40: each refusal names the value refused; an address given twice is kept once
  expect(() => parseBackupSetting('date-subfolder', 'maybe')).toThrow("date-subfolder: expected yes or no, not 'maybe'");
  expect(() => parseBackupSetting('report-recipients', 'ops@x.fr,bad')).toThrow("report-recipients: expected e-mail addresses separated by commas, not 'bad'");
  expect(parseBackupSetting('report-recipients', 'a@b.fr,a@b.fr; c@d.fr a@B.FR')).toEqual({ key: 'report-recipients', value: ['a@b.fr', 'c@d.fr'] });
  expect(dossierCodeSchema.safeParse('DEMO 0010').error?.issues[0]?.message).toBe(
    `a dossier code has 1-40 letters, digits, "_" or "-" and starts with a letter or a digit, not 'DEMO 0010'`,
  );
  expect(onlyCodesSchema.safeParse('DEMO0005,DEMO 0010, \u001b[2J').error?.issues[0]?.message).toMatch(/, not 'DEMO 0010'$/);
  expect(() => parseBackupSetting('folder', 'relative/path')).toThrow(/absolute/);
  // a trailing separator is the same folder, stored in the one spelling the shared store's is compared with (drill C)
  expect(parseBackupSetting('folder', '/srv/backups/')).toEqual({ key: 'folder', value: '/srv/backups' });
  expect(parseBackupSetting('folder', '/')).toEqual({ key: 'folder', value: '/' });
  expect(() => parseBackupSetting('nope', 'x')).toThrow(/unknown setting/);
  expect(() => parseBackupSetting('dossiers', 'some')).toThrow(/originals-and-copies/);
});

test('R-BK-4 selection order: the last run failures first, then the rest; retries only their failures', () => {
  expect(firstCursor('run', 7)).toEqual({ phase: 'priority', after: '' });
  expect(firstCursor('run', null)).toEqual({ phase: 'rest', after: '' });
  expect(nextPhase('priority')).toEqual({ phase: 'rest', after: '' });
  expect(nextPhase('rest')).toBeUndefined();
  expect(nextPhase('retry')).toBeUndefined();
  expect(onlyCodesSchema.parse('A1, B2,A1')).toEqual(['A1', 'B2']);
  expect(onlyCodesSchema.safeParse("A1,x'; DROP").success).toBe(false);
  // a blank entry is a slip (`--codes $A,$B` with $A empty), said; a list of blanks only is "no code"
  for (const slip of ['A1,,B2', 'A1,', ',A1', 'A1, ,B2']) {
    expect(onlyCodesSchema.safeParse(slip).error?.issues[0]?.message).toBe('expected dossier codes separated by commas, got an empty entry between two commas or at an end');
  }
  expect(onlyCodesSchema.safeParse(' , ').error?.issues[0]?.message).toBe('expected at least one dossier code');
});

test('R-BK-1 schedules: cron expressions and time zones are checked before reaching the server', () => {
  expect(cronProblem('0 21 * * *')).toBeUndefined();
  expect(cronProblem('*/15 8-18 * * MON-FRI')).toBeUndefined();
  expect(cronProblem('0 12 1,15 JAN-DEC 0')).toBeUndefined();
  for (const bad of ['', '0 21 * *', '61 21 * * *', '0 24 * * *', '0 21 0 * *', '0 21 * 13 *', 'a b c d e', '0 21 * * * *', '*/0 * * * *', '5-1 * * * *']) {
    expect(cronProblem(bad)).toBeDefined();
  }
  // a day that never comes is refused (the server takes it and never runs it); one that comes in some month is not
  expect(cronProblem('0 6 31 2 *')).toBe('day of month: "31" never comes in month "2": the schedule would never run');
  expect(cronProblem('0 6 30,31 FEB *')).toMatch(/never comes in month "FEB"/);
  expect(cronProblem('0 6 31 4,6,9,11 *')).toMatch(/never run/);
  for (const good of ['0 6 29 2 *', '0 6 31 * *', '0 6 31 1-3 *', '0 6 31 2 1', '0 6 30 APR *']) expect(cronProblem(good)).toBeUndefined();
  expect(isTimeZone('Europe/Paris')).toBe(true);
  expect(isTimeZone('Mars/Olympus')).toBe(false);
  expect(isTimeZone('')).toBe(false);
});

test('issue 9: a backup folder with a control character is refused when set, and ignored as a common value (R-BK-9)', () => {
  for (const bad of ['/srv/sauve\u001b]0;x\u0007', '/srv/sauve\n/etc', '/srv/sau\u009bve', '/srv/sauve\u007f']) {
    expect(() => parseBackupSetting('folder', bad)).toThrow(/^folder: control characters/);
    const r = resolveBackupSettings({}, { folder: bad }, defaultBackupSettings('/data/sauve'));
    expect(r.settings.folder).toBe('/data/sauve');
    expect(r.ignored).toEqual([{ key: 'folder', problem: expect.stringMatching(/control characters/) }]);
  }
  expect(parseBackupSetting('folder', '/srv/Sauvegardes clients/été')).toEqual({ key: 'folder', value: '/srv/Sauvegardes clients/été' });
});

test('R-BK-8: a run with a problem and no report recipients says nobody was told; with recipients, or no problem, nothing is added', () => {
  expect(nobodyToldText(1, 'none', [])).toMatch(/^none: no report recipients are set, so nobody was told \(R-BK-8; /);
  expect(nobodyToldText(0, 'none', [])).toBeUndefined();
  expect(nobodyToldText(2, 'none', ['ops@example.com'])).toBeUndefined();
  expect(nobodyToldText(2, 'sent', [])).toBeUndefined();
});

test('R-OP-1: one account of a stopped batch: not attempted apart from failed, both not backed up, with why; the report line before the two R-BK-7 lines', () => {
  const a = batchAccount({ ok: 1, in_use: 1, failed: 1, not_done: 3 }, 'BackupKeyMissing: no key', 6);
  expect(a).toEqual({ total: 6, ok: 1, inUse: 1, failed: 1, notDone: 3, notBackedUp: 5, stopReason: 'BackupKeyMissing: no key' });
  expect(batchAccountText(a)).toBe(
    '1 / 6 dossier(s) backed up; 5 not backed up: 1 in use, 1 failed, 3 not attempted (the batch stopped before them: BackupKeyMissing: no key; the next run takes them first)',
  );
  // nothing not attempted: no reason said
  expect(batchAccount({ ok: 2, failed: 1 }, 'ignored')).toMatchObject({ total: 3, notDone: 0, notBackedUp: 1, stopReason: null });
  expect(notDoneReason(notDoneErrorText('plein'))).toBe('plein');
  expect(reportNotDoneLine(3, 3, 'plein')).toBe('3 / 3 dossier(s) non traité(s), comptés en erreur : plein');
});

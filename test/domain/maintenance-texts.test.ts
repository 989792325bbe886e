import {
  announcementText,
  closeOrderText,
  gateStateAt,
  loginsRefusedAt,
  pickLocale,
  refusalText,
  type WindowView,
} from '../../domain/maintenance';
import { describeWindow, maintenanceMailText } from '../../domain/maintenance-text';
import { windowOutcome } from '../../domain/maintenance-details';

const paris = 'Europe/Paris';
// Seed 000's examples: 07/09/2020 13:00-13:45 (database) and 14/09/2020 23:25-23:30 (deployment), Paris time.
const dbStart = new Date('2020-09-07T11:00:00Z');
const dbEnd = new Date('2020-09-07T11:45:00Z');
const depStart = new Date('2020-09-14T21:25:00Z');
const depEnd = new Date('2020-09-14T21:30:00Z');

describe('R-MW-4 / R-MW-6 texts, exactly as seed 000', () => {
  test('R-MW-4 database announcement (French)', () => {
    expect(announcementText('database', dbStart, dbEnd, 'ISACOMPTA CONNECT', 'fr', paris)).toBe(
      'Une phase de maintenance de la base de données aura lieu entre le 07/09/2020 à 13:00 et le 07/09/2020 à 13:45. ISACOMPTA CONNECT sera donc indisponible durant cette période.',
    );
  });
  test('R-MW-4 deployment announcement (French)', () => {
    expect(announcementText('deployment', depStart, depEnd, 'ISAGI CONNECT', 'fr', paris)).toBe(
      'Une nouvelle version sera installée entre le 14/09/2020 à 23:25 et le 14/09/2020 à 23:30. ISAGI CONNECT sera donc suspendu durant cette période.',
    );
  });
  test('R-MW-6 refusals (French)', () => {
    expect(refusalText('database', dbEnd, 'fr', paris)).toBe(
      'Une phase de maintenance de la base de données est actuellement en cours. Le service sera à nouveau disponible le 07/09/2020 à 13:45.',
    );
    expect(refusalText('deployment', depEnd, 'fr', paris)).toBe(
      "Une nouvelle version est en cours d'installation. Le service sera à nouveau disponible le 14/09/2020 à 23:30.",
    );
  });
  test('English texts exist for every type', () => {
    expect(announcementText('database', dbStart, dbEnd, 'App', 'en', paris)).toBe(
      'A database maintenance will take place between 07/09/2020 at 13:00 and 07/09/2020 at 13:45. App will therefore be unavailable during this period.',
    );
    expect(refusalText('deployment', depEnd, 'en', paris)).toBe('A new version is being installed. Service will be available again on 14/09/2020 at 23:30.');
    expect(closeOrderText('en', 'App')).toMatch(/15 seconds/);
    expect(closeOrderText('fr', 'App')).toMatch(/15 secondes/);
  });
  test('R-MW-6, R-MW-10 past the planned end (failed until reopen, overrunning): no time promised, French and English', () => {
    const during = new Date(dbEnd.getTime() - 60_000);
    expect(refusalText('database', dbEnd, 'fr', paris, during)).toMatch(/le 07\/09\/2020 à 13:45\.$/);
    expect(refusalText('database', dbEnd, 'fr', paris, dbEnd)).toBe(
      'Une phase de maintenance de la base de données est actuellement en cours. Le service sera à nouveau disponible dès la fin de la maintenance.',
    );
    const later = new Date(depEnd.getTime() + 3_600_000);
    expect(refusalText('deployment', depEnd, 'fr', paris, later)).toBe(
      "Une nouvelle version est en cours d'installation. Le service sera à nouveau disponible dès la fin de la maintenance.",
    );
    expect(refusalText('database', dbEnd, 'en', paris, later)).toBe('A database maintenance is currently in progress. Service will be available again once the maintenance is over.');
    expect(refusalText('deployment', depEnd, 'en', paris, later)).toBe('A new version is being installed. Service will be available again once the maintenance is over.');
  });
  test('dates follow the time zone and midnight is 00:00', () => {
    expect(refusalText('database', new Date('2020-12-31T23:00:00Z'), 'fr', paris)).toMatch(/le 01\/01\/2021 à 00:00\.$/);
    expect(refusalText('database', new Date('2020-12-31T23:00:00Z'), 'fr', 'UTC')).toMatch(/le 31\/12\/2020 à 23:00\.$/);
  });
});

describe('gate state from the stored window and the clock', () => {
  const w = (over: Partial<WindowView> = {}): WindowView => ({ type: 'database', state: 'scheduled', startsAt: dbStart, endsAt: dbEnd, ...over });
  const before = new Date(dbStart.getTime() - 60_000);
  const during = new Date(dbStart.getTime() + 60_000);

  test('no window: open', () => {
    expect(gateStateAt(undefined, during)).toBe('open');
    expect(loginsRefusedAt(null, during)).toBe(false);
  });
  test('R-MW-4 scheduled and not started: announced, logins accepted', () => {
    expect(gateStateAt(w(), before)).toBe('announced');
    expect(loginsRefusedAt(w(), before)).toBe(false);
  });
  test('R-MW-6 from the start instant: closed, even before the workflow marks it in progress', () => {
    expect(gateStateAt(w(), dbStart)).toBe('closed');
    expect(gateStateAt(w({ state: 'in_progress' }), during)).toBe('closed');
    expect(loginsRefusedAt(w(), dbStart)).toBe(true);
  });
  test('R-MW-10 an in-progress window stays closed past its end until restored', () => {
    expect(gateStateAt(w({ state: 'in_progress' }), new Date(dbEnd.getTime() + 3_600_000))).toBe('closed');
  });
  test('R-MW-12 completed or cancelled windows: open', () => {
    expect(gateStateAt(w({ state: 'completed' }), during)).toBe('open');
    expect(gateStateAt(w({ state: 'cancelled' }), during)).toBe('open');
  });
  test('R-MW-5 early login block: announced, but new logins refused', () => {
    const early = w({ preventLoginsFrom: new Date(dbStart.getTime() - 120_000) });
    expect(gateStateAt(early, before)).toBe('announced');
    expect(loginsRefusedAt(early, before)).toBe(true);
    expect(loginsRefusedAt(early, new Date(dbStart.getTime() - 180_000))).toBe(false);
  });
});

describe('locale from Accept-Language (French by default)', () => {
  test.each([
    [undefined, 'fr'],
    ['', 'fr'],
    ['en-US,en;q=0.9', 'en'],
    ['de-DE, fr;q=0.5, en;q=0.8', 'en'],
    ['de', 'fr'],
    ['en;q=0, fr;q=0.1', 'fr'],
    ['garbage;;;,', 'fr'],
  ])('%p -> %p', (header, locale) => {
    expect(pickLocale(header as string | undefined)).toBe(locale);
  });
});

describe('describeWindow: a window that ended says when, beside its planned times', () => {
  const w = { type: 'database' as const, startsAt: dbStart, endsAt: dbEnd, workflowId: 'maintenance/main' };
  test('scheduled: the planned times only', () => {
    expect(describeWindow({ ...w, state: 'scheduled' }, paris)).toBe('database window scheduled from 07/09/2020 13:00 to 07/09/2020 13:45 (workflow maintenance/main)');
    // said in words, as `maintenance list` says it (not the column's value)
    expect(describeWindow({ ...w, state: 'in_progress' }, paris)).toBe('database window in progress from 07/09/2020 13:00 to 07/09/2020 13:45 (workflow maintenance/main)');
  });
  test('completed early, and cancelled on another day', () => {
    expect(describeWindow({ ...w, state: 'completed', finishedAt: new Date('2020-09-07T11:32:10Z') }, paris)).toBe(
      'database window completed from 07/09/2020 13:00 to 07/09/2020 13:45, ended 13:32 (workflow maintenance/main)',
    );
    expect(describeWindow({ ...w, state: 'cancelled', finishedAt: new Date('2020-09-05T08:00:00Z') }, paris)).toBe(
      'database window cancelled from 07/09/2020 13:00 to 07/09/2020 13:45, ended 05/09/2020 10:00 (workflow maintenance/main)',
    );
  });
});

test('R-MW-10, R-PI-2: the window\'s mail names the runs started by hand in it, with their outcome', () => {
  const mail = { to: [], type: 'database' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const handRuns = [
    { kind: 'backup', workflowId: 'backup/main/20200907T111000Z', state: 'partial', notDone: 2 },
    { kind: 'patch', workflowId: 'patch/main/3', state: 'completed' },
  ];
  const done = maintenanceMailText('main', { ...mail, kind: 'completed', handRuns }, 'APP', paris, new Date('2020-09-07T11:40:00Z'));
  expect(done.text).toContain(
    'Travaux lancés à la main pendant la fenêtre :\n- sauvegarde backup/main/20200907T111000Z : terminé avec des dossiers en erreur (2 dossier(s) non traité(s))\n- intégration des correctifs patch/main/3 : terminé sans erreur\nFenêtre prévue',
  );
  expect(maintenanceMailText('main', { ...mail, kind: 'failed', failure: 'x', handRuns }, 'APP', paris, new Date()).text).toContain('Travaux lancés à la main');
  expect(maintenanceMailText('main', { ...mail, kind: 'completed' }, 'APP', paris, new Date()).text).not.toContain('Travaux lancés');
});

test('R-MW-10: a window failed by its payload\'s dossiers names them in its alert (20 at most, then how many more and where)', () => {
  const mail = { to: [], type: 'database' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const dossiers = Array.from({ length: 25 }, (_, i) => ({ code: `D${String(i + 1).padStart(3, '0')}`, error: 'disk full' }));
  const listCommand = 'nightshift backup status --target main 7';
  const text = maintenanceMailText('main', { ...mail, kind: 'failed', failure: 'backup run 7 partial', failedDossiers: { failed: 30, dossiers, listCommand } }, 'APP', paris, new Date()).text;
  expect(text).toContain('Dossier(s) en erreur (30) :\n- D001 : disk full\n');
  expect(text).toContain('- D020 : disk full\n(et 10 autre(s) : nightshift backup status --target main 7)\n');
  expect(text).not.toContain('D021');
  expect(text.indexOf('en erreur')).toBeLessThan(text.indexOf('reste fermé'));
  expect(maintenanceMailText('main', { ...mail, kind: 'failed', failure: 'x' }, 'APP', paris, new Date()).text).not.toContain('en erreur');
});

// drill M: a window whose patch payload cannot be read ends at its start without closing anything
test('R-MW-12: the mail of a window not started (its patch payload unreadable) says why, and that service was not cut', () => {
  const mail = { to: [], type: 'deployment' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const failure = 'not started, access never cut: the patch payload cannot be read: no patch directory /srv/p on host h1 (mistyped, or not on the shared store this host sees)';
  const { subject, text } = maintenanceMailText('main', { ...mail, kind: 'cancelled', failure, notStarted: true }, 'APP', paris, new Date('2020-09-07T11:00:05Z'));
  expect(subject).toBe('[APP] Maintenance annulée (main)');
  expect(text).toMatch(/^L'installation de la nouvelle version n'a pas commencé : not started, access never cut: the patch payload cannot be read: no patch directory \/srv\/p on host h1 .*\. Le service n'a pas été interrompu ; corrigez, puis planifiez une nouvelle fenêtre\./);
  expect(text).not.toContain('interrompue');
  // a failed window cancelled instead of reopened is not one that did not start
  expect(maintenanceMailText('main', { ...mail, kind: 'cancelled', failure: 'x' }, 'APP', paris, new Date()).text).toMatch(/a été annulée après un échec : x\./);
  // access was never cut: nothing is said of it coming back
  expect(text).not.toContain('à nouveau disponible');
});

// tester A bug 1: the occurrence never cut access, and the other window may hold the target closed
test('R-MW-2: the mail of a refused occurrence of a recurring window says nothing of access coming back', () => {
  const mail = { to: [], type: 'database' as const, startsAt: '2026-12-06T22:30:00Z', endsAt: '2026-12-06T22:31:00Z' };
  const failure = 'target main already has a database window in progress';
  const { subject, text } = maintenanceMailText('main', { ...mail, kind: 'cancelled', failure, refusedOccurrence: 'fast' }, 'APP', paris, new Date('2026-12-06T22:30:00Z'));
  expect(subject).toBe('[APP] Maintenance annulée (main)');
  expect(text).toMatch(/^La maintenance de la base de données prévue par la récurrence fast n'a pas eu lieu : target main already has a database window in progress\. Le service n'a pas été interrompu ; /);
  expect(text).not.toContain('à nouveau disponible');
  expect(text).not.toContain('annulée après un échec');
});

// tester A bug 2: status, list and the Web UI say "cancelled after a failure: post-checks: …": the mail says the same
test('R-MW-12 after R-MW-10: the mail of a failed window then cancelled names the failure and says access came back with it unresolved', () => {
  const mail = { to: [], type: 'database' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const failure = 'post-checks: dossier D001 has no schema (dossier_d001)';
  const none = maintenanceMailText('main', { ...mail, kind: 'cancelled', failure }, 'APP', paris, new Date('2020-09-07T11:10:00Z'));
  expect(none.subject).toBe('[APP] Maintenance annulée après un échec (main)');
  expect(none.text).toMatch(
    /^La maintenance de la base de données a été annulée après un échec : post-checks: dossier D001 has no schema \(dossier_d001\)\. L'accès est rendu sans que cet échec soit résolu : vérifiez ce qu'il touche \(nightshift maintenance status --target main\)\. APP est à nouveau disponible depuis le 07\/09\/2020 à 13:10\.\n/,
  );
  expect(none.text).not.toContain('interrompue');
  const backup = maintenanceMailText('main', { ...mail, kind: 'cancelled', failure, payloadEnded: { kind: 'backup', state: 'completed' } }, 'APP', paris, new Date('2020-09-07T11:10:00Z'));
  expect(backup.text).toMatch(/^La maintenance de la base de données a été annulée après un échec : post-checks: dossier D001 has no schema \(dossier_d001\)\. Le traitement \(sauvegarde\) était allé à son terme \(terminé sans erreur\)\. L'accès est rendu sans que cet échec soit résolu/);
  expect(backup.text).not.toContain("les vérifications de fin n'ont pas été faites");
  // the advice to reopen a failure carries is not repeated once the window is cancelled
  expect(maintenanceMailText('main', { ...mail, kind: 'cancelled', failure: 'backup run 3 partial: 1 of 2 dossier(s) not backed up, then reopen' }, 'APP', paris, new Date()).text).not.toContain('reopen');
});

test('R-MW-10: a window\'s outcome in one line for maintenance list: empty when it went well', () => {
  expect(windowOutcome({ state: 'completed', payloadRun: { kind: 'backup', workflowId: 'b', state: 'completed' } })).toBe('');
  expect(
    windowOutcome({
      state: 'completed',
      reopenedAfter: 'the payload failed\n7 dossier(s)',
      payloadRun: { kind: 'backup', workflowId: 'b', state: 'partial' },
      linkedRuns: [{ kind: 'patch', workflowId: 'p', state: 'failed' }, { kind: 'backup', workflowId: 'c', state: 'completed' }],
      failuresTotal: 7,
    }),
  ).toBe('reopened after: the payload failed 7 dossier(s); payload backup partial; hand-started patch failed');
  expect(windowOutcome({ state: 'completed', payloadRun: { kind: 'patch', workflowId: 'p', state: 'completed' }, rollbackRun: { kind: 'rollback', workflowId: 'r', restored: 2 }, failuresTotal: 2 })).toBe(
    '2 dossier(s) rolled back; 2 failure(s)',
  );
  expect(windowOutcome({ state: 'cancelled', failure: 'post-checks: dossier X has no schema' })).toBe('cancelled after a failure: post-checks: dossier X has no schema');
  // R-MW-12: cancelled, the failure's advice to reopen no longer holds
  expect(windowOutcome({ state: 'cancelled', failure: 'patch run 4: 1 dossier(s) failed (A1), then reopen' })).toBe('cancelled after a failure: patch run 4: 1 dossier(s) failed (A1)');
  expect(windowOutcome({ state: 'completed', linkedRuns: [{ kind: 'backup', workflowId: 'b', state: 'partial', notDone: 3 }] })).toBe('hand-started backup partial (3 dossier(s) not done)');
});

test('R-MW-10: a long reason in the outcome is cut at a word, with …', () => {
  const long = 'the payload failed: 3 dossier(s) in error (BIG0100: patch 2 failed in dossier BIG0100; report: /tmp/drillE/data/sauve/log/x.txt)';
  const out = windowOutcome({ state: 'completed', reopenedAfter: long });
  expect(out).toBe('reopened after: the payload failed: 3 dossier(s) in error (BIG0100: patch 2 failed in dossier…');
});

describe('R-MW-9, R-MW-10: the completion mail says what the payload did, and the failure a reopen came after', () => {
  const mail = { kind: 'completed' as const, to: [], type: 'database' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const at = new Date('2020-09-07T11:40:00Z');

  test('a backup payload that went well: one line, its run and state, after the availability', () => {
    const payloadRun = { kind: 'backup', workflowId: 'backup/main/20200907T110500Z', runId: '8', state: 'completed' };
    const { text } = maintenanceMailText('main', { ...mail, payloadRun }, 'APP', paris, at);
    expect(text).toBe(
      'La maintenance de la base de données est terminée. APP est à nouveau disponible depuis le 07/09/2020 à 13:40.\n' +
        'Traitement : sauvegarde backup/main/20200907T110500Z (n° 8) — terminé sans erreur\n' +
        'Fenêtre prévue du 07/09/2020 à 13:00 au 07/09/2020 à 13:45 (cible main).\n',
    );
  });

  test('a window reopened after its payload left dossiers not done: the reason without the reopen advice, and the run as it ended', () => {
    const payloadRun = { kind: 'backup', workflowId: 'backup/main/20200907T110500Z', runId: '8', state: 'partial', notDone: 3 };
    const reopenedAfter = 'backup run 8 partial: 3 of 9 dossier(s) not backed up (report: none): "nightshift backup retry --target main --run 8", then reopen';
    const { text } = maintenanceMailText('main', { ...mail, payloadRun, reopenedAfter }, 'APP', paris, at);
    expect(text).toContain(
      'depuis le 07/09/2020 à 13:40.\n' +
        'Rouverte après un échec : backup run 8 partial: 3 of 9 dossier(s) not backed up (report: none): "nightshift backup retry --target main --run 8"\n' +
        'Traitement : sauvegarde backup/main/20200907T110500Z (n° 8) — terminé avec des dossiers en erreur (3 dossier(s) non traité(s))\n',
    );
    expect(text).not.toContain('then reopen');
  });

  test('a patch run, its state as the ledger says it; a window reopened with no payload names the failure only', () => {
    const patch = maintenanceMailText('main', { ...mail, type: 'deployment', payloadRun: { kind: 'backup+patch', workflowId: 'patch/main/x', runId: '12', state: 'completed' } }, 'APP', paris, at).text;
    expect(patch).toContain("L'installation de la nouvelle version est terminée.");
    expect(patch).toContain('\nTraitement : sauvegarde puis intégration des correctifs patch/main/x (n° 12) — terminé sans erreur\n');
    const reopened = maintenanceMailText('main', { ...mail, reopenedAfter: 'dossier BROKEN1: schema d_broken1 is missing' }, 'APP', paris, at).text;
    expect(reopened).toContain('\nRouverte après un échec : dossier BROKEN1: schema d_broken1 is missing\n');
    expect(reopened).not.toContain('Traitement');
    expect(maintenanceMailText('main', mail, 'APP', paris, at).text).not.toMatch(/Traitement|Rouverte/);
  });
});

test('AWS SSM MaxErrors R-MW-9: the completion mail of a patch run --max-failures stopped counts the dossiers not started too, as `maintenance status` does', () => {
  const mail = { kind: 'completed' as const, to: [], type: 'deployment' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const payloadRun = { kind: 'patch', workflowId: 'patch/main/x', runId: '18', state: 'partial', notDone: 1, notStarted: 5 };
  const { text } = maintenanceMailText('main', { ...mail, payloadRun }, 'APP', paris, new Date('2020-09-07T11:40:00Z'));
  expect(text).toContain(
    "\nTraitement : intégration des correctifs patch/main/x (n° 18) — terminé avec des dossiers en erreur (1 dossier(s) non traité(s), 5 non commencé(s) car --max-failures a arrêté l'intégration)\n",
  );
});

test('AWS SSM MaxErrors R-PI-2 R-MW-10: maintenance list and the mail count the dossiers a hand-started patch run never started, as `maintenance status` does (patch_run.not_started)', () => {
  // tester B: --max-failures 3, 4 failed and 7 not started; the list said "(4 dossier(s) not done)" only
  const linkedRuns = [{ kind: 'patch' as const, workflowId: 'patch/main/y', state: 'partial', notDone: 4, notStarted: 7 }];
  expect(windowOutcome({ state: 'completed', linkedRuns })).toBe('hand-started patch partial (4 dossier(s) not done, 7 not started: --max-failures stopped it)');
  const mail = { kind: 'completed' as const, to: [], type: 'deployment' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const { text } = maintenanceMailText('main', { ...mail, handRuns: linkedRuns }, 'APP', paris, new Date('2020-09-07T11:40:00Z'));
  expect(text).toContain(
    "- intégration des correctifs patch/main/y : terminé avec des dossiers en erreur (4 dossier(s) non traité(s), 7 non commencé(s) car --max-failures a arrêté l'intégration)\n",
  );
});

test('R-PI-4 R-PI-11 R-MW-9: a backup+patch payload stopped at its failed supervisor (rolled back): the mail and the list count the 56 others not started, not 1 dossier not done alone', () => {
  // tester B: "(1 dossier(s) non traité(s))" although none of the 57 dossiers got the patch
  const payloadRun = { kind: 'patch' as const, workflowId: 'patch/main/z', runId: '21', state: 'failed', notStarted: 56, supervisorFailed: true };
  const mail = { kind: 'completed' as const, to: [], type: 'deployment' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const { text } = maintenanceMailText('main', { ...mail, payloadRun: { ...payloadRun, kind: 'backup+patch', notDone: 1 } }, 'APP', paris, new Date('2020-09-07T11:40:00Z'));
  expect(text).toContain('\nTraitement : sauvegarde puis intégration des correctifs patch/main/z (n° 21) — en échec (1 dossier(s) non traité(s), 56 non commencé(s) car le superviseur a échoué)\n');
  expect(windowOutcome({ state: 'completed', payloadRun, rollbackRun: { kind: 'rollback', workflowId: 'r', restored: 1, state: 'completed' } })).toBe(
    'payload patch failed (56 not started: its supervisor failed); 1 dossier(s) rolled back',
  );
});

describe('R-PI-11 R-MW-10: dossiers rolled back, then a failed post-check: the mails name the rolled-back dossiers, not the check\'s', () => {
  const base = { to: ['ops@example.com'], type: 'deployment' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const rolledBack = {
    failed: 1,
    restored: 1,
    retryCommand: 'nightshift patch retry --target main --run 18',
    dossiers: [{ code: 'DEMO0030', error: 'patch 13 failed in dossier DEMO0030: new row violates check constraint "c_amount"' }],
  };
  const failure = 'post-checks: dossier AAA1: schema d_AAA1 is missing';
  const at = new Date('2020-09-07T11:40:00Z');

  test('the failure alert: the post-checks failed, and the dossiers rolled back before them with the retry for later', () => {
    const { subject, text } = maintenanceMailText('main', { ...base, kind: 'failed', failure, rolledBack }, 'APP', paris, at);
    expect(subject).toBe('[APP] ÉCHEC de la maintenance (main) : service toujours fermé');
    expect(text).toBe(
      "L'installation de la nouvelle version a échoué le 07/09/2020 à 13:40 : post-checks: dossier AAA1: schema d_AAA1 is missing.\n" +
        "Avant les vérifications de fin, 1 dossier(s) n'ont pas pu recevoir les correctifs : ils ont été remis dans leur état d'avant le correctif (R-PI-11). \n" +
        '- DEMO0030 : patch 13 failed in dossier DEMO0030: new row violates check constraint "c_amount"\n' +
        "Une fois l'accès rendu, corrigez leur cause, puis, dans une fenêtre de maintenance : nightshift patch retry --target main --run 18\n" +
        'APP reste fermé. Corrigez puis rouvrez : nightshift maintenance reopen --target main\n' +
        'Fenêtre prévue du 07/09/2020 à 13:00 au 07/09/2020 à 13:45 (cible main).\n',
    );
  });

  test('the completion mail after reopen: the failure reopened after, and the rolled-back dossier by name', () => {
    const { text } = maintenanceMailText('main', { ...base, kind: 'completed', reopenedAfter: failure, rolledBack }, 'APP', paris, at);
    expect(text).toContain('\nRouverte après un échec : post-checks: dossier AAA1: schema d_AAA1 is missing\n');
    expect(text).toContain(
      "1 dossier(s) n'ont pas pu recevoir les correctifs : ils ont été remis dans leur état d'avant le correctif (R-PI-11). \n" +
        '- DEMO0030 : patch 13 failed in dossier DEMO0030: new row violates check constraint "c_amount"\n' +
        'Corrigez la cause, puis, dans une fenêtre de maintenance : nightshift patch retry --target main --run 18\n',
    );
    expect(text).not.toContain('- AAA1');
  });
});

test('SSM cutoff: the completion mail of a window whose payload the cutoff left unstarted says so in its subject and why; the outcome says it in one line', () => {
  const mail = { to: ['ops@example.com'], type: 'database' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const { subject, text } = maintenanceMailText('main', { ...mail, kind: 'completed', payloadNotStarted: { kind: 'backup+patch', remainingSeconds: 40, cutoffSeconds: 900 } }, 'APP', paris, new Date('2020-09-07T11:44:30Z'));
  expect(subject).toBe('[APP] Maintenance terminée sans traitement (main)');
  expect(text).toContain(
    "Traitement (sauvegarde puis intégration des correctifs) non lancé : il restait 40 s avant la fin prévue, moins que la marge de fin de la fenêtre (--cutoff 15m). Rien n'a été modifié ; planifiez une nouvelle fenêtre pour ce traitement.\n",
  );
  expect(maintenanceMailText('main', { ...mail, kind: 'completed' }, 'APP', paris, new Date()).subject).toBe('[APP] Maintenance terminée (main)');
  expect(windowOutcome({ state: 'completed', cutoffReached: { remainingSeconds: 25 * 60, cutoffSeconds: 1800 } })).toBe('payload not started: cutoff (25 min left before the planned end, cutoff 30m)');
});

test('R-MW-10: the overrun mail says the window passed its planned end, what still runs, that logins are still refused, and how to follow it', () => {
  const mail = { to: ['ops@example.com'], type: 'deployment' as const, startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' };
  const running = [
    { kind: 'patch', workflowId: 'patch/main/20200907T110500Z' },
    { kind: 'rollback', workflowId: 'patch-rollback/main/20200907T114000Z' },
  ];
  const { subject, text } = maintenanceMailText('main', { ...mail, kind: 'overrunning', running }, 'APP', paris, new Date('2020-09-07T11:45:00Z'));
  expect(subject).toBe('[APP] Maintenance en dépassement (main) : service toujours fermé');
  expect(text).toBe(
    "L'installation de la nouvelle version dépasse sa fin prévue du 07/09/2020 à 13:45 : son traitement est toujours en cours.\n" +
      'En cours : intégration des correctifs patch/main/20200907T110500Z\n' +
      'En cours : retour arrière des correctifs patch-rollback/main/20200907T114000Z\n' +
      "APP reste fermé : les connexions sont toujours refusées. Le traitement n'est pas interrompu ; l'accès revient à sa fin, après les vérifications, et un e-mail le dira.\n" +
      'Suivre : nightshift maintenance status --target main\n' +
      'Annoncer une nouvelle heure de fin aux utilisateurs : nightshift maintenance extend --target main --by 30m\n' +
      'Fenêtre prévue du 07/09/2020 à 13:00 au 07/09/2020 à 13:45 (cible main).\n',
  );
});

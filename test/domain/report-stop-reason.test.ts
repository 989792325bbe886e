import type pg from 'pg';
import { refusePlainWhereEncrypted } from '../../archive/keys';
import { ENDED_CANCELLED, ENDED_EARLY, destinationStopText, notDoneErrorText, reportLine, reportNotDoneLine, reportStopReason } from '../../domain/backup-batch';
import { refusalLine, type FolderVerdict } from '../../shared-store/marker';

/**
 * R-BK-7, R-BK-8: the report and its mail are French; a run stopped by one of the worker's own English lines (the
 * backup keys missing, the backup folder not the shared store) says it in French there. The lines come from their real
 * producers, so that a reworded one fails here instead of reaching the report half in English.
 */

const RETRY = 'puis relancez la sauvegarde (nightshift backup retry) : les dossiers non traités seront sauvegardés en premier.';
/** Words of the English lines that must not survive in a French reason. */
const ENGLISH = /\b(worker|shared store|mount|the old folder|marks|give the keys|no backup key|encrypted|archives)\b/;

/** The keys-missing line as archive/keys.ts throws it, over a target whose newest encrypted generation is 42 (key k20260101-abc). */
async function keysMissingLine(keyFile?: string): Promise<string> {
  // the newest encrypted generation (id, key_id), then the kept generations per key (key_id, n): one row answers both
  const pool = { query: async () => ({ rows: [{ id: '42', key_id: 'k20260101-abc', n: 15 }] }) } as unknown as pg.Pool;
  return refusePlainWhereEncrypted(pool, 'paris', keyFile).then(
    () => {
      throw new Error('expected BackupKeyMissing');
    },
    (err: Error) => err.message,
  );
}

test('R-BK-7: the backup keys missing, as the worker says it, is said in French with what to do: every key the kept archives need, the key file by its path', async () => {
  const english = await keysMissingLine('/srv/nightshift/backup-keys');
  expect(reportStopReason(english)).toBe(
    "La sauvegarde a été arrêtée : aucune clé de sauvegarde n'est donnée, alors que les sauvegardes de la cible paris sont chiffrées " +
      '(génération 42 : clé k20260101-abc ; les sauvegardes gardées demandent k20260101-abc (15 génération(s))). ' +
      'Redonnez ces clés (le fichier de clés /srv/nightshift/backup-keys (NIGHTSHIFT_BACKUP_KEYS_FILE) ou NIGHTSHIFT_BACKUP_KEYS), ' +
      `ou mettez NIGHTSHIFT_BACKUP_PLAIN=1 pour écrire volontairement des sauvegardes non chiffrées, ${RETRY}`,
  );
  expect(reportStopReason(english)).not.toMatch(ENGLISH);
  expect(reportStopReason(await keysMissingLine())).toContain('Redonnez ces clés (le fichier de clés, NIGHTSHIFT_BACKUP_KEYS_FILE ou NIGHTSHIFT_BACKUP_KEYS)');
  // the line of runs stopped before these words (kept in their rows) is still said in French
  const before =
    'no backup key is given, and the archives of target paris are encrypted (generation 42: key k20260101-abc): ' +
    'give the keys again (the key file, NIGHTSHIFT_BACKUP_KEYS_FILE or NIGHTSHIFT_BACKUP_KEYS), or set NIGHTSHIFT_BACKUP_PLAIN=1 to write plain archives on purpose';
  expect(reportStopReason(before)).toBe(
    "La sauvegarde a été arrêtée : aucune clé de sauvegarde n'est donnée, alors que les sauvegardes de la cible paris sont chiffrées " +
      '(génération 42 : clé k20260101-abc). Redonnez les clés (le fichier de clés, NIGHTSHIFT_BACKUP_KEYS_FILE ou NIGHTSHIFT_BACKUP_KEYS), ' +
      `ou mettez NIGHTSHIFT_BACKUP_PLAIN=1 pour écrire volontairement des sauvegardes non chiffrées, ${RETRY}`,
  );
});

test('R-BK-7: the backup folder not the shared store is said in French for each reason, with refusal()\'s advice', () => {
  const folder = '/srv/sauve (agence 2)/paris';
  const verdict = (reason: FolderVerdict['reason']): FolderVerdict => ({ kind: 'backups', folder, state: 'refused', reason });
  const head = `La sauvegarde a été arrêtée : le dossier de sauvegarde ${folder} n'est pas, sur ce serveur, le stockage partagé de la cible paris`;
  const advice =
    'Montez-y le dossier partagé (chaque serveur de sauvegarde de la cible doit voir le même dossier de sauvegarde, au même chemin) ' +
    "ou, si le stockage a été déplacé, copiez-y le fichier .nightshift-store de l'ancien dossier";
  expect(reportStopReason(refusalLine('paris', verdict('marker missing')))).toBe(
    `${head} (marqueur .nightshift-store absent). ${advice} ; si l'ancien dossier est perdu, 'nightshift store adopt --target paris' marque celui-ci, ${RETRY}`,
  );
  expect(reportStopReason(refusalLine('paris', verdict('folder missing')))).toBe(
    `${head} (dossier absent). ${advice} ; si l'ancien dossier est perdu, créez celui-ci sur le nouveau disque, puis 'nightshift store adopt --target paris' le marque, ${RETRY}`,
  );
  expect(reportStopReason(refusalLine('paris', verdict('marker different')))).toBe(`${head} (marqueur .nightshift-store différent). ${advice}, ${RETRY}`);
  expect(reportStopReason(refusalLine('paris', verdict('marker unreadable')))).toBe(`${head} (marqueur .nightshift-store illisible). ${advice}, ${RETRY}`);
  // drill K, session 39: a file in the folder's place
  expect(reportStopReason(refusalLine('paris', verdict('not a folder')))).toBe(
    `${head} (autre chose qu'un dossier à ce chemin). ${advice} ; autre chose qu'un dossier (un fichier) occupe ce chemin : déplacez-le d'abord, ${RETRY}`,
  );
  for (const reason of ['marker missing', 'folder missing', 'marker different', 'marker unreadable', 'not a folder'] as const) {
    expect(reportStopReason(refusalLine('paris', verdict(reason)))).not.toMatch(ENGLISH);
  }
});

test('R-BK-4, R-BK-7: a full or unwritable folder, a cancelled or stopped batch: English on the run (status, Web UI), French in the report', () => {
  const full = destinationStopText('/srv/sauve partagé', 'ENOSPC');
  expect(full).toBe(
    'the backup stopped: the backup folder /srv/sauve partagé is full (ENOSPC); free space in it (or choose another backup folder), ' +
      'then run the backup again (nightshift backup retry): the dossiers not attempted go first',
  );
  expect(reportStopReason(full)).toBe(
    `La sauvegarde a été arrêtée : le dossier de sauvegarde /srv/sauve partagé est plein (ENOSPC). Libérez de la place dans ce dossier (ou choisissez un autre dossier de sauvegarde), ${RETRY}`,
  );
  expect(reportStopReason(destinationStopText('/srv/sauve', 'EDQUOT'))).toContain('/srv/sauve est plein (EDQUOT). Libérez de la place');
  for (const errno of ['EACCES', 'EPERM', 'EROFS'] as const) {
    expect(destinationStopText('/srv/sauve', errno)).toContain(`is not writable (${errno}); let the backup service write in it`);
    expect(reportStopReason(destinationStopText('/srv/sauve', errno))).toBe(
      `La sauvegarde a été arrêtée : le dossier de sauvegarde /srv/sauve n'est pas accessible en écriture (${errno}). Donnez au service de sauvegarde le droit d'écrire dans ce dossier (ou choisissez un autre dossier de sauvegarde), ${RETRY}`,
    );
  }
  expect(reportStopReason(ENDED_CANCELLED)).toBe('La sauvegarde a été annulée avant ce dossier.');
  expect(reportStopReason(ENDED_EARLY)).toBe("La sauvegarde s'est arrêtée avant ce dossier.");
  for (const said of [destinationStopText('/srv/sauve', 'ENOSPC'), ENDED_CANCELLED, ENDED_EARLY]) expect(said).not.toMatch(/[éè]|La sauvegarde/);
});

test('R-BK-7: French reasons (runs kept from before) and unknown texts (an operator\'s words, an unexpected error) stay verbatim', () => {
  const before = [
    "La sauvegarde a été arrêtée : le dossier de sauvegarde /srv/sauve est plein (ENOSPC). Libérez de la place dans ce dossier (ou choisissez un autre dossier de sauvegarde), " + RETRY,
    'La sauvegarde a été annulée avant ce dossier.',
    "La sauvegarde s'est arrêtée avant ce dossier.",
  ];
  for (const said of before) expect(reportStopReason(said)).toBe(said);
  // a destination line with something after it is not the line: left whole
  expect(reportStopReason(`${destinationStopText('/srv/sauve', 'ENOSPC')} (and more)`)).toBe(`${destinationStopText('/srv/sauve', 'ENOSPC')} (and more)`);
  for (const free of ['disk swap tonight, stopped by ops', 'Connection terminated unexpectedly', '', "no backup key is given, and that's fine"]) {
    expect(reportStopReason(free)).toBe(free);
  }
  // a known line with something after it is not the line: left whole rather than half translated
  const store = refusalLine('paris', { kind: 'backups', folder: '/srv/sauve', state: 'refused', reason: 'marker different' });
  expect(reportStopReason(`${store} (and more)`)).toBe(`${store} (and more)`);
  // the documents folder never stops a batch: its line is not a backup folder's
  const documents = refusalLine('paris', { kind: 'documents', folder: '/srv/docs', state: 'refused', reason: 'marker different' });
  expect(reportStopReason(documents)).toBe(documents);
});

test('R-BK-7: the report\'s lines say the stop reason in French: each dossier not attempted, and the line before the two summary lines', async () => {
  const english = await keysMissingLine();
  const french = reportStopReason(english);
  expect(reportLine('KM1', 'not_done', notDoneErrorText(english))).toBe(`Dossier KM1 : Non traité. ${french}`);
  expect(reportNotDoneLine(3, 3, english)).toBe(`3 / 3 dossier(s) non traité(s), comptés en erreur : ${french}`);
  // no reason recorded: the batch stopped early, said so
  expect(reportNotDoneLine(2, 5, null)).toBe("2 / 5 dossier(s) non traité(s), comptés en erreur : La sauvegarde s'est arrêtée avant ce dossier.");
  expect(reportLine('KM4', 'not_done', notDoneErrorText(ENDED_CANCELLED))).toBe('Dossier KM4 : Non traité. La sauvegarde a été annulée avant ce dossier.');
  // other failures keep their own text, whatever it says
  expect(reportLine('KM2', 'failed', `Echec du traitement. ${english}`)).toBe(`Dossier KM2 : Echec du traitement. ${english}`);
  expect(reportLine('KM3', 'not_done', english)).toBe(`Dossier KM3 : ${english}`);
});

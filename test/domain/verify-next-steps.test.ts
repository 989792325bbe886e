import { NEXT_STEP_CODES_MAX, verifyNextSteps } from '../../workflows/backup-verify.api';
import { olderCopiesStep } from '../../domain/backup-verify';

/** R-BK-13: the next steps a verification with problems prints, mails and shows in the Web UI. */

const corrupt = (code: string) => ({ code, status: 'corrupt', error: 'SHA-256 différent' });
const away = (code: string) => ({ code, status: 'failed', error: 'OffsiteUnavailable: the off-site storage did not answer while checking k/A: connect ECONNREFUSED' });

test('R-BK-13: a step names the dossiers of its cause; a key or a storage away asks for a verification again, not a backup', () => {
  const steps = verifyNextSteps('main', [corrupt('B'), corrupt('A'), { code: 'K', status: 'key', error: 'clé k1' }], [{ code: 'K', keyId: 'k1' }]);
  expect(steps.map((s) => s.command)).toEqual(['nightshift backup run --all --only A,B --target main', 'nightshift backup verify --codes K --target main']);
});

test('R-BK-13: problems not all read, or more dossiers than a command should name: the command names none (every dossier), never a part', () => {
  // the run had more problems than were read: a list of those read would leave the others unchecked
  expect(verifyNextSteps('main', [away('A'), away('B')], [], false).map((s) => s.command)).toEqual(['nightshift backup verify --target main']);
  expect(verifyNextSteps('main', [corrupt('A')], [], false).map((s) => s.command)).toEqual(['nightshift backup run --all --target main']);
  const many = Array.from({ length: NEXT_STEP_CODES_MAX + 1 }, (_, i) => away(`D${String(i).padStart(4, '0')}`));
  expect(verifyNextSteps('main', many, []).map((s) => s.command)).toEqual(['nightshift backup verify --target main']);
  const enough = many.slice(0, NEXT_STEP_CODES_MAX);
  expect(verifyNextSteps('main', enough, [])[0]!.command).toContain(`--codes D0000,`);
});

test('R-BK-13: older generations whose copy read back: nothing to do, a restore reads the copy; one dossier is named in the command, several or too many are not', () => {
  expect(olderCopiesStep('main', ['A'])).toEqual({
    command: 'nightshift backup list A --target main',
    text: "older generations of A lost their local file (gone or damaged), but their off-site copies read back whole: 'nightshift backup restore CODE --at DATE' reads such a copy; nothing needs doing for them (a new backup would not put those files back)",
  });
  expect(olderCopiesStep('main', ['A', 'B'])).toMatchObject({ command: 'nightshift backup list CODE --target main', text: expect.stringMatching(/^older generations of A, B lost/) as string });
  expect(olderCopiesStep('main', undefined)).toMatchObject({ command: 'nightshift backup list CODE --target main', text: expect.stringMatching(/^older generations of some dossiers \(see the problems\) lost/) as string });
});

test('R-BK-13 / R-BK-14: a file gone whose off-site copy could not be checked (the storage away) asks for a verification again once it answers, not a backup (drill D)', () => {
  const unchecked = (code: string) => ({ code, status: 'missing', error: `le fichier /sauve/${code}.SVG n'existe plus; copie externe b/k non vérifiée : OffsiteUnavailable: connect ECONNREFUSED` });
  const steps = verifyNextSteps('main', [unchecked('A'), unchecked('B')], []);
  expect(steps).toEqual([
    {
      command: 'nightshift backup verify --codes A,B --target main',
      text: expect.stringMatching(/^the local files are gone or damaged and their off-site copies could not be checked .*: once it answers \(NIGHTSHIFT_OFFSITE_S3_\*\), verify again; a new backup now is not needed to keep them/) as string,
    },
  ]);
  // a dossier with a damaged archive besides gets its backup, and is verified again all the same (its copy was not checked)
  expect(verifyNextSteps('main', [unchecked('A'), corrupt('A')], []).map((s) => s.command)).toEqual(['nightshift backup run --all --only A --target main', 'nightshift backup verify --codes A --target main']);
});

test('R-BK-13 / R-BK-14: a damaged file whose copy could not be checked, and sound archives whose copies could not be checked, are verified again, not backed up (tester, 2026-12-08)', () => {
  const damagedUnchecked = (code: string) => ({ code, status: 'corrupt', error: `(signalé déjà) SHA-256 a au lieu de b à l'écriture; copie externe b/k non vérifiée : OffsiteUnavailable: connect ECONNREFUSED` });
  const steps = verifyNextSteps('main', [damagedUnchecked('DEMO0005'), away('DEMO0005'), away('DEMO0006'), damagedUnchecked('DEMO0006')], []);
  expect(steps.map((s) => s.command)).toEqual(['nightshift backup verify --codes DEMO0005,DEMO0006 --target main']);
  expect(steps.map((s) => s.command).join('\n')).not.toContain('backup run');
  // a dossier whose copy of one generation was not checked and whose other generation's copy was: verified again too
  expect(verifyNextSteps('main', [away('A'), corrupt('A')], []).map((s) => s.command)).toEqual(['nightshift backup run --all --only A --target main', 'nightshift backup verify --codes A --target main']);
});

test('R-BK-12: a key problem says what to do if the key is lost for good, not only "give the original key" (drill D)', () => {
  const [step] = verifyNextSteps('main', [{ code: 'K', status: 'key', error: 'clé k1' }], [{ code: 'K', keyId: 'k1' }]);
  expect(step!.text).toContain('give the workers the original key');
  expect(step!.text).toContain("If that key is lost for good, those generations can never be read: restore a newer one ('nightshift backup list CODE' says each one's key); the nightly batch backs up again, under the current key, each dossier whose newest archive uses a key its worker does not give; retention prunes the unreadable ones in time");
});

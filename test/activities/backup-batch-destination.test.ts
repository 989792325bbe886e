import { destinationErrno } from '../../activities/backup-batch';
import { FailureType, permanentFailure } from '../../domain/failures';

/** Issue 10: which errors are the backup folder's own (the batch stops) and which are one dossier's (it goes on). */

const errno = (code: string, path?: string) => Object.assign(new Error(`${code}: test`), { code, ...(path ? { path } : {}) });

test('full, over quota or read-only: the destination, wherever the error was raised', () => {
  expect(destinationErrno(errno('ENOSPC'), '/srv/sauve')).toBe('ENOSPC');
  expect(destinationErrno(errno('EDQUOT'), '/srv/sauve')).toBe('EDQUOT');
  expect(destinationErrno(errno('EROFS', '/srv/sauve/.BX.SVG.1.tmp'), '/srv/sauve')).toBe('EROFS');
  // wrapped (a stream error as the cause of another)
  expect(destinationErrno(new Error('write failed', { cause: errno('ENOSPC') }), '/srv/sauve')).toBe('ENOSPC');
});

test('permission errors count only on the backup folder: a document that cannot be read is that dossier\'s failure', () => {
  expect(destinationErrno(errno('EACCES', '/srv/sauve/2026/.BX.SVG.1.tmp'), '/srv/sauve/2026')).toBe('EACCES');
  expect(destinationErrno(errno('EACCES', '/srv/documents/main/X/a.pdf'), '/srv/sauve')).toBeUndefined();
  expect(destinationErrno(errno('EPERM', '/srv/sauve-other/x'), '/srv/sauve')).toBeUndefined();
  expect(destinationErrno(errno('EPERM', '/srv/sauve'), '/srv/sauve')).toBe('EPERM');
  // the engine's own failure for a folder it cannot create a file in
  expect(destinationErrno(permanentFailure(FailureType.DestinationUnwritable, 'cannot write backups into /srv/sauve: EACCES'), '/srv/sauve')).toBe('EACCES');
  expect(destinationErrno(permanentFailure(FailureType.DestinationUnwritable, 'cannot write backups into /srv/sauve: EISDIR'), '/srv/sauve')).toBeUndefined();
});

test('other errors are the dossier\'s own: the batch goes on', () => {
  expect(destinationErrno(errno('EISDIR', '/srv/sauve/BX.SVG'), '/srv/sauve')).toBeUndefined();
  expect(destinationErrno(Object.assign(new Error('could not extend file'), { code: '53100' }), '/srv/sauve')).toBeUndefined();
  expect(destinationErrno(new Error('connection terminated'), '/srv/sauve')).toBeUndefined();
});

test('drill K, session 39: a dossier\'s own generations folder refusing a link or copy (dest) is that dossier\'s failure; the backup folder itself refusing still stops the batch', () => {
  const linked = (code: string, from: string, to: string) => Object.assign(new Error(`${code}: test, link '${from}' -> '${to}'`), { code, path: from, dest: to });
  expect(destinationErrno(linked('EPERM', '/srv/sauve/.BK5.SVG.1.tmp', '/srv/sauve/generations/K5/BK5.20261207T210000Z.abcdef.SVG'), '/srv/sauve', 'K5')).toBeUndefined();
  expect(destinationErrno(linked('EACCES', '/srv/sauve/.BK5.SVG.1.tmp', '/srv/sauve/Cloture/generations/K5/BK5.x.SVG'), '/srv/sauve', 'K5')).toBeUndefined();
  // another dossier's folder, or the generations folder itself: every dossier would fail the same way
  expect(destinationErrno(linked('EPERM', '/srv/sauve/.BK5.SVG.1.tmp', '/srv/sauve/generations/K6/BK5.x.SVG'), '/srv/sauve', 'K5')).toBe('EPERM');
  expect(destinationErrno(errno('EPERM', '/srv/sauve/generations'), '/srv/sauve', 'K5')).toBe('EPERM');
  // full is full, wherever
  expect(destinationErrno(linked('ENOSPC', '/srv/sauve/.BK5.SVG.1.tmp', '/srv/sauve/generations/K5/BK5.x.SVG'), '/srv/sauve', 'K5')).toBe('ENOSPC');
});

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { sweepAbandonedRestoreCopies } from '../../activities/backup';
import { tempDir } from '../helpers/env';

/**
 * R-BK-14 (drill of 2026-12-06): a worker killed while it read an off-site copy into TMPDIR left the whole archive
 * there for good; the next worker start removes the folders of processes no longer running, and keeps the rest.
 */
test('R-BK-14: the folders a killed restore left in TMPDIR are swept at a worker start; a running one, another process\'s live one and foreign files are kept', async () => {
  const dir = tempDir('restore-sweep');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const make = (name: string) => {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'BX.SVG'), 'archive bytes', { mode: 0o600 });
    return path.join(dir, name);
  };
  const leftByDead = make(`nightshift-restore-${dead}-a1b2c3`);
  const mine = make(`nightshift-restore-${process.pid}-d4e5f6`);
  const live = make(`nightshift-restore-${process.ppid}-g7h8i9`);
  const oldUnnamed = make('nightshift-restore-HMJI64');
  const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600_000);
  fs.utimesSync(oldUnnamed, twoDaysAgo, twoDaysAgo);
  const newUnnamed = make('nightshift-restore-QWERTY');
  const foreign = make('something-else');

  expect((await sweepAbandonedRestoreCopies(dir)).sort()).toEqual([leftByDead, oldUnnamed].sort());
  expect(fs.readdirSync(dir).sort()).toEqual([mine, live, newUnnamed, foreign].map((p) => path.basename(p)).sort());
  // nothing left to sweep: a second start removes nothing
  expect(await sweepAbandonedRestoreCopies(dir)).toEqual([]);
});

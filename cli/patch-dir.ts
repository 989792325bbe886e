import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../config/config';
import { readPatchDirectory } from '../patches/package';
import { patchDirectoryProblem } from '../shared-store/marker';
import { withPools } from './context';

/**
 * A directory of patch packages checked on this host before anything starts (`patch integrate`, `maintenance schedule
 * --payload patch`): when it is here, a stray file or a bad checksum fails now, and it must lie in the target's shared
 * store (issue 10; the worker checks again). Missing where its parent folder is here: a typo, refused. Missing with its
 * parent too: a path only the worker hosts see, left to the worker.
 */
export async function checkPatchDirHere(targetName: string, dir: string): Promise<void> {
  if (fs.existsSync(dir)) {
    await readPatchDirectory(dir);
    const notShared = await withPools(targetName, (pool) => patchDirectoryProblem(pool, targetName, dir));
    if (notShared) throw new UsageError(notShared);
  } else if (fs.existsSync(path.dirname(dir))) {
    throw new UsageError(`no patch directory ${dir} (its folder ${path.dirname(dir)} is here, without it): nothing started`);
  }
}

import fs from 'node:fs';
import path from 'node:path';
import { FailureType } from '../domain/failures';
import { repairHint } from '../domain/patch-repair';
import { UsageError } from '../config/config';
import { readPatchDirectory } from '../patches/package';
import { planOverDossiers, planPackages, type RunRefusal } from '../patches/plan';
import { ApplicationFailure } from '@temporalio/common';
import { SNAPSHOT_PAGE_SIZE, withReadOnlySnapshot } from '../store/patch/read-only-snapshot';
import { supervisorRow } from '../store/patch/supervisor-row';
import { countDossiers } from '../store/dossiers/count-dossiers';
import { planCodesPage } from '../store/patch/plan-codes-page';
import { revalidationList } from '../store/patch/revalidation-list';
import { patchDossiersByCode } from '../store/patch/dossiers-by-code';
import type { Queryable } from '../store/queryable';
import { patchDirectoryProblem } from '../shared-store/marker';
import { withPools } from './context';

/**
 * A folder argument (DIR, PKG) as an absolute path. An empty or blank one is refused: path.resolve('') is the current
 * folder, which the operator did not name (a variable left empty would write packages there, or read it).
 */
export function folderArgument(name: string, value: string): string {
  if (value.trim() === '') throw new UsageError(`${name}: expected a folder, got an empty argument: nothing read or written`);
  return path.resolve(value);
}

/**
 * A folder to write into (`patch new`, `patch demo`): made here one level at a time below its nearest existing
 * parent, each refusal said with its path (exit 2). A recursive mkdir under /proc never returns (ENOENT at every
 * level: Node's retry spins).
 */
export async function writableFolderArgument(name: string, value: string): Promise<string> {
  const dir = folderArgument(name, value);
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    const st = await fs.promises.stat(at).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' || err.code === 'ENOTDIR' ? undefined : Promise.reject(refusedFolder(name, at, err))));
    if (st) {
      if (!st.isDirectory()) throw new UsageError(`${name}: ${at} is not a folder: no package written`);
      break;
    }
    missing.unshift(at);
    if (path.dirname(at) === at) break;
    at = path.dirname(at);
  }
  for (const m of missing) {
    await fs.promises.mkdir(m).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(refusedFolder(name, m, err))));
  }
  // a folder may be made in it (the packages are folders): tried, as root passes every access check (/proc/1)
  const probe = await fs.promises.mkdtemp(path.join(dir, '.nightshift-probe-')).catch((err: NodeJS.ErrnoException) => Promise.reject(refusedFolder(name, dir, err)));
  await fs.promises.rmdir(probe);
  return dir;
}

function refusedFolder(name: string, at: string, err: NodeJS.ErrnoException): UsageError {
  return new UsageError(`${name}: cannot make or write the folder ${at} (${err.code ?? err.message}): no package written`);
}

/**
 * A directory of patch packages checked on this host before anything starts (`patch integrate`, `maintenance schedule
 * --payload patch`): when it is here, a stray file or a bad checksum fails now, and it must lie in the target's shared
 * store (issue 10; the worker checks again). Missing where its parent folder is here: a typo, refused. Missing with its
 * parent too: a path only the worker hosts see, left to the worker.
 */
export async function checkPatchDirHere(targetName: string, dir: string): Promise<void> {
  if (fs.existsSync(dir)) {
    // a file, or one package's folder, given for the directory of packages: said with the folder to give (drill A,
    // session 35: a raw ENOTDIR, exit 1; "not patch packages: data/, patch.json")
    if (!fs.statSync(dir).isDirectory()) {
      const pkg = path.basename(dir) === 'patch.json' ? ` (a package's manifest: give the directory holding its package, ${path.dirname(path.dirname(dir))})` : '';
      throw new UsageError(`${dir} is a file, not a directory of patch packages${pkg}: nothing started`);
    }
    if (fs.existsSync(path.join(dir, 'patch.json'))) {
      throw new UsageError(`${dir} is one patch package (it holds patch.json): give the directory holding the packages, ${path.dirname(dir)}: nothing started`);
    }
    // outside the shared store first: a folder such as /tmp is the wrong place, not a folder of stray files
    const notShared = await withPools(targetName, (pool) => patchDirectoryProblem(pool, targetName, dir));
    if (notShared) throw new UsageError(notShared);
    await readPatchDirectory(dir);
  } else if (fs.existsSync(path.dirname(dir))) {
    throw new UsageError(`no patch directory ${dir} (its folder ${path.dirname(dir)} is here, without it): nothing started`);
  }
}

/** R-PI-9: how many of the dossiers (every one when none is named), the supervisor apart, are below the supervisor's level. */
export async function belowSupervisorCount(db: Queryable, supervisor: { patch_level: number }, dossiers: string[] | undefined): Promise<number> {
  if (!dossiers) return (await revalidationList(db)).toRevalidateCount;
  return (await patchDossiersByCode(db, dossiers)).filter((d) => d.role !== 'supervisor' && d.patch_level < supervisor.patch_level).length;
}

/**
 * Past this many targeted dossiers, `patch integrate` leaves "nothing to do" to the run, which plans them anyway: the
 * check reads every dossier's plan (~2 ms each on this machine: ~10 s here, ~3 min at 100,000), the command answers at once.
 */
export const UP_TO_DATE_CHECK_MAX_DOSSIERS = 5_000;

/** What the plan finds when no targeted dossier has anything to do: the folder's packages are in every one of them, none is to revalidate. */
export interface NothingToIntegrate {
  /** the folder's packages and their highest number */
  packages: number;
  lastPatch: number;
  /** the dossiers planned: every one of the target, or those of --dossiers */
  dossiers: number;
  supervisor: { code: string; level: number };
}

/**
 * What `patch plan` would refuse the run for at once, checked before `patch integrate` starts anything (the run would
 * store the packages, then fail): a package whose checksum drifted from the one integrated (R-PI-8), and the supervisor
 * failing at its first step (a gap before the packages, a drifted ledger entry) when it is in the run. One read-only
 * snapshot, the plan's own functions.
 * With the supervisor's step (the dossiers as they are now), it also says when a run would do nothing (Flyway's
 * "Schema is up to date"): the folder's packages all stored as they are, and the plan of every targeted dossier with
 * nothing to apply, no refusal, none below the supervisor (R-PI-9). Cheap checks first (a package to store, the
 * supervisor or a dossier behind), and the plan stops at the first dossier with something to do: the whole plan is
 * read only when the run would indeed do nothing.
 */
export async function refuseWhatThePlanRefuses(
  targetName: string,
  dir: string,
  dossiers: string[] | undefined,
  o: {
    /** the supervisor's first step too: the dossiers as they are now */
    supervisor?: boolean;
    /** false: a supervisor's first step that would fail is not refused here, only not "nothing to integrate" (a window that starts later judges it then) */
    refuseSupervisor?: boolean;
    nothing?: string;
  } = {},
): Promise<NothingToIntegrate | undefined> {
  if (!fs.existsSync(dir)) return undefined;
  const fromDir = await readPatchDirectory(dir);
  const lastPatch = Math.max(...fromDir.map((p) => p.manifest.number));
  const found = await withPools(targetName, (pool) =>
    withReadOnlySnapshot(pool, async (db, releaseLocks): Promise<{ refusal?: RunRefusal; nothing?: NothingToIntegrate }> => {
      const { packages, refusals, toStore } = await planPackages(db, fromDir);
      if (refusals[0]) return { refusal: refusals[0] };
      if (o.supervisor === false) return {};
      const supervisor = await supervisorRow(db);
      // no supervisor: R-PI-2 refuses the run, as it does today
      if (!supervisor) return {};
      const supervisorIncluded = !dossiers || dossiers.includes(supervisor.code);
      const mayBeNothing =
        toStore.length === 0 &&
        (!supervisorIncluded || supervisor.patch_level >= lastPatch) &&
        (dossiers?.length ?? (await countDossiers(db))) <= UP_TO_DATE_CHECK_MAX_DOSSIERS &&
        (await belowSupervisorCount(db, supervisor, dossiers)) === 0;
      let something = !mayBeNothing;
      const outcome = await planOverDossiers(db, {
        packages,
        supervisorIncluded,
        dictionary: false,
        pageSize: SNAPSHOT_PAGE_SIZE,
        // no page once something is found (the cheap checks, or a dossier): the run has work, which is all that is asked
        codesPage: async (after, limit) => {
          if (something) return [];
          await releaseLocks();
          return planCodesPage(db, dossiers ?? null, after, limit);
        },
        onDossier: (plan) => {
          if (plan.applies.length || plan.refusal) something = true;
        },
      });
      const r = outcome.supervisor?.plan?.refusal;
      if (r && o.refuseSupervisor === false) return {};
      if (r) return { refusal: { rule: r.rule, type: r.type, message: `the supervisor would fail first, and the run end before any other dossier: ${r.message}` } };
      if (something) return {};
      return { nothing: { packages: fromDir.length, lastPatch, dossiers: outcome.summary.dossiers, supervisor: { code: supervisor.code, level: supervisor.patch_level } } };
    }),
  );
  if (found.refusal) {
    const refusal = found.refusal;
    const repair = refusal.type === FailureType.ChecksumDrift ? `; ${repairHint(dir)}` : '';
    throw ApplicationFailure.create({ type: refusal.type, nonRetryable: true, message: `${refusal.message} (${refusal.rule}); nothing ${o.nothing ?? 'started'} (see 'nightshift patch plan ${dir}')${repair}` });
  }
  return found.nothing;
}

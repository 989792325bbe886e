import type { ActivityDeps } from '../activities/deps';
import { createRegistryActivities } from '../activities/registry';
import { createBackupActivities } from '../activities/backup';
import { createMaintenanceActivities } from '../activities/maintenance';
import { createBackupBatchActivities } from '../activities/backup-batch';
import { createPatchActivities } from '../activities/patch';
import { createRollbackActivities } from '../activities/rollback';
import { createRestoreRunActivities } from '../activities/restore-run';
import { createOffsiteActivities } from '../activities/offsite';
import { createVerifyActivities, offsiteCheckOf } from '../activities/verify';
import { lazyOffsiteStore } from '../offsite/lazy';
import { createPruneActivities } from '../activities/prune';

/** Every activity the worker registers; workflows import the type only. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createRegistryActivities(deps),
    ...createBackupActivities(deps),
    ...createMaintenanceActivities(deps),
    ...createBackupBatchActivities(deps),
    ...createPatchActivities(deps),
    ...createRollbackActivities(deps),
    ...createRestoreRunActivities(deps),
    ...createOffsiteActivities({ offsiteStore: lazyOffsiteStore(deps.config.offsite) }),
    ...createVerifyActivities({ ...deps, offsiteCheck: offsiteCheckOf(lazyOffsiteStore(deps.config.offsite)) }),
    ...createPruneActivities({ ...deps, offsiteStore: lazyOffsiteStore(deps.config.offsite) }),
  };
}
export type NightshiftActivities = ReturnType<typeof createActivities>;

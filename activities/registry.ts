import type { Dossier } from '../domain/dossier';
import { createDossier, deleteDossier, dossierTableStats, getDossier, listDossiers, type TableStat } from '../registry/dossiers';
import type { ActivityDeps } from './deps';

export type { TableStat };

/** The registry activities: registry/dossiers.ts on the activity's target pool (async: an unknown target rejects, never throws). */
export function createRegistryActivities({ pools, config }: ActivityDeps) {
  return {
    getDossier: async (target: string, code: string): Promise<Dossier> => getDossier(pools.get(target), target, code),
    listDossiers: async (target: string): Promise<Dossier[]> => listDossiers(pools.get(target)),
    createDossier: async (target: string, raw: unknown): Promise<Dossier> => createDossier(pools.get(target), target, raw),
    /** Drops the dossier's schema and registry row (refused while in use), then its documents. */
    deleteDossier: async (target: string, code: string): Promise<void> => deleteDossier(pools.get(target), config.documentsDir, target, code),
    /** Row count and checksum of each table, from one snapshot: what a round trip must preserve. */
    tableStats: async (target: string, code: string): Promise<TableStat[]> => dossierTableStats(pools.get(target), target, code),
  };
}

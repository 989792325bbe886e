/**
 * The dossiers a patch run takes, the supervisor included (pages leave it out: it goes first, alone), as
 * FROM/WHERE text over `nightshift.patch_run r` ($1 = the run's id) and `nightshift.dossier d`:
 * - all: every dossier (integrate);
 * - list: the codes the operator gave, kept in the run row (integrate --dossiers, revalidate CODE…);
 * - below: every dossier below the supervisor's level (revalidate, R-PI-9);
 * - failed: the failed dossiers of the run it retries (retry), those still below its last patch: one brought up since
 *   (`patch revalidate`, a later run) is left out, as `patch status` says it and `patch retry` lists it (retry-left-out.ts);
 * - stopped: the retry of a run --max-failures stopped: its failed dossiers (still below its last patch) and those it did
 *   not start (no row in its ledger, below its last patch, among the codes it was given if any): the run goes on as it would have.
 */
export const PATCH_SELECTIONS = ['all', 'list', 'below', 'failed', 'stopped'] as const;
export type PatchSelection = (typeof PATCH_SELECTIONS)[number];

export const SELECTION_FROM_SQL: Record<PatchSelection, string> = {
  all: `FROM nightshift.patch_run r, nightshift.dossier d WHERE r.id = $1`,
  list: `FROM nightshift.patch_run r JOIN nightshift.dossier d ON d.code = ANY(r.requested) WHERE r.id = $1`,
  below: `FROM nightshift.patch_run r, nightshift.dossier d
          WHERE r.id = $1 AND d.patch_level < (SELECT s.patch_level FROM nightshift.dossier s WHERE s.role = 'supervisor' LIMIT 1)`,
  failed: `FROM nightshift.patch_run r
             JOIN nightshift.patch_run o ON o.id = r.retry_of
             JOIN nightshift.patch_run_item i ON i.run_id = o.id AND i.status = 'failed'
             JOIN nightshift.dossier d ON d.code = i.code
          WHERE r.id = $1 AND d.patch_level < coalesce(o.last_patch, 0)`,
  stopped: `FROM nightshift.patch_run r JOIN nightshift.patch_run o ON o.id = r.retry_of, nightshift.dossier d
          WHERE r.id = $1
            AND (EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = o.id AND i.code = d.code AND i.status = 'failed'
                           AND d.patch_level < coalesce(o.last_patch, 0))
                 OR (NOT EXISTS (SELECT 1 FROM nightshift.patch_run_item i WHERE i.run_id = o.id AND i.code = d.code)
                     AND d.patch_level < coalesce(o.last_patch, 0) AND (o.requested IS NULL OR d.code = ANY(o.requested))))`,
};

import type { Generation, GenerationKind, OffsiteState, VerifyState } from '../../domain/generation';

/** The columns of nightshift.backup_generation as the store functions select them. */
export const GENERATION_COLUMNS = `id, code, kind, file, links, run_id, reason, snapshot_at, created_at, size, sha256, key_id, patch_level,
  change_seq, tables, row_count, verify_state, verified_at, verify_restored, verify_error, offsite_state, offsite_bucket,
  offsite_key, offsite_at, offsite_error, deleted_at, deleted_by, forgotten_at, forgotten_by`;

export interface GenerationRow {
  id: string;
  code: string;
  kind: GenerationKind;
  file: string;
  links: string[];
  run_id: string | null;
  reason: string;
  snapshot_at: Date;
  created_at: Date;
  size: string;
  sha256: string | null;
  key_id: string | null;
  patch_level: number | null;
  change_seq: string | null;
  tables: number | null;
  row_count: string | null;
  verify_state: VerifyState;
  verified_at: Date | null;
  verify_restored: boolean;
  verify_error: string | null;
  offsite_state: OffsiteState;
  offsite_bucket: string | null;
  offsite_key: string | null;
  offsite_at: Date | null;
  offsite_error: string | null;
  deleted_at: Date | null;
  deleted_by: string | null;
  forgotten_at: Date | null;
  forgotten_by: string | null;
}

export function toGeneration(r: GenerationRow): Generation {
  return {
    id: Number(r.id),
    code: r.code,
    kind: r.kind,
    file: r.file,
    links: r.links,
    runId: r.run_id === null ? null : Number(r.run_id),
    reason: r.reason,
    snapshotAt: r.snapshot_at,
    createdAt: r.created_at,
    size: Number(r.size),
    sha256: r.sha256,
    keyId: r.key_id,
    patchLevel: r.patch_level,
    changeSeq: r.change_seq,
    tables: r.tables,
    rowCount: r.row_count === null ? null : Number(r.row_count),
    verifyState: r.verify_state,
    verifiedAt: r.verified_at,
    verifyRestored: r.verify_restored,
    verifyError: r.verify_error,
    offsiteState: r.offsite_state,
    offsiteBucket: r.offsite_bucket,
    offsiteKey: r.offsite_key,
    offsiteAt: r.offsite_at,
    offsiteError: r.offsite_error,
    deletedAt: r.deleted_at,
    deletedBy: r.deleted_by,
    forgottenAt: r.forgotten_at,
    forgottenBy: r.forgotten_by,
  };
}

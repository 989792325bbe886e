/**
 * Generations (R-BK-11): each complete, durable archive of a dossier. Pure types shared by the store, the
 * archive engine, retention, verification (R-BK-13) and the off-site copies (R-BK-14).
 */

/** The R-BK-9 / R-BK-5 folder a generation was written to; retention may differ between them. */
export const GENERATION_KINDS = ['normal', 'EchangePrest', 'Cloture'] as const;
export type GenerationKind = (typeof GENERATION_KINDS)[number];

export type VerifyState = 'unverified' | 'ok' | 'corrupt' | 'missing';
export type OffsiteState = 'none' | 'copied' | 'failed' | 'deleted';

export interface Generation {
  id: number;
  code: string;
  kind: GenerationKind;
  /** the generation's own file (absolute), never replaced */
  file: string;
  /** its other names (B{code}.SVG in the seed's layout) */
  links: string[];
  runId: number | null;
  reason: string;
  snapshotAt: Date;
  createdAt: Date;
  size: number;
  sha256: string | null;
  keyId: string | null;
  patchLevel: number | null;
  changeSeq: string | null;
  tables: number | null;
  rowCount: number | null;
  verifyState: VerifyState;
  verifiedAt: Date | null;
  verifyRestored: boolean;
  verifyError: string | null;
  offsiteState: OffsiteState;
  offsiteBucket: string | null;
  offsiteKey: string | null;
  offsiteAt: Date | null;
  offsiteError: string | null;
  deletedAt: Date | null;
  deletedBy: string | null;
  /** `backup forget`: the next prune deletes it whatever the slots say (R-BK-11); when and by whom */
  forgottenAt: Date | null;
  forgottenBy: string | null;
}

/** The prefix of the verify error a restore records when it finds a generation's own file damaged (activities/backup.ts). */
export const FOUND_BY_RESTORE = '(restore) ';

/** Who found a generation corrupt or missing, as restores say it: "(backup verify)", or "(found by a restore)". */
export function foundBy(g: Pick<Generation, 'verifyError'>): string {
  return g.verifyError?.startsWith(FOUND_BY_RESTORE) ? '(found by a restore)' : '(backup verify)';
}

/** The generation's off-site copy to read (R-BK-14): recorded copied, in the bucket it was made to; undefined: none. */
export function offsiteCopyOf(g: Pick<Generation, 'offsiteState' | 'offsiteBucket' | 'offsiteKey'>): { bucket: string; key: string } | undefined {
  return g.offsiteState === 'copied' && g.offsiteKey && g.offsiteBucket ? { bucket: g.offsiteBucket, key: g.offsiteKey } : undefined;
}

/** What the engine records once the file is complete and durable. */
export type NewGeneration = Pick<Generation, 'code' | 'kind' | 'file' | 'links' | 'runId' | 'reason' | 'snapshotAt' | 'size' | 'sha256' | 'keyId' | 'patchLevel' | 'changeSeq' | 'tables' | 'rowCount'>;

/** The generation's own file name: B{code}.{UTC YYYYMMDDTHHMMSSZ of the snapshot}.{6 hex}.SVG, below generations/{code}/. */
export const GENERATIONS_FOLDER = 'generations';

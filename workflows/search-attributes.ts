import { defineSearchAttributeKey, type SearchAttributePair, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, so that the Temporal UI can list runs by target, kind, phase and dossier.
 * `nightshift dev` and the test setup register them on the dev server; docker-compose registers
 * them with `temporal operator search-attribute create`.
 */
export const NightshiftTarget = defineSearchAttributeKey('NightshiftTarget', SearchAttributeType.KEYWORD);
export const NightshiftKind = defineSearchAttributeKey('NightshiftKind', SearchAttributeType.KEYWORD);
export const NightshiftPhase = defineSearchAttributeKey('NightshiftPhase', SearchAttributeType.KEYWORD);
/** Set only where one dossier is the whole subject: single-dossier backups and restores (batches name theirs in the ledger). */
export const NightshiftDossier = defineSearchAttributeKey('NightshiftDossier', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [NightshiftTarget, NightshiftKind, NightshiftPhase, NightshiftDossier];

/** Values of NightshiftKind, one per workflow (the contract modules name theirs from this list). */
export const NIGHTSHIFT_KINDS = ['backup-dossier', 'restore-dossier', 'backup-batch', 'backup-report-mail', 'patch', 'maintenance', 'patch-rollback', 'backup-verify', 'backup-verify-mail', 'backup-prune', 'backup-restore-run', 'maintenance-mail'] as const;
export type NightshiftKindValue = (typeof NIGHTSHIFT_KINDS)[number];

export interface NightshiftAttributes {
  target: string;
  kind: NightshiftKindValue;
  /** the workflow's first phase at a start; its current one in an upsert */
  phase?: string;
  /** the dossier of a single-dossier workflow */
  dossier?: string;
}

/**
 * The one builder of Nightshift's search attributes: every start (`typedSearchAttributes`, client or
 * child) and every workflow's `upsertSearchAttributes` goes through it, so the UI's columns and saved
 * queries read the same keys and values whoever started the run.
 */
export function nightshiftAttributes(a: NightshiftAttributes): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [
    { key: NightshiftTarget, value: a.target },
    { key: NightshiftKind, value: a.kind },
  ];
  if (a.dossier !== undefined) pairs.push({ key: NightshiftDossier, value: a.dossier });
  if (a.phase !== undefined) pairs.push({ key: NightshiftPhase, value: a.phase });
  return pairs;
}

/** A phase change, for `upsertSearchAttributes`. */
export function phaseAttribute(phase: string): SearchAttributePair[] {
  return [{ key: NightshiftPhase, value: phase }];
}

/** `--search-attribute NAME=Keyword` arguments for `temporal server start-dev`. */
export function searchAttributeArgs(): string[] {
  return ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
}

import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, so that the Temporal UI can list runs by target, kind and phase.
 * `nightshift dev` and the test setup register them on the dev server; docker-compose registers
 * them with `temporal operator search-attribute create`.
 */
export const NightshiftTarget = defineSearchAttributeKey('NightshiftTarget', SearchAttributeType.KEYWORD);
export const NightshiftKind = defineSearchAttributeKey('NightshiftKind', SearchAttributeType.KEYWORD);
export const NightshiftPhase = defineSearchAttributeKey('NightshiftPhase', SearchAttributeType.KEYWORD);
export const NightshiftDossier = defineSearchAttributeKey('NightshiftDossier', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [NightshiftTarget, NightshiftKind, NightshiftPhase, NightshiftDossier];

/** `--search-attribute NAME=Keyword` arguments for `temporal server start-dev`. */
export function searchAttributeArgs(): string[] {
  return ALL_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]);
}

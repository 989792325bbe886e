import { UsageError } from '../config/config';
import { GENERATION_KINDS, type GenerationKind } from '../domain/generation';
import { isGenerationKind } from '../domain/retention';
import { shownInput } from '../domain/text';
import type { Queryable } from '../store/queryable';
import { unknownCodes } from '../store/patch/unknown-codes';

/**
 * `codes`, none of them registered, each named for an operator: a code typed in the wrong case is the likeliest
 * slip, so one whose upper-case spelling is a dossier is followed by `(codes are case-sensitive: CODE?)`. One
 * query for the whole list, whatever its length.
 */
export async function namedWithCaseHints(db: Queryable, codes: string[]): Promise<string[]> {
  const upper = [...new Set(codes.map((c) => c.toUpperCase()).filter((u) => !codes.includes(u)))];
  const missing = new Set(upper.length ? await unknownCodes(db, upper) : []);
  return codes.map((c) => {
    const u = c.toUpperCase();
    return u !== c && upper.includes(u) && !missing.has(u) ? `${c} (codes are case-sensitive: ${u}?)` : c;
  });
}

/** The hint alone for one unregistered code (with its leading space), or ''. */
export async function caseHint(db: Queryable, code: string): Promise<string> {
  const [named] = await namedWithCaseHints(db, [code]);
  return named!.slice(code.length);
}

/**
 * Codes an operator typed that name no dossier of the target: bad usage (exit 2), refused before anything starts or
 * is scheduled, each named with its case hint (the first 20). `flag`: the option they came from, when one did.
 */
export async function refuseUnknownCodes(
  db: Queryable,
  targetName: string,
  codes: string[],
  how: { flag?: string; nothing?: 'started' | 'scheduled' } = {},
): Promise<void> {
  const unknown = await unknownCodes(db, codes);
  if (!unknown.length) return;
  const named = await namedWithCaseHints(db, unknown);
  throw new UsageError(
    `${how.flag ? `${how.flag}: ` : ''}not dossiers of target ${targetName}: ${named.join(', ')}${unknown.length >= 20 ? ' (the first 20)' : ''}; ` +
      `nothing ${how.nothing ?? 'started'} (see 'nightshift dossiers list')`,
  );
}

/** `--kind`: a folder kind (R-BK-9) as written; one typed in another case is refused naming the one meant (as dossier codes are). */
export function kindFlag(value: string): GenerationKind {
  if (isGenerationKind(value)) return value;
  const meant = GENERATION_KINDS.find((k) => k.toLowerCase() === value.trim().toLowerCase());
  throw new UsageError(`--kind: unknown folder kind "${shownInput(value, 20)}": expected ${GENERATION_KINDS.join(', ')}${meant ? ` (kinds are case-sensitive: ${meant}?)` : ''}`);
}

import type { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType, permanentFailure } from './failures';

/**
 * A zod error as one line: `path: message; path: message` (the one wording of the CLI, activities and
 * validators). `names` renames paths, e.g. a field to its CLI flag (`{ sizeKb: '--size-kb' }`).
 */
export function issuesText(err: z.ZodError, whole = 'value', names: Record<string, string> = {}): string {
  return err.issues
    .map((i) => {
      const at = i.path.join('.') || whole;
      return `${names[at] ?? at}: ${i.message}`;
    })
    .join('; ');
}

/** Parse an activity's input, or throw a non-retryable failure of the given kind naming what is wrong. */
export function parseInput<T>(
  schema: z.ZodType<T, unknown>,
  raw: unknown,
  fail: (message: string) => ApplicationFailure = (m) => permanentFailure(FailureType.InvalidInput, m),
  whole = 'input',
): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw fail(issuesText(r.error, whole));
  return r.data;
}

/// <reference lib="es2024.string" />
// (String.prototype.isWellFormed: Node 20 has it, the project's lib is ES2022)
import { z } from 'zod';
import { TARGET_NAME } from '../domain/target';
import { backupEventSchema } from '../domain/backup-trigger';
import { dossierCodeSchema } from '../domain/dossier';
import { BIDI_AND_SEPARATORS, BIDI_AND_SEPARATORS_TEXT } from '../domain/text';

/** zod schemas for every gate request (params, headers, bodies) and the one error type routes throw. */

/** Answered as JSON {error, field?} with its status. */
export class GateError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'GateError';
  }
}

// Control characters (NUL included) would end up in logs and in the operator's listings.
const NO_CONTROL = /^[^\p{Cc}]*$/u;
// Trojan Source: embeddings, overrides, isolates and marks reorder what an operator reads in a listing or a log; the
// line separators break its line (domain/text.ts, as the CLI refuses them).
const NO_BIDI = new RegExp(`^[^${BIDI_AND_SEPARATORS}]*$`, 'u');
// Something to read once format characters (zero-width space, soft hyphen, joiners…), whitespace, combining marks
// alone, default-ignorable characters (variation selectors, Hangul fillers) and the blank braille pattern are gone
// (drill G: U+3164, U+2800, a lone U+0301 or U+FE0F made a blank user name).
const VISIBLE = /[^\p{Cf}\p{M}\p{Default_Ignorable_Code_Point}\s\u2800\u3164\u115f\u1160\uffa0]/u;
// A lone surrogate would be stored as U+FFFD: not the name the application sent.
const wellFormed = (v: string): boolean => v.isWellFormed();

export const targetParams = z.object({
  // An invalid name cannot be a configured target: 404, as for any unknown target.
  target: z.string(),
});

export const sessionParams = z.object({
  // any 8-4-4-4-12 hexadecimal form (PostgreSQL's uuid takes every version); lower case, as the database answers it
  id: z.guid({ error: 'expected a session id (uuid)' }).toLowerCase(),
});

export const dossierParams = sessionParams.extend({
  code: dossierCodeSchema,
});

export const loginBody = z.strictObject(
  {
    user: z
      .string({ error: 'expected a string' })
      .trim()
      .min(1, 'a user name is required')
      .max(100, 'a user name has at most 100 characters')
      .regex(NO_CONTROL, 'a user name cannot hold control characters')
      .refine(wellFormed, 'a user name must be well-formed Unicode (no lone surrogate)')
      .regex(NO_BIDI, `a user name cannot hold bidirectional control characters or line separators (${BIDI_AND_SEPARATORS_TEXT})`)
      .regex(VISIBLE, 'a user name is required'),
    client: z
      .string({ error: 'expected a string' })
      .max(200, 'a client description has at most 200 characters')
      .regex(NO_CONTROL, 'a client description cannot hold control characters')
      .refine(wellFormed, 'a client description must be well-formed Unicode (no lone surrogate)')
      .regex(NO_BIDI, `a client description cannot hold bidirectional control characters or line separators (${BIDI_AND_SEPARATORS_TEXT})`)
      .optional(),
  },
  { error: 'expected a JSON object {user, client?}' },
);
export type LoginBody = z.infer<typeof loginBody>;

/** The routes that take no body: none, or an empty object (anything else is refused as on every /v1 route). */
export const noBody = z.strictObject({}, { error: 'expected no body, or an empty JSON object {}' }).optional();

/** R-BK-9: the event a single-dossier backup is asked for. */
export const backupTriggerBody = z.strictObject({ event: backupEventSchema }, { error: 'expected a JSON object {event}' });
export type BackupTriggerBody = z.infer<typeof backupTriggerBody>;

export const localeHeaders = z.object({
  'accept-language': z.string().max(256, 'at most 256 characters').optional(),
});

/**
 * The notice page's `?target=NAME`: documented as a string; the gate reads it leniently (a name it does not serve, a
 * malformed or repeated one: a page with no notice, as for a target with none: which names exist is not public).
 */
export const pageQuery = z.object({
  target: z.string().optional().describe("the target (database) whose notices to show: the link the business application gives its users; a name this gate does not serve shows no notice, as a target with none"),
});

/** 32 random bytes in base64url are 43 characters; the scheme is case-insensitive (RFC 9110). */
const BEARER = /^bearer ([A-Za-z0-9_-]{43})$/i;

export function isKnownTargetName(name: string, names: readonly string[]): boolean {
  return TARGET_NAME.test(name) && names.includes(name);
}

/** Parses one part of a request; the first issue becomes a 400 naming its field. */
export function parsePart<T>(schema: z.ZodType<T>, value: unknown, part: 'params' | 'headers' | 'body'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  // an unknown field's name is the caller's input: never repeated (it may be anything, a secret or markup included)
  if (issue?.code === 'unrecognized_keys') {
    throw new GateError(400, issue.message.includes('"') ? 'unknown field' : `unknown field: ${issue.message}`, field || part);
  }
  throw new GateError(400, issue?.message ?? 'invalid request', field || part);
}

/** The bearer token of a session route; anything else than a well-formed token is 401. */
export function bearerToken(headers: { authorization?: unknown }): string {
  // no zod here: a schema built per call costs more than the heartbeat's SHA-256
  const value = headers.authorization;
  const m = typeof value === 'string' ? BEARER.exec(value) : null;
  if (!m?.[1]) {
    const given = typeof value === 'string' && value.trim() !== '';
    throw new GateError(401, given ? 'malformed session token: expected Authorization: Bearer <token>' : 'a session token is required: Authorization: Bearer <token>', 'authorization');
  }
  return m[1];
}

import { z } from 'zod';

/** A target's name (`NIGHTSHIFT_TARGETS=name=postgres://…`): the one definition, used by config, gate, CLI and activities. */
export const TARGET_NAME = /^[a-z][a-z0-9_-]{0,39}$/;

export const targetNameSchema = z.string().regex(TARGET_NAME, 'a target name has lower-case letters, digits, "_" or "-" (40 at most)');

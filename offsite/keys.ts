import { z } from 'zod';
import { DOSSIER_CODE } from '../domain/dossier';
import { TARGET_NAME } from '../domain/target';

/**
 * Where a dossier's copies live in the bucket: `<prefix><target>/<code>/<name>`, `name` being the
 * archive's path below the dossier (`B{code}.SVG`, `2026-12-02/B{code}.SVG`). Every part is checked,
 * so no key escapes its dossier's folder and one dossier's listing never sees another's objects.
 */
const NAME_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export const objectNameSchema = z
  .string()
  .max(255, 'an object name has at most 255 characters')
  .refine((v) => v.split('/').every((s) => NAME_SEGMENT.test(s)), 'an object name is folders and a file name of letters, digits, ".", "_" or "-" separated by "/", none starting with "."');

/** Every dossier's folder of a target lies below it: `<prefix><target>/`. */
export function targetPrefix(prefix: string, target: string): string {
  if (!TARGET_NAME.test(target)) throw new Error(`not a target name: ${JSON.stringify(target.slice(0, 60))}`);
  return `${prefix}${target}/`;
}

export function dossierPrefix(prefix: string, target: string, code: string): string {
  if (!TARGET_NAME.test(target)) throw new Error(`not a target name: ${JSON.stringify(target.slice(0, 60))}`);
  if (!DOSSIER_CODE.test(code)) throw new Error(`not a dossier code: ${JSON.stringify(code.slice(0, 60))}`);
  return `${prefix}${target}/${code}/`;
}

export function dossierObjectKey(prefix: string, target: string, code: string, name: string): string {
  const parsed = objectNameSchema.safeParse(name);
  if (!parsed.success) throw new Error(`not an object name: ${JSON.stringify(name.slice(0, 60))}`);
  return dossierPrefix(prefix, target, code) + name;
}

/**
 * A generation's object name below its dossier's folder (R-BK-14): the generation's own file name
 * (B{code}.{UTC snapshot}.{6 hex}.SVG), so every generation is an object of its own that is never replaced,
 * and the newest object of a dossier is its latest backup; generations of the R-BK-5 folders (EchangePrest,
 * Cloture) one folder down, as on disk, so retention per folder lists them apart.
 */
export function generationObjectName(g: { kind: string; file: string }): string {
  const base = g.file.split(/[\\/]/).pop() ?? '';
  return g.kind === 'normal' ? base : `${g.kind}/${base}`;
}

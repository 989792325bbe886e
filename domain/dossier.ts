import { z } from 'zod';
import { plainTextSchema, shownInput } from './text';

/**
 * A dossier code becomes a file name (B{code}.SVG) and a schema name (d_{code}): only letters,
 * digits, '_' and '-', 1 to 40 characters, so neither can escape; it starts with a letter or a digit,
 * so that no command line takes it for an option (`--yes`, `-x`).
 */
export const DOSSIER_CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/;

export const dossierCodeSchema = z
  .string({ error: 'a dossier code must be a string' })
  .max(40, 'a dossier code has at most 40 characters')
  // the code typed said back, bounded and escaped (drill X, session 40: `--only A,B,DEMO 0010` did not say which)
  .regex(DOSSIER_CODE, { error: (iss) => `a dossier code has 1-40 letters, digits, "_" or "-" and starts with a letter or a digit, not '${shownInput(String(iss.input))}'` });

export const dossierRoles = ['supervisor', 'regular'] as const;
export type DossierRole = (typeof dossierRoles)[number];
export const copyStatuses = ['original', 'copy'] as const;
export type CopyStatus = (typeof copyStatuses)[number];

export const dossierFlagsSchema = z.object({
  test: z.boolean().default(false),
  specific: z.boolean().default(false),
  template: z.boolean().default(false),
  transferable: z.boolean().default(true),
});

export const newDossierSchema = z.object({
  code: dossierCodeSchema,
  label: plainTextSchema('the label', 200),
  role: z.enum(dossierRoles).default('regular'),
  copyStatus: z.enum(copyStatuses).default('original'),
  flags: dossierFlagsSchema.default({ test: false, specific: false, template: false, transferable: true }),
});
export type NewDossier = z.infer<typeof newDossierSchema>;

export interface Dossier {
  code: string;
  label: string;
  role: DossierRole;
  copyStatus: CopyStatus;
  flags: { test: boolean; specific: boolean; template: boolean; transferable: boolean };
  schemaName: string;
  modifiedAt: string;
  lastBackupAt: string | null;
  patchLevel: number;
  /** modified since its last complete backup (never backed up counts as modified, R-BK-2) */
  modifiedSinceBackup: boolean;
}

/** The PostgreSQL schema that holds a dossier's data. Always quoted through db/ident.ts. */
export function schemaNameFor(code: string): string {
  return `d_${dossierCodeSchema.parse(code)}`;
}

/** R-BK-5: each dossier's backup is one file B{code}.SVG. */
export function archiveFileName(code: string): string {
  return `B${dossierCodeSchema.parse(code)}.SVG`;
}

/**
 * The temporary name an archive is written under before its rename: `.B{code}.SVG.{random}.tmp`, or
 * `.B{code}.SVG.r{runId}.{random}.tmp` when a batch run writes it (so that the run, once ended, can remove
 * what a superseded attempt of its own left, and nothing else's).
 */
export function archiveTempName(code: string, random: string, runId?: number): string {
  return `.${archiveFileName(code)}.${runId === undefined ? '' : `r${runId}.`}${random}.tmp`;
}

/** What an archive's temporary name says (archiveTempName), or undefined for any other name. */
export function parseArchiveTempName(name: string): { code: string; runId?: number } | undefined {
  const m = /^\.B(.+)\.SVG\.(?:r([0-9]+)\.)?[0-9a-f]+\.tmp$/.exec(name);
  if (!m || !dossierCodeSchema.safeParse(m[1]).success) return undefined;
  return m[2] === undefined ? { code: m[1]! } : { code: m[1]!, runId: Number(m[2]) };
}

/** A restore under `code` refused because dossier `existing` differs from it only by case: what the CLI and the worker say. */
export function caseTwinMessage(existing: string, code: string, nothing: 'restored' | 'started'): string {
  return `dossier ${existing} exists, and ${code} differs from it only by case (two dossiers never do): nothing ${nothing}; restore under ${existing} (--replace overwrites it) or under another code`;
}

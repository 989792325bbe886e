import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { BACKUP_REASONS, type BackupDossierInput, type BackupReason, RESTORE_SOURCES, type RestoreDossierInput } from '../workflows/backup-dossier.api';

/** Validation of the single-dossier backup and restore inputs (CLI before start, activities again). */

import { targetNameSchema as targetSchema } from './target';

export const backupDossierInputSchema = z.object({
  target: targetSchema,
  code: dossierCodeSchema,
  reason: z.enum(BACKUP_REASONS).default('manual'),
  dateSubfolder: z.boolean().default(false),
  includeDocuments: z.boolean().default(false),
}) satisfies z.ZodType<BackupDossierInput, unknown>;

/** An absolute path without NUL: the worker opens it as given. */
export const archivePathSchema = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'a file path cannot hold NUL')
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'the archive path must be absolute (the worker reads it)');

export const restoreDossierInputSchema = z.object({
  target: targetSchema,
  file: archivePathSchema,
  as: dossierCodeSchema.optional(),
  replace: z.boolean().default(false),
  generationId: z.number().int().positive().optional(),
  from: z.enum(RESTORE_SOURCES).optional(),
})
  .refine((i) => i.from === undefined || i.generationId !== undefined, { message: 'from is for a generation (restore --at)', path: ['from'] }) satisfies z.ZodType<RestoreDossierInput, unknown>;

/** R-BK-5: sub-folders for the backups taken before a provider exchange or before closing a dossier. */
export const REASON_FOLDERS: Record<BackupReason, string | undefined> = {
  manual: undefined,
  'echange-prestataire': 'EchangePrest',
  cloture: 'Cloture',
};

/**
 * The destination folder's path segments under the backup folder: the reason's folder, then the
 * optional date sub-folder named YYYYMMDD from the worker's local date (same style as the
 * svgauto-YYYYMMDD-HHMMSS.txt report names, R-BK-7).
 */
export function destinationSegments(reason: BackupReason, dateSubfolder: boolean, localDate: { year: number; month: number; day: number }): string[] {
  const segments: string[] = [];
  const reasonFolder = REASON_FOLDERS[reason];
  if (reasonFolder) segments.push(reasonFolder);
  if (dateSubfolder) {
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    segments.push(`${pad(localDate.year, 4)}${pad(localDate.month, 2)}${pad(localDate.day, 2)}`);
  }
  return segments;
}

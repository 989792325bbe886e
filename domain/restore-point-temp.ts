import { archiveFileName, dossierCodeSchema } from './dossier';

/**
 * R-PI-11: a patch run's restore point is written under `.B{code}.SVG.p{patchRunId}.{random}.tmp`, so that what a
 * worker killed mid-write leaves is known as that run's (no batch's: archiveTempName, `r{runId}` or nothing).
 */
export function restorePointTempName(code: string, random: string, patchRunId: number): string {
  return `.${archiveFileName(code)}.p${patchRunId}.${random}.tmp`;
}

/** What a restore point's temporary name says (restorePointTempName), or undefined for any other name. */
export function parseRestorePointTempName(name: string): { code: string; patchRunId: number } | undefined {
  const m = /^\.B(.+)\.SVG\.p([0-9]+)\.[0-9a-f]+\.tmp$/.exec(name);
  if (!m || !dossierCodeSchema.safeParse(m[1]).success) return undefined;
  return { code: m[1]!, patchRunId: Number(m[2]) };
}

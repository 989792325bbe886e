import path from 'node:path';
import { dossierCodeSchema } from '../domain/dossier';

/** A dossier's documents folder: `<documents dir>/<target>/<code>` (the code is checked, never a path). */
export function documentsFolder(documentsDir: string, target: string, code: string): string {
  return path.join(documentsDir, target, dossierCodeSchema.parse(code));
}

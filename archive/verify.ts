import type { VerifyArchiveResult } from '../workflows/backup-dossier.api';
import { readArchive } from './reader';

/** Reads and checks a whole archive without touching any database. */
export async function verifyArchive(file: string): Promise<VerifyArchiveResult> {
  const { header, manifest } = await readArchive(file);
  return {
    file,
    code: header.code,
    label: header.label,
    patchLevel: header.patchLevel,
    createdAt: header.createdAt,
    snapshotAt: header.snapshotAt,
    codec: header.codec,
    tables: manifest.tables,
    documents: manifest.documents.length,
    parts: manifest.parts.length,
  };
}

import type { VerifyArchiveResult } from '../workflows/backup-dossier.api';
import type { BackupKeyring } from './keys';
import { readArchive } from './reader';

/**
 * Reads and checks a whole archive without touching any database; an encrypted one with `keys`
 * (every chunk authenticated). `keyId` names the key it was encrypted with, absent for a plain archive.
 */
export async function verifyArchive(file: string, keys?: BackupKeyring): Promise<VerifyArchiveResult & { keyId?: string }> {
  const { header, manifest, info } = await readArchive(file, {}, keys);
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
    ...(info.keyId === undefined ? {} : { keyId: info.keyId }),
  };
}

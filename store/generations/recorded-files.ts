import type { Queryable } from '../queryable';

/**
 * Which of these files are a generation's own file, kept or pruned (R-BK-11): the prune's sweep of files left by
 * interrupted backups asks only about the names it found on disk (the unique index on file, never the table).
 */
export async function recordedFiles(db: Queryable, files: string[]): Promise<Set<string>> {
  if (!files.length) return new Set();
  const { rows } = await db.query<{ file: string }>('SELECT file FROM nightshift.backup_generation WHERE file = ANY($1::text[])', [files]);
  return new Set(rows.map((r) => r.file));
}

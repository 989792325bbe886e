import fs from 'node:fs';

/**
 * A run's report path as the status commands print it: one this host cannot see is said so (the disk lost with it,
 * or the report folder is another host's: drill D printed a report lost with the disk as if it were there).
 */
export function reportPathText(file: string | null, none: string): string {
  if (!file) return none;
  return fs.existsSync(file) ? file : `${file} (not found on this host: lost with its disk, or in another host's folder)`;
}

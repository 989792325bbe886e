import fs from 'node:fs';

/** True while a process of that pid exists (EPERM: it exists, owned by another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True while pid runs a program whose command line mentions `needle` (a reused pid is someone else's). */
export function runs(pid: number, needle: string): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(needle);
  } catch {
    return false;
  }
}

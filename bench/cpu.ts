import fs from 'node:fs';

/**
 * CPU seconds spent by a process tree (the bench, its worker, PostgreSQL and its backends, the Temporal
 * server): for every live process below `root`, user + system time of its own and of the children it has
 * reaped (a PostgreSQL backend that ended is counted in the postmaster's). Unlike wall time, it does not
 * grow when other work shares the machine, so per-dossier CPU time compares two sizes measured at different
 * loads. Linux only (/proc); 0 elsewhere.
 */
export function treeCpuSeconds(root = process.pid): number {
  const ticks = 100; // sysconf(_SC_CLK_TCK) on Linux
  const stats = new Map<number, { ppid: number; ticks: number }>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    // the command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17
    stats.set(Number(e), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
  }
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let total = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    total += stats.get(pid)?.ticks ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return total / ticks;
}

import fs from 'node:fs';

/**
 * CPU seconds spent by a process tree (the bench, its worker, PostgreSQL and its backends, the Temporal
 * server): for every live process below `root`, user + system time of its own and of the children it has
 * reaped (a PostgreSQL backend that ended is counted in the postmaster's). Unlike wall time, it does not
 * grow when other work shares the machine, so per-dossier CPU time compares two sizes measured at different
 * loads. Linux only (/proc); 0 elsewhere.
 */
export function treeCpuSeconds(root = process.pid): number {
  return cpuTotal(treeCpuByProcess(root));
}

/** The whole tree's CPU seconds of a split (system time is already inside the processes' figures). */
export function cpuTotal(parts: Record<CpuPart, number>): number {
  return parts.bench + parts.worker + parts.postgres + parts.temporal + parts.other;
}

/** What bench/backup-batch-scale.ts attributes CPU time to (`system`: the kernel's share of all of them). */
export type CpuPart = 'bench' | 'worker' | 'postgres' | 'temporal' | 'other' | 'system';
const PARTS: CpuPart[] = ['bench', 'worker', 'postgres', 'temporal', 'other', 'system'];

interface ProcStat {
  ppid: number;
  comm: string;
  ticks: number;
  /** system time (stime + cstime): the kernel's work for it (I/O, page cache, reclaim) */
  sysTicks: number;
}

function readProcStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return stats;
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
    const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17
    stats.set(Number(e), { ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), sysTicks: Number(f[12]) + Number(f[14]) });
  }
  return stats;
}

/**
 * The same CPU seconds split by part: each child subtree of `root` is the worker's (pid `workerPid`),
 * PostgreSQL's (a `postgres` process: the postmaster, its backends and helpers), the Temporal server's (a
 * `temporal` process) or other; `root` itself (with the children it reaped: the workflow bundler) is the bench's.
 */
export function treeCpuByProcess(root = process.pid, workerPid?: number): Record<CpuPart, number> {
  const ticks = 100; // sysconf(_SC_CLK_TCK) on Linux
  const stats = readProcStats();
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  const parts: Record<CpuPart, number> = { bench: 0, worker: 0, postgres: 0, temporal: 0, other: 0, system: 0 };
  const partOf = (pid: number): CpuPart => {
    const comm = stats.get(pid)?.comm ?? '';
    if (pid === workerPid) return 'worker';
    if (comm.startsWith('postgres')) return 'postgres';
    if (comm.startsWith('temporal')) return 'temporal';
    return 'other';
  };
  parts.bench += (stats.get(root)?.ticks ?? 0) / ticks;
  parts.system += (stats.get(root)?.sysTicks ?? 0) / ticks;
  for (const child of children.get(root) ?? []) {
    const part = partOf(child);
    const todo = [child];
    while (todo.length) {
      const pid = todo.pop()!;
      parts[part] += (stats.get(pid)?.ticks ?? 0) / ticks;
      parts.system += (stats.get(pid)?.sysTicks ?? 0) / ticks;
      todo.push(...(children.get(pid) ?? []));
    }
  }
  return parts;
}

/** `(b - a) / per`, part by part. */
export function cpuSince(a: Record<CpuPart, number>, b: Record<CpuPart, number>, per = 1): Record<CpuPart, number> {
  return Object.fromEntries(PARTS.map((p) => [p, (b[p] - a[p]) / per])) as Record<CpuPart, number>;
}

/** e.g. `worker 9.10, postgres 12.00, temporal 4.20, bench 0.30 (system 3.10)` (ms per dossier; other only when there is some). */
export function formatCpuParts(parts: Record<CpuPart, number>, dossiers: number): string {
  const ms = (s: number) => ((s * 1000) / Math.max(1, dossiers)).toFixed(2);
  const shown: CpuPart[] = ['worker', 'postgres', 'temporal', 'bench', ...(parts.other > 0 ? (['other'] as const) : [])];
  return `${shown.map((p) => `${p} ${ms(parts[p])}`).join(', ')} (of which system ${ms(parts.system)})`;
}

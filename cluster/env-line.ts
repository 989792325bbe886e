/** Environment lines for a shell: `cluster up`'s banner and <dir>/env (loaded by the CLI without the cluster code). */

/** A value as the shell reads it back: bare when safe, else single-quoted. */
export function shellWord(v: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`;
}

export function envLine(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${shellWord(v)}`).join(' ');
}

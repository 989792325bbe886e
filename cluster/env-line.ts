/** Environment lines for a shell: `cluster up`'s banner and <dir>/env (loaded by the CLI without the cluster code). */
import { shellWord } from '../domain/text';

export function envLine(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${shellWord(v)}`).join(' ');
}

import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../config/config';
import { shellWord } from '../domain/text';
import type { ProcessSpec } from './processes';

/** `<dir>/restart/<name>`: one script per process of the cluster. */
export const RESTART_DIR = 'restart';

const HEADER = (name: string) => [
  '#!/bin/sh',
  `# Starts ${name} again as \`nightshift cluster up\` started it: its command line and the variables of its own beyond`,
  '# <dir>/env (drill K: a gate restarted by hand without its trusted proxy counted every user behind HAProxy as one',
  '# address, a second gate took the first one\'s metrics port, PostgreSQL came back on 5432). Written at every `up`;',
  '# holds no secret: run it from a shell holding what `up` was given (NIGHTSHIFT_PG_PASSWORD, the backup keys...).',
  '# `cluster down` and the next `up` stop what it starts too.',
  'set -e',
];

function write(dataDir: string, name: string, lines: string[]): string {
  const dir = path.join(dataDir, RESTART_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, name);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, `${[...HEADER(name), ...lines].join('\n')}\n`, { mode: 0o700 });
  fs.renameSync(tmp, file);
  return file;
}

/** A supervised process (a Temporal service, a worker, a gate, HAProxy): detached, appending to its log as `up` does. */
export function writeProcessRestartScript(dataDir: string, spec: ProcessSpec, logFile: string): string {
  const q = shellWord;
  const env = Object.entries(spec.restartEnv ?? {}).map(([k, v]) => `export ${k}=${q(v)}`);
  const command = [spec.command, ...spec.args].map(q).join(' ');
  return write(dataDir, spec.name, [
    `set -a; . ${q(path.join(dataDir, 'env'))}; set +a`,
    ...env,
    `cd ${q(PROJECT_ROOT)}`,
    `printf '\\n--- %s start ${spec.name} (restart script): %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" ${q(command)} >> ${q(logFile)}`,
    `setsid ${command} >> ${q(logFile)} 2>&1 < /dev/null &`,
    'pid=$!',
    // one that exits at once (a password not given, a port taken) is said so, with its log's last lines (drill K2: it
    // said "started again" of a worker dead a second later)
    'sleep 2',
    `if ! kill -0 "$pid" 2>/dev/null; then echo "${spec.name} exited at once; the end of its log ${logFile}:" >&2; tail -n 5 ${q(logFile)} >&2; exit 1; fi`,
    `echo "${spec.name} started again (pid $pid); log ${logFile}"`,
  ]);
}

/** PostgreSQL: pg_ctl on its data folder, as the OS user it runs as; its port and settings are in the folder's own configuration. */
export function writePostgresRestartScript(dataDir: string, startCommand: string): string {
  return write(dataDir, 'postgres', [startCommand, 'echo "PostgreSQL started again (pg_ctl waited until it accepts connections)"']);
}

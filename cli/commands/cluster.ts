import path from 'node:path';
import type { Command } from 'commander';
import { action, config, parseFlag, wholeNumberSchema, EXIT_OK } from '../context';
import type { Cluster } from '../../cluster/cluster';
import { envLine } from '../../cluster/env-line';
import { shellWord } from '../../domain/text';

/** Loaded when the command runs: `--help` and the other commands never load the cluster code. */
function clusterModule(): typeof import('../../cluster/cluster') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../../cluster/cluster') as typeof import('../../cluster/cluster');
}

const count = wholeNumberSchema(1, 8, 'expected 1-8');
/** Temporal keeps its ports in a smallint column: the whole range under 32768 (at most 3 + 4 + 3 × 8 ports). */
// Temporal keeps its membership ports in a smallint: the whole range must end at 32767 at most (drill K2: "expected 1024-32700" said not why)
const PORTS_FROM_RANGE = 'expected 1024-32700 (not a privileged port, and every port of the cluster at most 32767: Temporal keeps its ports in a smallint)';
const firstPort = wholeNumberSchema(1024, 32_700, PORTS_FROM_RANGE);

/** The cluster's folder: --dir, else <NIGHTSHIFT_DATA_DIR>-cluster (next to the dev stack's, never in it). */
function clusterDir(dir: string | undefined): string {
  return dir ? path.resolve(dir) : `${config().dataDir}-cluster`;
}

function banner(c: Cluster, readyLine: string): string {
  const row = (name: string, what: string) => `  ${name.padEnd(18)} ${what}`;
  const shown = (file: string) => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file));
  const procs = c.processes().map((p) => row(p.name, `pid ${p.pid ?? '-'}  log ${shown(p.logFile)}`));
  return [
    `${readyLine} (folder ${c.dataDir})`,
    row('PostgreSQL', `127.0.0.1:${c.postgres.port}  (target main: database nightshift; Temporal: temporal, temporal_visibility)`),
    row('Temporal', `${c.temporalAddress}  (frontend; history, matching and worker as their own processes)`),
    row('Gate', `${c.gateUrl}  (HAProxy in front of ${c.gates.length} gates)`),
    row('SMTP catcher', `127.0.0.1:${c.config.smtp.port}  (messages in ${c.mailDir})`),
    ...procs,
    '',
    `The gate's API key is in ${c.apiKeyFile} (0600); send it in the ${c.apiKeyHeader} header:`,
    `  curl -H "${c.apiKeyHeader}: $(cat ${c.apiKeyFile})" ${c.gateUrl}/v1/targets/main/status`,
    `A nightshift command on this cluster (doctor included), in another terminal of this folder: source ${c.envFile} (0600, no secret)`,
    `  set -a; . ${shellWord(c.envFile)}; set +a; node bin/nightshift.js doctor`,
    `  or: ${envLine(c.commandEnv)} node bin/nightshift.js dossiers list`,
    'This cluster runs no Temporal Web UI (NIGHTSHIFT_UI_URL=none); `up` prints a line when a process ends, and restarts none:',
    `  ${shown(path.join(c.dataDir, 'restart'))}/<name> starts one again as this \`up\` did (postgres, temporal-*, worker-N, gate-N, haproxy), from a shell holding what \`up\` was given`,
    '',
    'Ctrl-C (or `nightshift cluster down`) stops every process.',
  ].join('\n');
}

/** nightshift cluster up|down */
export function registerClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('a production-like topology on this machine: PostgreSQL, the Temporal server (4 services), workers, gates behind HAProxy, SMTP catcher');

  cluster
    .command('up')
    .description('start the cluster in the foreground (every process on 127.0.0.1, free ports) until Ctrl-C / SIGTERM')
    .option('--dir <path>', 'folder of the cluster (default: <NIGHTSHIFT_DATA_DIR>-cluster)')
    .option('--workers <n>', 'Nightshift workers (1-8)', '2')
    .option('--gates <n>', 'gates behind the load balancer (1-8)', '2')
    .option('--ports-from <port>', 'the same ports at every start, from this one on (1024-32700): the gate address (HAProxy), PostgreSQL, SMTP, Temporal, then each gate and worker (default: free ports at random)')
    .action(
      action(async (opts: { dir?: string; workers: string; gates: string; portsFrom?: string }) => {
        const workers = parseFlag('--workers', count, opts.workers);
        const gates = parseFlag('--gates', count, opts.gates);
        const portsFrom = opts.portsFrom === undefined ? undefined : parseFlag('--ports-from', firstPort, opts.portsFrom);
        const { startCluster, CLUSTER_READY_LINE } = clusterModule();
        const controller = new AbortController();
        const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
        const onSignal = (sig: NodeJS.Signals) => {
          process.stderr.write(`\n${sig}: stopping the cluster\n`);
          controller.abort();
        };
        for (const s of signals) process.on(s, onSignal);
        const say = (line: string) => process.stdout.write(`${line}\n`);
        try {
          const c = await startCluster({ dataDir: clusterDir(opts.dir), workers, gates, ...(portsFrom !== undefined && { portsFrom }), say, signal: controller.signal });
          say(banner(c, CLUSTER_READY_LINE));
          if (!controller.signal.aborted) await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
          await c.stop();
          say('cluster stopped');
        } finally {
          for (const s of signals) process.off(s, onSignal);
        }
        return EXIT_OK;
      }),
    );

  cluster
    .command('down')
    .description('stop the cluster of a folder (its `up` process, or what a killed one left running)')
    .option('--dir <path>', 'folder of the cluster (default: <NIGHTSHIFT_DATA_DIR>-cluster)')
    .action(
      action(async (opts: { dir?: string }) => {
        const { stopCluster } = clusterModule();
        const dir = clusterDir(opts.dir);
        const outcome = await stopCluster(dir, (line) => process.stdout.write(`${line}\n`));
        process.stdout.write(outcome === 'stopped' ? `cluster on ${dir} stopped\n` : `no cluster runs on ${dir}\n`);
        return EXIT_OK;
      }),
    );
}

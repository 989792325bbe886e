import type { Command } from 'commander';
import { z } from 'zod';
import { lazy } from '../lazy';
import { action, config, jsonOption, output, parseFlag, EXIT_FAILED, EXIT_OK } from '../context';

/** doctor --timeout: whole milliseconds, as typed (`abc` or `-1` is said so, exit 2) */
const TIMEOUT_MS = z
  .string()
  .trim()
  .regex(/^\d{1,6}$/, 'expected a whole number of milliseconds, e.g. 4000')
  .transform(Number)
  .pipe(z.number().min(100, 'at least 100 ms').max(600_000, 'at most 600000 ms (10 minutes)'));

/**
 * A controller aborted by the first SIGINT/SIGTERM/SIGHUP (graceful stop); a second one forces the exit,
 * after `onForce` had a chance to kill child processes.
 */
function stopSignal(onForce: () => void = () => {}): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handler = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      process.stderr.write(`\n${sig}: stopping gracefully (again to force)\n`);
      controller.abort();
      return;
    }
    process.stderr.write(`${sig} again: forcing exit\n`);
    onForce();
    process.exit(EXIT_FAILED);
  };
  for (const s of signals) process.on(s, handler);
  return { signal: controller.signal, dispose: () => signals.forEach((s) => process.off(s, handler)) };
}

/** nightshift dev|worker|doctor */
export function registerStackCommands(program: Command): void {
  program
    .command('worker')
    .description('run the Temporal worker: every workflow and activity, Prometheus metrics, graceful stop on SIGINT/SIGTERM')
    .action(
      action(async () => {
        const cfg = config();
        const { runWorker } = lazy<typeof import('../../workers/main')>(__dirname, '../../workers/main');
        const stop = stopSignal();
        const ran = await runWorker(cfg, { signal: stop.signal }).finally(() => stop.dispose());
        // activities abandoned at the forced shutdown may keep sockets and the native worker alive: exit now
        if (ran.abandoned) setImmediate(() => process.exit(EXIT_OK));
        return EXIT_OK;
      }),
    );

  program
    .command('dev')
    .description('run the whole stack locally under NIGHTSHIFT_DATA_DIR: PostgreSQL, Temporal dev server + UI, SMTP catcher, worker, demo data')
    .action(
      action(async () => {
        const cfg = config();
        const { forceStopChildren, runDev } = lazy<typeof import('./dev')>(__dirname, './dev');
        const stop = stopSignal(() => forceStopChildren(cfg));
        // Whatever escapes (a library's unhandled 'error' event): the children go too, and the user reads one line.
        const crash = (err: unknown) => {
          forceStopChildren(cfg);
          const why = err instanceof Error ? err.message : String(err);
          process.stderr.write(`nightshift: dev stopped on an unexpected error: ${why.replace(/\s+/g, ' ').trim()} (logs in ${cfg.dataDir}/logs)\n`);
          process.exit(EXIT_FAILED);
        };
        process.once('uncaughtException', crash);
        process.once('unhandledRejection', crash);
        try {
          await runDev(cfg, { signal: stop.signal });
        } finally {
          stop.dispose();
          process.off('uncaughtException', crash);
          process.off('unhandledRejection', crash);
        }
        return EXIT_OK;
      }),
    );

  program
    .command('doctor')
    .description('check Temporal, the Web UI, the worker, PostgreSQL (every target), metrics, the gate, SMTP and the tools')
    .addOption(jsonOption())
    .option('--timeout <ms>', 'time allowed to each check, in milliseconds (100-600000)', '4000')
    .action(
      action(async (opts: { json?: boolean; timeout: string }) => {
        const timeout = parseFlag('--timeout', TIMEOUT_MS, opts.timeout);
        const { runDoctor, renderDoctor } = lazy<typeof import('./doctor')>(__dirname, './doctor');
        const report = await runDoctor(config(), timeout);
        output(opts.json, report, renderDoctor);
        return report.ok ? EXIT_OK : EXIT_FAILED;
      }),
    );
}

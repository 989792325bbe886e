import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, dropOutputOnClosedPipe, reportError } from './context';
import { shownInput, terminalSafe } from '../domain/text';
import { UsageError } from '../config/config';
import { registerDossierCommands } from './commands/dossiers';
import { registerBackupCommands } from './commands/backup';
import { registerBackupBatchCommands } from './commands/backup-batch';
import { registerBackupVerifyCommands } from './commands/backup-verify';
import { registerBackupInfoCommand } from './commands/backup-info';
import { registerStackCommands } from './commands/stack';
import { registerGateCommands } from './commands/gate';
import { registerMaintenanceCommands } from './commands/maintenance';
import { registerPatchCommands } from './commands/patch';
import { registerClusterCommands } from './commands/cluster';
import { registerStoreCommands } from './commands/store';

/** Commander wiring only: each command group lives in cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('nightshift')
    .description('Durable night work for multi-dossier business software: maintenance windows, backups, patches')
    .option('--debug', 'print stack traces on errors')
    .version(packageVersion(), '-V, --version', 'print the version');
  registerStackCommands(program);
  registerDossierCommands(program);
  registerBackupCommands(program);
  registerBackupBatchCommands(program.commands.find((c) => c.name() === 'backup')!);
  registerBackupVerifyCommands(program.commands.find((c) => c.name() === 'backup')!);
  registerBackupInfoCommand(program.commands.find((c) => c.name() === 'backup')!);
  registerMaintenanceCommands(program);
  registerGateCommands(program);
  registerPatchCommands(program);
  registerClusterCommands(program);
  registerStoreCommands(program);
  for (const cmd of [program, ...allCommands(program)]) {
    refuseRepeatedOptions(cmd);
    // commander's own refusals (unknown option, missing argument...) are said once, by main(), as one line
    cmd.configureOutput({ outputError: () => {} });
    cmd.exitOverride((err) => {
      refusedBy.set(err, cmd);
      throw err;
    });
  }
  return program;
}

/**
 * An option that takes a value, given twice, is refused, exit 2, before anything is read or started: commander keeps
 * the last one silently (drill X, session 40: `backup forget CODE --id 10 --id 11` forgot 11 alone, `--reason CLOTURE
 * --reason manual` wrote a normal generation). --target says it its own way (cli/context.ts).
 */
function refuseRepeatedOptions(cmd: Command): void {
  const given = new Map<string, string[]>();
  for (const option of cmd.options) {
    if (option.variadic || !(option.required || option.optional) || option.long === '--target') continue;
    const flag = option.long ?? option.short ?? option.name();
    cmd.on(`option:${option.name()}`, (value: string | undefined) => {
      const values = [...(given.get(flag) ?? []), value === undefined ? '(no value)' : shownInput(value)];
      given.set(flag, values);
      if (values.length < 2) return;
      // a flag that takes a list (drill R, session 40: `--as`, one code, was told to list them)
      const list = /<(codes|addresses)>/.test(option.flags) ? ' (several: one value, comma-separated)' : '';
      throw new UsageError(`${flag} given twice (${values.join(', ')}): give it once${list}`);
    });
  }
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The command whose parsing refused the command line: its --help is named in the refusal. */
const refusedBy = new WeakMap<CommanderError, Command>();

/** `nightshift dossiers list`: the command as typed. */
function commandPath(cmd: Command | undefined): string {
  const names: string[] = [];
  for (let c = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return ['nightshift', ...names].join(' ');
}

/** Help asked for (or shown for a command group without its subcommand): no refusal line to add. */
const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/**
 * A commander refusal as every other refusal reads: one line `nightshift: …` (commander wrote `error: …` and a
 * second line), naming the help of the command refused.
 */
export function commanderRefusal(err: CommanderError): string {
  const what = err.message.replace(/^error:\s*/, '').replace(/\s*\n\s*/g, ' ').trim();
  return `nightshift: ${terminalSafe(what)} (see '${commandPath(refusedBy.get(err))} --help')`;
}

function* allCommands(cmd: Command): Generator<Command> {
  for (const sub of cmd.commands) {
    yield sub;
    yield* allCommands(sub);
  }
}

export async function main(argv: string[]): Promise<void> {
  dropOutputOnClosedPipe();
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are successes; every other commander error is bad usage
      if (err.exitCode !== 0 && !HELP_CODES.has(err.code)) process.stderr.write(`${commanderRefusal(err)}\n`);
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(err, argv.includes('--debug'));
  }
}

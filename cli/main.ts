import { Command, CommanderError } from 'commander';
import { EXIT_USAGE, dropOutputOnClosedPipe, reportError } from './context';
import { registerDossierCommands } from './commands/dossiers';
import { registerBackupCommands } from './commands/backup';
import { registerBackupBatchCommands } from './commands/backup-batch';
import { registerBackupVerifyCommands } from './commands/backup-verify';
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
    .showHelpAfterError('(add --help for usage)')
    .exitOverride();
  registerStackCommands(program);
  registerDossierCommands(program);
  registerBackupCommands(program);
  registerBackupBatchCommands(program.commands.find((c) => c.name() === 'backup')!);
  registerBackupVerifyCommands(program.commands.find((c) => c.name() === 'backup')!);
  registerMaintenanceCommands(program);
  registerGateCommands(program);
  registerPatchCommands(program);
  registerClusterCommands(program);
  registerStoreCommands(program);
  for (const cmd of allCommands(program)) cmd.exitOverride();
  return program;
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
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(err, argv.includes('--debug'));
  }
}

import type { Command } from 'commander';

/** nightshift backup dossier|restore */
export function registerBackupCommands(program: Command): void {
  program.command('backup').description('back up and restore dossiers');
}

import type { Command } from 'commander';

/** nightshift dossiers list|show|create|delete|demo */
export function registerDossierCommands(program: Command): void {
  program.command('dossiers').description('the dossier registry of a target');
}

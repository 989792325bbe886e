import type { Command } from 'commander';

/** nightshift maintenance schedule|list|status|edit|extend|cancel|complete|reopen */
export function registerMaintenanceCommands(_program: Command): void {}

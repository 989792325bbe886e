import type { Command } from 'commander';

/** nightshift gate */
export function registerGateCommands(_program: Command): void {}

import type { Command } from 'commander';

/** nightshift dev|worker|doctor */
export function registerStackCommands(_program: Command): void {}

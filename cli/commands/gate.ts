import type { Command } from 'commander';
import { createTargetPools } from '../../workers/resources';
import { action, config, target, targetOption } from '../context';

/** Connections per target: heartbeats are single short statements, PostgreSQL is the bottleneck. */
const GATE_POOL_SIZE = 10;

/** nightshift gate [--target T]: serves every configured target (or only T) until SIGINT / SIGTERM. */
export function registerGateCommands(program: Command): void {
  program
    .command('gate')
    .description('run the HTTP session gate (login, heartbeats, maintenance notices) on NIGHTSHIFT_GATE_HOST:NIGHTSHIFT_GATE_PORT')
    .addOption(targetOption())
    .action(
      action(async (opts: { target?: string }) => {
        const cfg = config();
        const served = opts.target === undefined ? cfg : { ...cfg, targets: [target(opts.target)] };
        const pools = createTargetPools(served, GATE_POOL_SIZE);
        try {
          await assertMigrated(served.targets.map((t) => t.name), pools);
        } catch (err) {
          await pools.end();
          throw err;
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { startGate } = require('../../gate/server') as typeof import('../../gate/server');
        const gate = await startGate(served, pools);
        process.stdout.write(`nightshift gate: listening on ${gate.address} for ${served.targets.map((t) => t.name).join(', ')}\n`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await gate.close();
        await pools.end();
      }),
    );
}

/** Fails fast, naming the target, when its database lacks the gate's tables. */
async function assertMigrated(names: string[], pools: ReturnType<typeof createTargetPools>): Promise<void> {
  for (const name of names) {
    const { rows } = await pools.get(name).query<{ ok: boolean }>("SELECT to_regclass('nightshift.maintenance_window') IS NOT NULL AS ok");
    if (!rows[0]?.ok) throw new Error(`target ${name}: the nightshift tables are missing; apply the migrations first (nightshift dev / doctor)`);
  }
}

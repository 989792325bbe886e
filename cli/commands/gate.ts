import type { Command } from 'commander';
import { z } from 'zod';
import { CONTROL_CHARS_PROBLEM, hasControlChars } from '../../domain/text';
import { issueKey, KEY_NAME } from '../../gate/keys';
import { listKeys } from '../../store/gate/list-keys';
import type { GateKey } from '../../store/gate/key-row';
import { revokeKey } from '../../store/gate/revoke-key';
import { migrationShortfall } from '../../db/migrate';
import { databaseOutage } from '../../store/server/outage';
import { createTargetPools } from '../../workers/resources';
import { UsageError } from '../../config/config';
import { SaidError, action, config, jsonOption, output, parseFlag, target, targetOption, targetSource, withPools } from '../context';

/** Connections per target: heartbeats are single short statements, PostgreSQL is the bottleneck. */
const GATE_POOL_SIZE = 10;

/** Trimmed as the other text fields are (a trailing space would be stored, then never typed again); controls refused before. */
const keyName = z
  .string()
  .refine((v) => !hasControlChars(v), { message: CONTROL_CHARS_PROBLEM, abort: true })
  .trim()
  .min(1, 'a key name is empty')
  .regex(KEY_NAME, 'a key name has 1-60 letters, digits, spaces, dots, _ or -, starting with a letter or digit');
const keyId = z.uuid({ error: 'expected a key id (uuid, see `nightshift gate keys list`)' });

/** nightshift gate [--target T]: serves every configured target (or only T) until SIGINT / SIGTERM; gate keys ...: its API keys. */
export function registerGateCommands(program: Command): void {
  const gate = program
    .command('gate')
    .description('run the HTTP session gate (login, heartbeats, maintenance notices) on NIGHTSHIFT_GATE_HOST:NIGHTSHIFT_GATE_PORT')
    .addOption(targetOption())
    .action(
      action(async (opts: { target?: string }) => {
        const cfg = config();
        const served = opts.target === undefined ? cfg : { ...cfg, targets: [target(opts.target)] };
        const pools = createTargetPools(served, GATE_POOL_SIZE);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { startGate } = require('../../gate/server') as typeof import('../../gate/server');
        let running: Awaited<ReturnType<typeof startGate>>;
        try {
          await assertMigrated(served.targets.map((t) => t.name), pools);
          running = await startGate(served, pools);
        } catch (err) {
          // nothing may keep the process alive after a failed start (issue 9: a taken port hung forever)
          await pools.end();
          throw err;
        }
        process.stdout.write(
          `nightshift gate: listening on ${running.address} for ${served.targets.map((t) => t.name).join(', ')} (metrics on ${running.metricsAddress})\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await running.close();
        await pools.end();
      }),
    );

  const keys = gate.command('keys').description('API keys of the business application (one per application instance, per target)');

  keys
    .command('create')
    .description('create a key for a target; its secret is printed once, never again')
    .addOption(targetOption())
    .requiredOption('--name <name>', 'which application instance uses it (e.g. "compta-web-01")')
    .addOption(jsonOption())
    .action(
      action(async (opts: { target?: string; name: string; json?: boolean }, cmd: Command) => {
        const name = parseFlag('--name', keyName, opts.name);
        await withPools(targetOf(opts, cmd), async (pool, t) => {
          const { key, secret } = await issueKey(pool, name);
          // a live key of the same name: a rotation under way (said, with its next step), or a slip (said too)
          const sameName = (await listKeys(pool)).filter((k) => k.name === name && k.id !== key.id && !k.revokedAt).map((k) => k.id);
          output(opts.json, { target: t, ...key, secret, ...(sameName.length ? { otherLiveKeysOfThisName: sameName } : {}) }, () =>
            [
              `created key ${key.id} "${key.name}" for target ${t}`,
              `secret (shown once; store it in the application's configuration):`,
              `  ${secret}`,
              `send it on every /v1 request: X-Nightshift-Key: ${key.prefix}…`,
              ...(sameName.length
                ? [`key(s) ${sameName.join(', ')} of the same name stay valid: once the application uses the new secret, revoke the old one (nightshift gate keys revoke ${sameName[0]} --target ${t})`]
                : []),
            ].join('\n'),
          );
        });
      }),
    );

  keys
    .command('list')
    .description('list the keys of a target (or of every target): id, name, prefix, created, last used, revoked; never a secret')
    .addOption(targetOption('one target (default: every configured target)'))
    .addOption(jsonOption())
    .action(
      action(async (opts: { target?: string; json?: boolean }, cmd: Command) => {
        const only = targetOf(opts, cmd);
        const names = only === undefined ? config().targets.map((t) => t.name) : [target(only).name];
        const rows: (GateKey & { target: string })[] = [];
        for (const name of names) {
          await withPools(name, async (pool) => {
            for (const k of await listKeys(pool)) rows.push({ target: name, ...k });
          });
        }
        output(opts.json, rows, renderKeys);
      }),
    );

  keys
    .command('revoke')
    .description('revoke a key: gates refuse it within NIGHTSHIFT_GATE_KEY_REFRESH_S seconds')
    .argument('<id>', 'key id (from `gate keys list`)')
    .addOption(targetOption('the key\'s target (default: looked up in every configured target)'))
    .addOption(jsonOption())
    .action(
      action(async (rawId: string, opts: { target?: string; json?: boolean }, cmd: Command) => {
        const id = parseFlag('ID', keyId, rawId);
        const only = targetOf(opts, cmd);
        const names = only === undefined ? config().targets.map((t) => t.name) : [target(only).name];
        for (const name of names) {
          const outcome = await withPools(name, (pool) => revokeKey(pool, id));
          if (outcome === 'unknown') continue;
          output(opts.json, { id, target: name, outcome }, () =>
            outcome === 'revoked' ? `revoked key ${id} of target ${name}: running gates accept it for up to ${config().gate.keyRefreshSeconds} s more (NIGHTSHIFT_GATE_KEY_REFRESH_S)` : `key ${id} of target ${name} was already revoked`,
          );
          return;
        }
        // an id that names nothing is bad usage (exit 2, nothing changed), as an unknown dossier code or run id is
        throw new UsageError(`no key ${id} in ${names.length > 1 ? 'any configured target' : `target ${names[0]}`}`);
      }),
    );
}

/** `gate` has its own --target: commander hands a --target written after `keys create` to it. */
function targetOf(opts: { target?: string }, cmd: Command): string | undefined {
  return opts.target ?? (cmd.optsWithGlobals() as { target?: string }).target;
}

function renderKeys(rows: (GateKey & { target: string })[]): string {
  if (!rows.length) return 'no keys (create one with: nightshift gate keys create --name NAME)';
  const day = (d: Date | null) => (d ? d.toISOString().replace(/\.\d+Z$/, 'Z') : '-');
  const table = [
    ['TARGET', 'ID', 'NAME', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
    ...rows.map((k) => [k.target, k.id, k.name, `${k.prefix}…`, day(k.createdAt), day(k.lastUsedAt), day(k.revokedAt)]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/**
 * Each target's tables, before serving: a target not migrated is refused (exit 1, naming it); a target whose database does
 * not answer now is said on stderr and served anyway, the others at once (drill G: one target down, the gate served
 * none, with a bare `connect ECONNREFUSED`): its keys cannot be read, so its calls are 401 until it answers and the
 * next key refresh reads them (a gate started before the outage answers them 503 meanwhile). A wrong password or database name is a setting to fix: refused, naming the target.
 */
async function assertMigrated(names: string[], pools: ReturnType<typeof createTargetPools>): Promise<void> {
  const c = config();
  const from = targetSource(c);
  for (const name of names) {
    const url = c.targets.find((t) => t.name === name)?.databaseUrl;
    const host = url ? new URL(url).host : 'its address';
    let shortfall: Awaited<ReturnType<typeof migrationShortfall>>;
    try {
      const client = await pools.get(name).connect();
      try {
        shortfall = await migrationShortfall(client, name);
      } finally {
        client.release();
      }
    } catch (err) {
      const code = databaseOutage(err);
      if (!code) throw new SaidError(`target ${name}: its PostgreSQL at ${host} (set by ${from}) refused the gate: ${(err as Error).message}`, { cause: err });
      process.stderr.write(
        `nightshift gate: target ${name}: its PostgreSQL at ${host} (set by ${from}) does not answer (${code}): the other targets are served; ` +
          `${name}'s calls get 503 (its API keys cannot be read) until it answers, then are served (its keys read again at most a second later)\n`,
      );
      continue;
    }
    if (shortfall.refusal) throw new SaidError(`target ${name}: ${shortfall.refusal.problem}: ${shortfall.refusal.fix}`);
    if (shortfall.missing.length) {
      // a gate of this release on a database not migrated to it: refused, not served half (heartbeats answered 500)
      throw new SaidError(
        `target ${name}: its database lacks ${shortfall.missing.length} migration(s) of this release (${shortfall.missing.join(', ')}): ` +
          'start a worker of this release first (it applies them at its start; `nightshift doctor` says when it is done), then the gate',
      );
    }
  }
}

import { Command, Option } from 'commander';
import { postgresStartHint } from './cluster-of';
import { z, ZodError } from 'zod';
import { ConfigError, UsageError, loadConfig, resolveTarget, type Config, type Target } from '../config/config';
import { failureTypeOf, FailureType } from '../domain/failures';
import { terminalSafe } from '../domain/text';
import { appliedNames, migrationShortfall, type MigrationRefusal } from '../db/migrate';
// resources.ts loads @temporalio/client only inside connectTemporalClient: start-up stays light
import { connectTemporalClient, createTargetPools, temporalClientLibrary } from '../workers/resources';
import { databaseOutage } from '../store/server/outage';
import type { Client } from '@temporalio/client';
import type pg from 'pg';

/**
 * Shared CLI plumbing: lazy config, --json output, exit codes (0 ok, 1 failed, 2 bad usage) and
 * error printing without stack traces unless --debug.
 */

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Words of a list as an operator reads them: `a`, `a or b`, `a, b or c`. */
export function orList(words: readonly unknown[]): string {
  const w = words.map(String);
  return w.length > 1 ? `${w.slice(0, -1).join(', ')} or ${w[w.length - 1]}` : (w[0] ?? '');
}

const UNITS: Record<string, string> = { string: 'character', array: 'item', set: 'item', file: 'byte' };

function bound(n: number | bigint, origin: string): string {
  const unit = UNITS[origin];
  return unit ? `${n} ${unit}${n === 1 ? '' : 's'}` : String(n);
}

/**
 * zod's own words for a choice or a bound (`Invalid option: expected one of "a"|"b"`, `Too big: expected string to
 * have <=4096 characters`) said once for every schema the process uses, CLI or not: `expected a or b`, `expected at
 * most 4096 characters`. A schema's own message wins over these (zod asks this map only when there is none).
 */
z.config({
  customError: (issue) => {
    switch (issue.code) {
      case 'invalid_value':
        return `expected ${orList(issue.values)}`;
      case 'too_big':
        return `expected ${issue.exact ? 'exactly' : issue.inclusive ? 'at most' : 'less than'} ${bound(issue.maximum, issue.origin)}`;
      case 'too_small':
        return `expected ${issue.exact ? 'exactly' : issue.inclusive ? 'at least' : 'more than'} ${bound(issue.minimum, issue.origin)}`;
      default:
        return undefined;
    }
  },
});

let cachedConfig: Config | undefined;
export function config(): Config {
  cachedConfig ??= loadConfig();
  return cachedConfig;
}

export function targetOption(description = 'target database (default: the only one configured)'): Option {
  return new Option('-t, --target <name>', description).argParser(oneTarget);
}

/** A second --target is refused: commander would keep the last one, and the command would run on a target not meant. */
function oneTarget(value: string, previous: string | undefined): string {
  if (previous !== undefined) throw new UsageError(`--target given twice (${previous}, ${value}): give one`);
  return value;
}
export function jsonOption(): Option {
  return new Option('--json', 'print JSON instead of text');
}

export function target(name: string | undefined): Target {
  return resolveTarget(config(), name);
}

/** Runs fn with a Temporal client, closing its connection afterwards. */
export async function withTemporal<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const c = config();
  let client: Client;
  try {
    client = await connectTemporalClient(c);
  } catch (err) {
    // the SDK says only "Failed to connect before the deadline": say where, and what sets it
    const t = c.temporal;
    const from = t.address === `127.0.0.1:${t.devPort}` ? 'NIGHTSHIFT_TEMPORAL_PORT or TEMPORAL_ADDRESS' : 'TEMPORAL_ADDRESS';
    // no cause: the CLI prints the innermost message, and this one says more than the SDK's
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`cannot connect to Temporal at ${t.address} (set by ${from}): ${messageOf(err)}`);
  }
  try {
    return await fn(client);
  } finally {
    // a progress query or a retry check still in flight (its gRPC retry on a timer) would throw "Channel has been shut
    // down" outside any handler once the connection is closed: the batch done, the CLI crashed, exit 1 (drill F)
    await Promise.allSettled([...sideCalls]);
    await client.connection.close();
  }
}

/** Temporal calls made beside a command's own (progress queries, retry checks): withTemporal waits for them before closing. */
const sideCalls = new Set<Promise<unknown>>();

function sideCall<T>(call: () => Promise<T>): Promise<T> {
  const p = call();
  sideCalls.add(p);
  const settled = () => sideCalls.delete(p);
  p.then(settled, settled);
  return p;
}

/** gRPC codes of a Temporal that did not answer for a moment (restarting, its database away), not of a workflow's outcome. */
const UNANSWERED = new Set([1, 4, 8, 13, 14]);

/**
 * A workflow's result, waited for through Temporal's outages: the long poll that a restart or a database away cuts
 * (DEADLINE_EXCEEDED, UNAVAILABLE…) is said on stderr and asked again every 5 s, the run going on meanwhile, instead of
 * exiting 1 as if the run had failed (drill F: `verify --wait` died while its verification finished by itself). A
 * workflow's own failure is its outcome, rethrown.
 */
export async function lastingResult<R>(result: () => Promise<R>, what = 'the run'): Promise<R> {
  for (let said = ''; ; ) {
    try {
      return await result();
    } catch (err) {
      // loaded here: a command that never waits does not pay for it
      const { ServiceError, isGrpcServiceError } = temporalClientLibrary();
      const grpc = isGrpcServiceError(err) ? err : err instanceof ServiceError && isGrpcServiceError(err.cause) ? err.cause : undefined;
      if (!grpc || !UNANSWERED.has(grpc.code)) throw err;
      const line = `still waiting: Temporal did not answer (${messageOf(grpc).replace(/\s+/g, ' ').slice(0, 200)}); ${what} goes on, asking again every 5 s`;
      if (line !== said) process.stderr.write(`${terminalSafe(line)}\n`);
      said = line;
      await new Promise((r) => setTimeout(r, 5_000));
    }
  }
}

/**
 * Runs fn with a small pool (`size` connections) on the target (resolved as --target is: default the only one), ending it
 * afterwards; a refused connection is said as postgresUnreachable says it. Every CLI command's target pool comes from here.
 */
export async function withPools<T>(targetName: string | undefined, fn: (pool: pg.Pool, target: string) => Promise<T>, size = 2): Promise<T> {
  const t = target(targetName);
  const pools = createTargetPools(config(), size);
  try {
    return await fn(pools.get(t.name), t.name);
  } catch (err) {
    throw postgresUnreachable(err, t.name) ?? (await targetDatabaseProblem(err, t.name, pools.get(t.name))) ?? err;
  } finally {
    await pools.end();
  }
}

/** The variable a target's database comes from, as the refusals name it. */
export function targetSource(c: Config): string {
  return c.embeddedPostgres ? 'NIGHTSHIFT_PG_PORT, the embedded PostgreSQL' : process.env.NIGHTSHIFT_TARGETS ? 'NIGHTSHIFT_TARGETS' : 'DATABASE_URL';
}

/** SQLSTATEs of a control schema older than this release, or absent: an object it should hold is not there. */
const UNDEFINED_OBJECT = new Set(['42P01', '3F000', '42883', '42703', '42704']);
/** SQLSTATE classes of a connection refused for what it asked (a wrong password or role, no such database). */
const REFUSED_CREDENTIALS = /^(28|3D)/;

/**
 * A target's PostgreSQL error, said with the target's name (pg names none: with three targets, `relation
 * "nightshift.dossier" does not exist` could be any of them) and, where it tells, what to do: a database not migrated
 * yet, or migrated by an older release, is said so with what migrates it; a refused connection names the address and
 * the variable that sets it. undefined for anything that is not PostgreSQL's own error.
 */
async function targetDatabaseProblem(err: unknown, targetName: string, pool: pg.Pool): Promise<Error | undefined> {
  const e = err as { code?: unknown; severity?: unknown; message?: unknown } | undefined;
  if (typeof e?.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code) || typeof e.severity !== 'string') return undefined;
  const c = config();
  const url = c.targets.find((t) => t.name === targetName)?.databaseUrl;
  const where = `its PostgreSQL at ${url ? new URL(url).host : 'its address'}, set by ${targetSource(c)}`;
  // a database that does not answer now is told as the gate tells it (store/server/outage.ts), with where it was asked
  if (databaseOutage(err) || REFUSED_CREDENTIALS.test(e.code)) return new SaidError(`target ${targetName}: ${String(e.message)} (${where})`, { cause: err });
  if (UNDEFINED_OBJECT.has(e.code) && /nightshift/.test(String(e.message))) {
    const migrated = await migrationState(pool, targetName);
    const worker = 'a worker migrates it at its start (`nightshift worker`; `npm run dev` on this machine), and `nightshift doctor` says when it is done';
    if (migrated?.refusal) return new SaidError(`target ${targetName}: ${migrated.refusal.problem}: ${migrated.refusal.fix}`, { cause: err });
    if (migrated?.applied === 0) return new SaidError(`target ${targetName}: its database is not migrated yet (${String(e.message)}): ${worker}`, { cause: err });
    if (migrated?.missing.length) {
      return new SaidError(`target ${targetName}: its database lacks ${migrated.missing.length} migration(s) of this release (${String(e.message)}): ${worker}`, { cause: err });
    }
  }
  return new SaidError(`target ${targetName}: ${String(e.message)}`, { cause: err });
}

/** What the target's migrations say, or undefined when they cannot be read (the database gone meanwhile). */
async function migrationState(pool: pg.Pool, targetName: string): Promise<{ refusal?: MigrationRefusal; missing: string[]; applied: number } | undefined> {
  try {
    const client = await pool.connect();
    try {
      const applied = (await appliedNames(client)).length;
      return { ...(await migrationShortfall(client, targetName)), applied };
    } finally {
      client.release();
    }
  } catch {
    return undefined;
  }
}

/**
 * A target's PostgreSQL refusing the connection, said as the Temporal one is (withTemporal): which target, the address
 * tried, the variable that sets it, and the likely cause. pg says only `connect ECONNREFUSED 127.0.0.1:55461`.
 * undefined for any other error.
 */
function postgresUnreachable(err: unknown, targetName: string): Error | undefined {
  const e = err as (NodeJS.ErrnoException & { address?: string; port?: number; errors?: unknown[] }) | undefined;
  if (e?.code !== 'ECONNREFUSED') return undefined;
  // 'localhost' tries each of its addresses: an AggregateError whose parts say where
  const at = [e, ...(e.errors ?? [])].map((x) => x as typeof e).find((x) => x?.address !== undefined);
  const c = config();
  const url = c.targets.find((t) => t.name === targetName)?.databaseUrl;
  // another server refusing inside fn (an off-site store, SMTP) is not the target's PostgreSQL: left as it is
  if (at?.port !== undefined && url && at.port !== Number(new URL(url).port || 5432)) return undefined;
  const address = at ? `${at.address}:${at.port}` : url ? new URL(url).host : 'its address';
  return new SaidError(`cannot connect to PostgreSQL of target ${targetName} at ${address} (set by ${targetSource(c)}): connection refused; ${postgresStartHint(c)}`, { cause: err });
}

/**
 * Prints a result: JSON when asked, else the text rendering. Stored text (a label, an archive's
 * header, a message) may hold characters a terminal acts on: text is escaped (\x1b), and JSON gets
 * \u escapes for DEL and C1 as it has for C0.
 */
/**
 * `--wait` interrupted (Ctrl-C, SIGTERM): only the waiting stops, the run goes on in Temporal; said on stderr with how to
 * follow it, then exit 130 (it exited 130 silently: an operator took the batch for stopped, scale drill). Returns the
 * function that takes the handler away once the wait is over.
 */
export function sayOnInterrupt(what: string, follow: string): () => void {
  const handler = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nnightshift: stopped waiting (${signal}); the ${what} goes on: ${follow}\n`);
    process.exit(130);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}

/**
 * `--wait`'s progress while a run goes: the workflow's progress query every second, said as one line when it changed,
 * at most every `everyMs`; on a terminal (`tty`) one line rewritten in place instead. Nothing with --json. Returns the
 * stop function (a last newline after the in-place line).
 */
export function followProgress<P>(query: () => Promise<P>, line: (p: P) => string, o: { json?: boolean; tty?: boolean; everyMs?: number }): () => void {
  if (o.json) return () => {};
  let last = '';
  let lastAt = 0;
  let stopped = false;
  const timer = setInterval(() => {
    sideCall(query).then(
      (p) => {
        // a query answered after the stop would print below the result (drills E, K2)
        if (stopped) return;
        const text = line(p);
        if (o.tty) process.stdout.write(`\r${text}\x1b[K`);
        else if (text !== last && Date.now() - lastAt > (o.everyMs ?? 5_000)) {
          process.stdout.write(`${text}\n`);
          lastAt = Date.now();
        }
        last = text;
      },
      () => {},
    );
  }, 1_000);
  return () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    if (o.tty && last) process.stdout.write('\n');
  };
}

/** What waitSayingRetries needs of a workflow handle: its description (the pending activities and their attempts). */
interface Describable {
  describe(): Promise<{ raw: { pendingActivities?: { activityType?: { name?: string | null } | null; attempt?: number | null; lastFailure?: { message?: string | null } | null }[] | null } }>;
}

/**
 * `--wait` on a workflow whose activity fails and is retried (the storage away, the database restarting): each new
 * attempt is said on its own line with the last failure, instead of a silent wait that looks like a hang. Looks every
 * 5 s; nothing is printed while the attempts succeed, nor with --json.
 */
export async function waitSayingRetries<R>(handle: Describable & { result(): Promise<R> }, json?: boolean): Promise<R> {
  if (json) return lastingResult(() => handle.result());
  const stop = sayRetries(handle);
  try {
    return await lastingResult(() => handle.result());
  } finally {
    stop();
  }
}

/**
 * waitSayingRetries's looking, beside a wait of the caller's own (`backup run --wait`'s progress: drill K, session 39,
 * its line said "nothing ended for 103s" for minutes while the chunk's activity failed to reach PostgreSQL): returns
 * its stop.
 */
export function sayRetries(handle: Describable, o: { /** a progress line rewritten in place: cleared before a line is said */ tty?: boolean } = {}): () => void {
  const said = new Set<string>();
  let done = false;
  const timer = setInterval(() => {
    sideCall(() => handle.describe()).then(
      (d) => {
        if (done) return;
        for (const a of d.raw.pendingActivities ?? []) {
          const attempt = a.attempt ?? 1;
          const name = a.activityType?.name ?? 'activity';
          const why = a.lastFailure?.message;
          if (attempt < 2 || !why || said.has(`${name}#${attempt}`)) continue;
          said.add(`${name}#${attempt}`);
          process.stdout.write(`${o.tty ? '\r\x1b[K' : ''}${terminalSafe(`still waiting: ${name} failed (attempt ${attempt - 1}): ${why.replace(/\s+/g, ' ').slice(0, 300)}; Temporal tries again`)}\n`);
        }
      },
      () => {},
    );
  }, 5_000);
  return () => {
    done = true;
    clearInterval(timer);
  };
}

export function output<T>(json: boolean | undefined, value: T, text: (v: T) => string): void {
  process.stdout.write(json ? `${jsonSafe(JSON.stringify(value, null, 2))}\n` : `${terminalSafe(text(value), { keepLines: true })}\n`);
}

/** JSON with C1 control characters escaped (a terminal would act on them). */
export function jsonSafe(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const USAGE_FAILURES = new Set<string>([FailureType.InvalidInput, FailureType.UnknownTarget]);

/**
 * The failure of a workflow the CLI started (handle.result()): something was started, so never "bad usage",
 * whatever its type. The SDK's own cross-realm mark: this module does not load @temporalio/client.
 */
function isStartedWorkflowFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[Symbol.for('__temporal_isWorkflowFailedError')] === true;
}

/** A write to a pipe whose reader went away (`| head -1`). */
function isClosedPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}
/** stdout's reader went away: the rest of the output is dropped (dropOutputOnClosedPipe). */
let outputCut = false;

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof ZodError) return EXIT_USAGE;
  if (isStartedWorkflowFailure(err)) return EXIT_FAILED;
  const type = failureTypeOf(err);
  if (type && USAGE_FAILURES.has(type)) return EXIT_USAGE;
  return EXIT_FAILED;
}

/** A failure whose own message says it all (its cause is kept for --debug): printed as is, not its innermost cause's. */
export class SaidError extends Error {}

/**
 * A zod error as one line for an operator: `flag: message; flag: message`, one message per field (a 41-character
 * code breaks two rules of one field: the first says it). `names` renames fields to the flags that set them.
 */
export function zodText(err: ZodError, names: Record<string, string> = {}, whole = 'value'): string {
  const seen = new Map<string, string>();
  for (const i of err.issues) {
    const at = i.path.join('.') || whole;
    if (!seen.has(at)) seen.set(at, `${names[at] ?? at}: ${i.message}`);
  }
  return [...seen.values()].join('; ');
}

function messageOf(err: unknown): string {
  if (err instanceof ZodError) return zodText(err);
  if (err instanceof SaidError) return err.message;
  if (err instanceof Error) {
    // A workflow failure wraps the activity's; the innermost message says what went wrong.
    let e: unknown = err;
    let msg = err.message;
    for (let i = 0; i < 5 && e instanceof Error && e.cause; i++) {
      e = e.cause;
      if (e instanceof Error && e.message) msg = e.message;
    }
    return msg + temporalServiceHint(msg);
  }
  return String(err);
}

/**
 * Temporal's frontend answered for a service behind it that does not serve (drill C, session 37: `backup run` with the
 * history service killed printed `14 UNAVAILABLE: Not enough hosts to serve the request` and nothing else): which one
 * and what to do, as `doctor` says it.
 */
function temporalServiceHint(msg: string): string {
  if (!/\bNot enough hosts to serve the request\b/.test(msg)) return '';
  return ": Temporal's frontend answers, but its history or matching service does not serve ('nightshift doctor' names which; on a cluster of 'nightshift cluster up', start it again with <dir>/restart/temporal-history or temporal-matching); what was asked was most likely not done";
}

export function reportError(err: unknown, debug: boolean): number {
  const code = exitCodeFor(err);
  // a command that waited for stdout to drain, cut by its reader: nothing to say, nobody reads it
  if (outputCut && isClosedPipe(err) && !debug) return code;
  const type = failureTypeOf(err);
  // a message may quote the input it refuses: never hand its control characters to the terminal
  process.stderr.write(`nightshift: ${type && code !== EXIT_USAGE ? `${type}: ` : ''}${terminalSafe(messageOf(err), { keepLines: true })}\n`);
  if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return code;
}

/**
 * A reader that closed the pipe (`nightshift ... | head -1`) makes each later write fail with EPIPE: without a
 * listener, an unhandled 'error' event and a stack trace. The rest of the output is dropped; the command ends
 * as it would have, with its own exit code (a backup that succeeded still exits 0).
 */
export function dropOutputOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (!isClosedPipe(err)) throw err;
      if (stream === process.stdout) outputCut = true;
    });
  }
}

/** Wraps a command action: errors become a message and an exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    const debug = Boolean(cmd?.optsWithGlobals?.().debug);
    try {
      const code = await fn(...args);
      process.exitCode = typeof code === 'number' ? code : EXIT_OK;
    } catch (err) {
      process.exitCode = reportError(err, debug);
    }
  };
}

/** A word of a fixed lower-case set (`--type database`) typed in any case (`DATABASE`): its canonical spelling. */
export function wordFlag<W extends string>(flag: string, words: readonly W[], value: string): W {
  const word = words.find((w) => w === value.trim().toLowerCase());
  if (word === undefined) throw new UsageError(`${flag}: expected ${orList(words)}`);
  return word;
}

/**
 * A whole number typed by an operator: decimal digits only, in [min, max], `expected` said otherwise with the value
 * typed (drill X, session 40: `--id 0x0c` forgot generation 12, `--id 1e1` generation 10, `--id abc` said "expected
 * number, received NaN").
 */
export const wholeNumberSchema = (min: number, max: number, expected = `expected a whole number from ${min} to ${max}`) =>
  z
    .string()
    .trim()
    .superRefine((v, ctx) => {
      const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
      if (!(n >= min && n <= max)) ctx.addIssue({ code: 'custom', message: `${expected}, not '${v}'` });
    })
    .transform(Number);

/**
 * A run id typed by an operator; `see`: where such ids are listed. Here, not in a command's module: the commands import
 * each other, and a schema built when its module loads must not wait on one that is still loading.
 */
export const runIdSchemaFor = (see: string) => wholeNumberSchema(1, 999_999_999_999_999, `a run id is a positive whole number (see ${see})`);

/** Parses a value with a zod schema; a failure is a usage error naming the flag. */
export function parseFlag<T>(flag: string, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: ZodError } }, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${flag}: ${r.error.issues[0]?.message ?? 'invalid value'}`);
  return r.data;
}

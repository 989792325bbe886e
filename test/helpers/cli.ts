import path from 'node:path';
import { spawn } from 'node:child_process';
import { Command, CommanderError } from 'commander';
import { createTestStack, devServerClient, quietRuntime, type TestStack } from './env';

const ROOT = path.resolve(__dirname, '..', '..');

export interface CliResult {
  /** null when the process was ended by a signal */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/nightshift.js ...args` to its end, as a user would: a separate process configured by `env` only.
 * `closedStdout`: its stdout is a pipe whose reader closes at once (`nightshift ... | head -0`).
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000, o: { closedStdout?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'nightshift.js'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (o.closedStdout) child.stdout.destroy();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nightshift ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The environment of a CLI process that works on a test stack and the suite's Temporal dev server. */
export function stackCliEnv(stack: TestStack): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    DATABASE_URL: stack.databaseUrl,
    NIGHTSHIFT_DATA_DIR: stack.dataDir,
  };
}

export interface CliTestContext {
  /** set in beforeAll */
  stack: TestStack;
  temporal: Awaited<ReturnType<typeof devServerClient>>;
  /** `nightshift ...args` on the stack, with extra environment variables */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
}

/** A CLI test file's stack and dev-server client: made before its tests, closed after them. */
export function useCliStack(timeoutMs = 90_000): CliTestContext {
  const ctx = {
    cli: (args: string[], env: Record<string, string> = {}) => runCli(args, { ...stackCliEnv(ctx.stack), ...env }, timeoutMs),
  } as CliTestContext;
  beforeAll(async () => {
    quietRuntime();
    ctx.stack = await createTestStack();
    ctx.temporal = await devServerClient();
  });
  afterAll(async () => {
    await ctx.temporal?.close();
    await ctx.stack?.close();
  });
  return ctx;
}

/**
 * One command run in-process, wired as cli/main.ts wires it (commander's refusals are usage errors: exit 2), over the
 * command groups `register` adds: `inProcessCli(registerPatchCommands, 'patch')('new', dir, …)`.
 */
export function inProcessCli(register: (program: Command) => void, ...prefix: string[]): (...args: string[]) => Promise<{ code: number; stdout: string; stderr: string }> {
  return async (...args) => {
    const out: string[] = [];
    const err: string[] = [];
    const program = new Command('nightshift');
    register(program);
    const wire = (c: Command): void => {
      c.exitOverride().configureOutput({ writeOut: () => {}, writeErr: (s) => err.push(s) });
      c.commands.forEach(wire);
    };
    wire(program);
    const so = jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const se = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    process.exitCode = 0;
    let code: number;
    try {
      await program.parseAsync(['node', 'nightshift', ...prefix, ...args]);
      code = Number(process.exitCode ?? 0);
    } catch (e) {
      code = e instanceof CommanderError ? (e.exitCode === 0 ? 0 : 2) : 1;
    } finally {
      so.mockRestore();
      se.mockRestore();
      process.exitCode = 0;
    }
    return { code, stdout: out.join(''), stderr: err.join('') };
  };
}

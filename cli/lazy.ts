import path from 'node:path';

/**
 * Loads a command's implementation when it runs, so that `--help` and the other commands start fast (the dev stack's
 * module alone pulls in the Temporal worker, the gate and their libraries: ~0.5 s of every CLI start;
 * test/structure/cli-start.test.ts keeps them out). `id` is relative to `dir`, the caller's `__dirname`, as in the
 * `typeof import(id)` that types it.
 */
export function lazy<T>(dir: string, id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.resolve(dir, id)) as T;
}

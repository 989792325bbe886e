/**
 * Loads a command's implementation when it runs, so that `--help` and the other commands start fast (the dev stack's
 * module alone pulls in the Temporal worker, the gate and their libraries: ~0.5 s of every CLI start).
 * `id` is relative to cli/.
 */
export function lazy<T>(id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(id) as T;
}

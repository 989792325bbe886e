import type { Client } from '@temporalio/client';

/**
 * The gate's Temporal client, connected on first use only: logins, heartbeats and dossiers never need
 * Temporal, so the gate starts and serves them while Temporal is down. A failed connection is
 * remembered for a moment, so that a burst of requests does not each wait for the connect timeout.
 */

/** Temporal could not be reached (connection refused, timed out, or the server is unavailable). */
export class TemporalUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemporalUnavailable';
  }
}

export interface TemporalAccess {
  /** Runs fn with the client under a deadline; unreachable Temporal becomes TemporalUnavailable. */
  run<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// gRPC status codes: the server is not there or did not answer in time
const UNAVAILABLE_CODES = new Set([4, 14]);

function isUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number' && UNAVAILABLE_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

export function lazyTemporal(connect: () => Promise<Client>, { callTimeoutMs = 5_000, retryAfterMs = 3_000 } = {}): TemporalAccess {
  let connecting: Promise<Client> | undefined;
  let failedAt = -Infinity;
  let closed = false;

  const client = (): Promise<Client> => {
    if (closed) return Promise.reject(new TemporalUnavailable('the gate is closing'));
    if (!connecting) {
      if (performance.now() - failedAt < retryAfterMs) return Promise.reject(new TemporalUnavailable('Temporal was unreachable a moment ago'));
      connecting = connect().catch((err: unknown) => {
        failedAt = performance.now();
        connecting = undefined;
        throw new TemporalUnavailable(`Temporal is unreachable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
    }
    return connecting;
  };

  return {
    async run(fn) {
      const c = await client();
      try {
        return await c.connection.withDeadline(Date.now() + callTimeoutMs, () => fn(c));
      } catch (err) {
        if (isUnavailable(err)) throw new TemporalUnavailable('Temporal did not answer', { cause: err });
        throw err;
      }
    },
    async close() {
      closed = true;
      const c = await connecting?.catch(() => undefined);
      await c?.connection.close();
    },
  };
}

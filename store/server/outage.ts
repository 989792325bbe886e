/**
 * Errors of a database that does not answer now (down, restarting, unreachable, a connection cut under a query), not
 * of a wrong URL, password or statement: the gate answers 503 to them, and starts serving the other targets when one
 * target's database is so at its start. Returns the code that says it (`timeout` for pg's own connection timeout and
 * `terminated` for a connection cut under a query, which name none), or undefined.
 */
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P03']);

export function databaseOutage(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[]; message?: unknown } | null | undefined;
  // a connect to a name with several addresses fails with an AggregateError, its causes in `errors`
  const codes = [e, ...(Array.isArray(e?.errors) ? e.errors : [])]
    .map((x) => (x as { code?: unknown } | null | undefined)?.code)
    .filter((c): c is string => typeof c === 'string');
  const code = codes.find((c) => OUTAGE_CODES.has(c) || /^08[0-9A-Z]{3}$/.test(c));
  if (code) return code;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/timeout expired|timeout exceeded when trying to connect/i.test(message)) return 'timeout';
  return /Connection terminated/i.test(message) ? 'terminated' : undefined;
}

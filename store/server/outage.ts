/**
 * Errors of a database that does not answer now (down, restarting, unreachable, closed to connections, full, a
 * connection cut under a query), not of a wrong URL, password or statement: the gate answers 503 to them, and starts
 * serving the other targets when one target's database is so at its start. Returns the code that says it (`timeout`
 * for pg's own connection timeout and `terminated` for a connection cut under a query, which name none), or undefined.
 */
// 57P01 admin shutdown (pg_terminate_backend included), 57P02 crash shutdown, 57P03 cannot connect now (starting up,
// in recovery), 53300 too many connections
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/**
 * 55000 (object not in prerequisite state) is an outage only as the refusal of a database closed to connections
 * (`ALTER DATABASE … ALLOW_CONNECTIONS false`, a maintenance drain): the gate answered it 500 (tester, three targets).
 * The routine is PostgreSQL's function name, the same whatever the server's language; the message is the English one.
 */
function closedToConnections(e: { code?: unknown; routine?: unknown; message?: unknown }): boolean {
  if (e.code !== '55000') return false;
  return e.routine === 'CheckMyDatabase' || (typeof e.message === 'string' && /is not currently accepting connections/.test(e.message));
}

export function databaseOutage(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[]; message?: unknown } | null | undefined;
  // a connect to a name with several addresses fails with an AggregateError, its causes in `errors`
  const codes = [e, ...(Array.isArray(e?.errors) ? e.errors : [])]
    .map((x) => (x as { code?: unknown } | null | undefined)?.code)
    .filter((c): c is string => typeof c === 'string');
  const code = codes.find((c) => OUTAGE_CODES.has(c) || /^08[0-9A-Z]{3}$/.test(c));
  if (code) return code;
  if (e && closedToConnections(e)) return '55000';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (/timeout expired|timeout exceeded when trying to connect/i.test(message)) return 'timeout';
  // pg's words for a client whose connection broke earlier (no code): the next query on it fails so
  return /Connection terminated|has encountered a connection error and is not queryable/i.test(message) ? 'terminated' : undefined;
}

import http from 'node:http';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The gate's Prometheus metrics (R-SE-4/5): every key check and every limit refusal, labelled by target,
 * key id and outcome (never a secret). Served on their own listener (loopback by default), apart from the
 * gate's public port. One registry per gate: tests run several gates in one process.
 */

export type KeyOutcome = 'accepted' | 'missing' | 'malformed' | 'unknown' | 'revoked' | 'unverifiable' | 'wrong_target';
export type LimitName = 'login_rate_key' | 'login_rate_address' | 'sessions_per_key' | 'dossiers_per_session' | 'connections';

export class GateMetrics {
  readonly registry = new Registry();
  private readonly keyChecks = new Counter({
    name: 'nightshift_gate_key_checks_total',
    help: 'API key checks on /v1 routes, by target, key id ("none" when no known key was given) and outcome',
    labelNames: ['target', 'key_id', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly limits = new Counter({
    name: 'nightshift_gate_limit_refusals_total',
    help: 'Requests refused by a limit (login rate per key or per address, open sessions per key, open dossiers per session)',
    labelNames: ['target', 'key_id', 'limit'] as const,
    registers: [this.registry],
  });
  // children cached by label values: a heartbeat's count is one Map lookup
  private readonly children = new Map<string, { inc(): void }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'nightshift_gate_' });
  }

  keyCheck(target: string, keyId: string, outcome: KeyOutcome): void {
    this.child(`k\0${target}\0${keyId}\0${outcome}`, () => this.keyChecks.labels(target, keyId, outcome)).inc();
  }

  limitRefusal(target: string, keyId: string, limit: LimitName): void {
    this.child(`l\0${target}\0${keyId}\0${limit}`, () => this.limits.labels(target, keyId, limit)).inc();
  }

  private child(id: string, make: () => { inc(): void }): { inc(): void } {
    let c = this.children.get(id);
    if (!c) this.children.set(id, (c = make()));
    return c;
  }
}

export interface MetricsListener {
  address: string;
  close(): Promise<void>;
}

/** GET /metrics on host:port (port 0: a free one); anything else is 404. */
export async function serveMetrics(metrics: GateMetrics, host: string, port: number): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal error"}'),
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    address: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

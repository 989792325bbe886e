import fs from 'node:fs';
import { portAnswers, type ProcessSpec } from './processes';

/**
 * HAProxy in front of the cluster's gates: one address, round robin, a gate that stops answering TCP is
 * taken out within ~2 s and its request retried on the other one. The check is TCP, not /healthz: while
 * PostgreSQL is down both gates answer 503 themselves (and 423 for a login inside a window), which is
 * the gate's answer to give, not the proxy's.
 */

const CANDIDATES = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'];

export function haproxyBinary(): string | undefined {
  return CANDIDATES.find((p) => fs.existsSync(p));
}

export function renderHaproxyConfig(opts: { host: string; port: number; gates: { name: string; port: number }[] }): string {
  return [
    '# nightshift cluster: the load balancer of the session gates (rendered by cluster/haproxy.ts)',
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  retries 2',
    '  option redispatch',
    '  option http-server-close',
    'frontend gate',
    `  bind ${opts.host}:${opts.port}`,
    // the gates trust this proxy's X-Forwarded-For (R-SE-5's per-address limit, refusal logs): it must hold the
    // client's real address only. `option forwardfor` kept the client's own header and appended to it, and the gates
    // took what the client wrote (drill: `X-Forwarded-For: 10.8.8.8` escaped the login limit)
    '  http-request set-header X-Forwarded-For %[src]',
    '  default_backend gates',
    'backend gates',
    '  balance roundrobin',
    '  # which gate answered: the cluster tests check that both serve',
    '  http-response set-header X-Nightshift-Gate %s',
    ...opts.gates.map((g) => `  server ${g.name} ${opts.host}:${g.port} check inter 1s fall 2 rise 1`),
    '',
  ].join('\n');
}

export function haproxySpec(binary: string, configFile: string, host: string, port: number): ProcessSpec {
  return {
    name: 'haproxy',
    command: binary,
    // -db: foreground, no daemon (the supervisor owns it); -W: master-worker, so SIGTERM stops it cleanly
    args: ['-W', '-db', '-f', configFile],
    ready: () => portAnswers(port, host),
    readyTimeoutMs: 20_000,
    stopGraceMs: 5_000,
  };
}

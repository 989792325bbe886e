import { ConfigError, loadConfig } from '../../config/config';

/** The gate's variables (issue 9): defaults, and every bad value refused with the variable's name. */

const base = { NIGHTSHIFT_DATA_DIR: '/tmp/ns-gate-config' };
const problemOf = (env: Record<string, string>): { variable: string; problem: string } | undefined => {
  try {
    loadConfig({ ...base, ...env });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems[0];
  }
};

test('defaults: metrics on loopback, no TLS, no trusted proxy, limits and a 7-day retention', () => {
  expect(loadConfig(base).gate).toEqual({
    metricsPort: 9465,
    metricsPortGiven: false,
    metricsHost: '127.0.0.1',
    tls: undefined,
    trustedProxies: [],
    keyRefreshSeconds: 5,
    loginRatePerKey: 600,
    loginRatePerAddress: 60,
    maxSessionsPerKey: 5000,
    maxDossiersPerSession: 20,
    maxConnections: 2000,
    requestTimeoutSeconds: 10,
    keepAliveTimeoutSeconds: 65,
    sessionRetentionSeconds: 7 * 86_400,
  });
});

test('TLS files and trusted proxies are read as given', () => {
  const gate = loadConfig({
    ...base,
    NIGHTSHIFT_GATE_TLS_CERT: '/etc/gate/cert.pem',
    NIGHTSHIFT_GATE_TLS_KEY: '/etc/gate/key.pem',
    NIGHTSHIFT_GATE_TLS_CLIENT_CA: '/etc/gate/ca.pem',
    NIGHTSHIFT_GATE_TRUSTED_PROXIES: '10.0.0.5, 10.1.0.0/16 ::1,fd00::/8',
  }).gate;
  expect(gate.tls).toEqual({ certPath: '/etc/gate/cert.pem', keyPath: '/etc/gate/key.pem', clientCaPath: '/etc/gate/ca.pem' });
  expect(gate.trustedProxies).toEqual(['10.0.0.5', '10.1.0.0/16', '::1', 'fd00::/8']);
});

test.each([
  [{ NIGHTSHIFT_GATE_TLS_CERT: '/c.pem' }, 'NIGHTSHIFT_GATE_TLS_KEY'],
  [{ NIGHTSHIFT_GATE_TLS_KEY: '/k.pem' }, 'NIGHTSHIFT_GATE_TLS_CERT'],
  [{ NIGHTSHIFT_GATE_TLS_CLIENT_CA: '/ca.pem' }, 'NIGHTSHIFT_GATE_TLS_CLIENT_CA'],
  [{ NIGHTSHIFT_GATE_TRUSTED_PROXIES: '10.0.0.0/33' }, 'NIGHTSHIFT_GATE_TRUSTED_PROXIES'],
  [{ NIGHTSHIFT_GATE_TRUSTED_PROXIES: 'proxy.example.com' }, 'NIGHTSHIFT_GATE_TRUSTED_PROXIES'],
  [{ NIGHTSHIFT_GATE_TRUSTED_PROXIES: '10.0.0.1/8/8' }, 'NIGHTSHIFT_GATE_TRUSTED_PROXIES'],
  // gate drill: passed here, then the gate died at start; it would trust every client's X-Forwarded-For
  [{ NIGHTSHIFT_GATE_TRUSTED_PROXIES: '10.0.0.5, 0.0.0.0/0' }, 'NIGHTSHIFT_GATE_TRUSTED_PROXIES'],
  [{ NIGHTSHIFT_GATE_TRUSTED_PROXIES: '::/0' }, 'NIGHTSHIFT_GATE_TRUSTED_PROXIES'],
  [{ NIGHTSHIFT_GATE_METRICS_PORT: '99999' }, 'NIGHTSHIFT_GATE_METRICS_PORT'],
  [{ NIGHTSHIFT_GATE_KEY_REFRESH_S: '0' }, 'NIGHTSHIFT_GATE_KEY_REFRESH_S'],
  [{ NIGHTSHIFT_GATE_LOGIN_RATE_ADDRESS: '1.5' }, 'NIGHTSHIFT_GATE_LOGIN_RATE_ADDRESS'],
  [{ NIGHTSHIFT_GATE_LOGIN_RATE_KEY: 'many' }, 'NIGHTSHIFT_GATE_LOGIN_RATE_KEY'],
  [{ NIGHTSHIFT_GATE_MAX_SESSIONS_PER_KEY: '-1' }, 'NIGHTSHIFT_GATE_MAX_SESSIONS_PER_KEY'],
  [{ NIGHTSHIFT_GATE_MAX_DOSSIERS_PER_SESSION: '0' }, 'NIGHTSHIFT_GATE_MAX_DOSSIERS_PER_SESSION'],
  [{ NIGHTSHIFT_GATE_MAX_CONNECTIONS: '0' }, 'NIGHTSHIFT_GATE_MAX_CONNECTIONS'],
  [{ NIGHTSHIFT_GATE_REQUEST_TIMEOUT_S: '301' }, 'NIGHTSHIFT_GATE_REQUEST_TIMEOUT_S'],
  [{ NIGHTSHIFT_GATE_KEEPALIVE_TIMEOUT_S: '0' }, 'NIGHTSHIFT_GATE_KEEPALIVE_TIMEOUT_S'],
  [{ NIGHTSHIFT_GATE_SESSION_RETENTION_DAYS: '0' }, 'NIGHTSHIFT_GATE_SESSION_RETENTION_DAYS'],
])('%j is refused naming %s', (env, variable) => {
  expect(problemOf(env)?.variable).toBe(variable);
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { checkGate } from '../../cli/commands/doctor';
import { ConfigError } from '../../config/config';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { buildGate, startGate, type RunningGate, type StartGateOptions } from '../../gate/server';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';
import { testGateConfig } from './gate-helpers';

/**
 * TLS (issue 9): HTTPS with a certificate, client certificates when a CA is set, plain HTTP refused on the
 * TLS port; behind a reverse proxy, X-Forwarded-For is believed from trusted proxies only (R-SE-5 limits
 * per client address). The certificates are made here with the openssl binary.
 */

let stack: TestStack;
let dir: string;
let key: string;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(async () => {
  stack = await createTestStack();
  key = (await issueKey(stack.pools.get('main'), 'tls-app')).secret;
  dir = tempDir('tls');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  for (const name of ['server', 'client']) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, ...(name === 'server' ? ['-extfile', 'san.ext'] : []));
  }
});
afterAll(async () => {
  await stack?.close();
});

const file = (name: string) => path.join(dir, name);
/** a file that is no PEM at all */
const garbage = () => {
  const f = file('garbage.pem');
  fs.writeFileSync(f, 'garbage\n');
  return f;
};

function httpsGet(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { ca: fs.readFileSync(file('ca.crt')), headers: { [KEY_HEADER]: key }, ...options }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers: { [KEY_HEADER]: key, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function withGate<T>(settings: Parameters<typeof testGateConfig>[1], fn: (gate: RunningGate) => Promise<T>, options: StartGateOptions = {}): Promise<T> {
  const gate = await startGate(testGateConfig(stack.config, settings), stack.pools, options);
  try {
    return await fn(gate);
  } finally {
    await gate.close();
  }
}

test('HTTPS with NIGHTSHIFT_GATE_TLS_CERT / _KEY: the API answers over TLS, with HSTS; plain HTTP to the TLS port fails', async () => {
  const lines: string[] = [];
  const logger = { level: 'info', stream: { write: (line: string) => void lines.push(line) } };
  await withGate({ tls: { certPath: file('server.crt'), keyPath: file('server.key') } }, async (gate) => {
    expect(gate.address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // the log says what a client must use (drill G: fastify's own line said http:// under TLS)
    expect(lines.join('')).toContain(`"msg":"Server listening at ${gate.address}"`);
    const res = await httpsGet(`${gate.address}/v1/targets/main/status`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ target: 'main', state: 'open' });
    const hsts = await new Promise<string | undefined>((resolve, reject) => {
      https.get(`${gate.address}/healthz`, { ca: fs.readFileSync(file('ca.crt')) }, (r) => { r.resume(); resolve(r.headers['strict-transport-security'] as string | undefined); }).on('error', reject);
    });
    expect(hsts).toMatch(/max-age=\d+/);
    await expect(httpGet(gate.address.replace('https:', 'http:') + '/healthz')).rejects.toThrow();
    // a client that does not trust the CA refuses the server
    await expect(httpsGet(`${gate.address}/healthz`, { ca: undefined })).rejects.toThrow();
  }, { logger });
});

test('NIGHTSHIFT_GATE_TLS_CLIENT_CA: a client without a certificate signed by it is refused at the handshake', async () => {
  await withGate({ tls: { certPath: file('server.crt'), keyPath: file('server.key'), clientCaPath: file('ca.crt') } }, async (gate) => {
    await expect(httpsGet(`${gate.address}/healthz`)).rejects.toThrow();
    const res = await httpsGet(`${gate.address}/v1/targets/main/status`, { cert: fs.readFileSync(file('client.crt')), key: fs.readFileSync(file('client.key')) });
    expect(res.status).toBe(200);
  });
});

// drill G, then read again: doctor asked a TLS gate in plain HTTP, and said it was not running
test('a connection that never starts its TLS handshake is closed within the headers\' limit (5 s), not held 120 s filling the connection cap (gate drill)', async () => {
  await withGate({ tls: { certPath: file('server.crt'), keyPath: file('server.key'), clientCaPath: file('ca.crt') }, requestTimeoutSeconds: 3 }, async (gate) => {
    const url = new URL(gate.address);
    const closedAfterMs = await new Promise<number>((resolve) => {
      const started = Date.now();
      const idle = net.connect(Number(url.port), url.hostname);
      idle.on('error', () => undefined);
      idle.on('close', () => resolve(Date.now() - started));
    });
    expect(closedAfterMs).toBeGreaterThanOrEqual(2500);
    expect(closedAfterMs).toBeLessThan(3000 + 4000);
  });
});

test('doctor\'s Gate line under TLS: https, ready; under mutual TLS it says it cannot read readiness without a client certificate', async () => {
  const settings = { tls: { certPath: file('server.crt'), keyPath: file('server.key') } };
  await withGate(settings, async (gate) => {
    const config = { ...testGateConfig(stack.config, settings), gatePort: Number(new URL(gate.address).port) };
    expect(await checkGate(config, 2000, true)).toMatchObject({ address: gate.address, state: 'ok', message: 'answers, ready (HTTP 200)' });
  });
  const mutual = { tls: { ...settings.tls, clientCaPath: file('ca.crt') } };
  await withGate(mutual, async (gate) => {
    const config = { ...testGateConfig(stack.config, mutual), gatePort: Number(new URL(gate.address).port) };
    const check = await checkGate(config, 2000, true);
    expect(check).toMatchObject({ address: gate.address, state: 'ok' });
    expect(check.message).toMatch(/^answers TLS and asks a client certificate \(NIGHTSHIFT_GATE_TLS_CLIENT_CA\), which doctor has none of: its readiness is not read here/);
  });
});

test('bad TLS files are a ConfigError naming the variable, before listening', async () => {
  const cases: [Parameters<typeof testGateConfig>[1], string][] = [
    [{ tls: { certPath: file('missing.crt'), keyPath: file('server.key') } }, 'NIGHTSHIFT_GATE_TLS_CERT'],
    [{ tls: { certPath: file('server.crt'), keyPath: file('client.key') } }, 'NIGHTSHIFT_GATE_TLS_KEY'],
    [{ tls: { certPath: file('server.crt'), keyPath: file('server.key'), clientCaPath: file('nope.crt') } }, 'NIGHTSHIFT_GATE_TLS_CLIENT_CA'],
    // drill G: a file that is not a certificate was said of the key; a client CA holding none started a gate refusing every client
    [{ tls: { certPath: garbage(), keyPath: file('server.key') } }, 'NIGHTSHIFT_GATE_TLS_CERT'],
    [{ tls: { certPath: file('server.crt'), keyPath: garbage() } }, 'NIGHTSHIFT_GATE_TLS_KEY'],
    [{ tls: { certPath: file('server.crt'), keyPath: file('server.key'), clientCaPath: garbage() } }, 'NIGHTSHIFT_GATE_TLS_CLIENT_CA'],
  ];
  for (const [settings, variable] of cases) {
    const err = await buildGate({ config: testGateConfig(stack.config, settings), pools: stack.pools }).then(
      async (app) => { await app.close(); return undefined; },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]?.variable).toBe(variable);
    expect((err as Error).message).not.toContain('PRIVATE KEY');
  }
});

test('R-SE-5 X-Forwarded-For is believed from a trusted proxy only (the per-address login limit)', async () => {
  const loginFrom = (gate: RunningGate, xff: string) =>
    fetch(`${gate.address}/v1/targets/main/sessions`, {
      method: 'POST',
      headers: { [KEY_HEADER]: key, 'content-type': 'application/json', 'x-forwarded-for': xff },
      body: JSON.stringify({ user: 'p' }),
    }).then((r) => r.status);
  // trusted: each forwarded client has its own budget
  await withGate({ loginRatePerAddress: 2, trustedProxies: ['127.0.0.1/32', '::1'] }, async (gate) => {
    expect([await loginFrom(gate, '198.51.100.1'), await loginFrom(gate, '198.51.100.1'), await loginFrom(gate, '198.51.100.1')]).toEqual([201, 201, 429]);
    expect(await loginFrom(gate, '198.51.100.2')).toBe(201);
  });
  // not trusted: the header is ignored, the budget is the socket address's
  await withGate({ loginRatePerAddress: 2, trustedProxies: ['10.0.0.0/8'] }, async (gate) => {
    expect([await loginFrom(gate, '203.0.113.1'), await loginFrom(gate, '203.0.113.2'), await loginFrom(gate, '203.0.113.3')]).toEqual([201, 201, 429]);
  });
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import { loadConfig, type Config } from '../../config/config';
import { API_KEY_HEADER, fastifyPath, routes, type RouteContract, type RouteName } from '../../gate/contract';
import { issueKey, KEY_HEADER } from '../../gate/keys';
import { buildOpenApi, OPENAPI_FILE, openApiText } from '../../gate/openapi';
import { startGate, type RunningGate } from '../../gate/server';
import { createTargetPools, type TargetPools } from '../../workers/resources';
import { createTestDatabase, devServerClient, quietRuntime, tempDir, uniqueName } from '../helpers/env';
import { freePort } from '../helpers/net';
import { insertDossier, minutesFromNow, setWindow, testGateConfig } from './gate-helpers';

/**
 * The OpenAPI contract (issue 9) against the running gate: the committed document is the generated one,
 * every route fastify registered is documented and every documented route is registered, and every
 * documented status of every route is provoked on a real gate, its body parsed by the status's zod
 * schema (the document is generated from those schemas) with nothing undocumented in it.
 */

jest.setTimeout(120_000);

type Json = Record<string, unknown>;

describe('the document', () => {
  test('gate/openapi.json is the document generated from gate/contract.ts (run npm run openapi after changing the contract)', () => {
    expect(fs.readFileSync(OPENAPI_FILE, 'utf8')).toBe(openApiText());
  });

  test('OpenAPI 3.1: every $ref resolves, operation ids are unique, path templates name exactly their parameters, /v1 needs the key', () => {
    const doc = buildOpenApi() as { openapi: string; paths: Record<string, Record<string, Json>>; components: { schemas: Json } };
    expect(doc.openapi).toBe('3.1.0');
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    expect(refs.filter((r) => !(r in doc.components.schemas))).toEqual([]);
    const ids = Object.values(routes).map((r) => r.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of Object.values(routes) as RouteContract[]) {
      const inPath = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect({ path: r.path, params: Object.keys(r.params?.shape ?? {}).sort() }).toEqual({ path: r.path, params: inPath });
      const op = doc.paths[r.path]![r.method.toLowerCase()] as { security: Json[] };
      if (r.path.startsWith('/v1/')) expect({ path: r.path, security: op.security.every((s) => 'apiKey' in s) }).toEqual({ path: r.path, security: true });
    }
  });

  test("the key header is the gate's (gate/keys.ts)", () => {
    expect(API_KEY_HEADER).toBe(KEY_HEADER);
  });
});

/** A TCP relay to PostgreSQL that the test can cut: the target database "goes away" for a gate behind it. */
async function relay(port: number): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(port, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  const own = await freePort();
  await new Promise<void>((resolve) => server.listen(own, '127.0.0.1', resolve));
  return {
    port: own,
    cut: async () => {
      if (!server.listening) return;
      const closed = new Promise((resolve) => server.close(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

describe('against the running gate', () => {
  let pools: TargetPools;
  let relayPools: TargetPools | undefined;
  let gate: RunningGate;
  let capped: RunningGate;
  let cut: RunningGate;
  let dbRelay: Awaited<ReturnType<typeof relay>>;
  let temporal: Awaited<ReturnType<typeof devServerClient>>;
  const keys: Record<'main' | 'other' | 'capped', string> = { main: '', other: '', capped: '' };
  let cappedOne: { sessionId: string; token: string };
  const registered: { method: string; url: string }[] = [];
  const tag = crypto.randomBytes(3).toString('hex').toUpperCase();
  const startedWorkflows: string[] = [];
  let base: Config;

  beforeAll(async () => {
    quietRuntime();
    const [mainUrl, otherUrl] = await Promise.all([createTestDatabase('oa'), createTestDatabase('ob')]);
    base = loadConfig({
      NIGHTSHIFT_DATA_DIR: tempDir('openapi'),
      NIGHTSHIFT_TARGETS: `main=${mainUrl},other=${otherUrl}`,
      NIGHTSHIFT_TIMEZONE: 'Europe/Paris',
      TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: uniqueName('tq'),
    });
    pools = createTargetPools(base);
    keys.main = (await issueKey(pools.get('main'), 'contract-main')).secret;
    keys.other = (await issueKey(pools.get('other'), 'contract-other')).secret;
    keys.capped = (await issueKey(pools.get('main'), 'contract-capped')).secret;
    for (const code of ['ACME', 'BETA', 'GAMMA', `T${tag}`]) await insertDossier(pools.get('main'), code);
    temporal = await devServerClient();
    gate = await startGate(testGateConfig(base), pools, { onRoute: (r) => registered.push(r) });
    // R-SE-5 caps low enough to reach
    capped = await startGate(testGateConfig(base, { maxSessionsPerKey: 1, maxDossiersPerSession: 1 }), pools);
    cappedOne = await login(capped, 'main', keys.capped);
    // main's database behind a relay the test cuts; Temporal on a port where nothing listens
    const pgPort = Number(new URL(mainUrl).port);
    dbRelay = await relay(pgPort);
    const relayed = new URL(mainUrl);
    relayed.port = String(dbRelay.port);
    const cutConfig = loadConfig({
      NIGHTSHIFT_DATA_DIR: tempDir('openapi-cut'),
      NIGHTSHIFT_TARGETS: `main=${relayed.toString()}`,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    relayPools = createTargetPools(cutConfig);
    cut = await startGate(testGateConfig(cutConfig), relayPools);
  });

  afterAll(async () => {
    for (const id of startedWorkflows) await temporal.client.workflow.getHandle(id).terminate('test over').catch(() => {});
    await temporal?.close();
    await Promise.all([gate?.close(), capped?.close(), cut?.close()]);
    await relayPools?.end();
    await pools?.end();
  });

  async function call(g: RunningGate, method: string, path: string, o: { key?: string | null; token?: string; headers?: Record<string, string>; body?: unknown; raw?: string; type?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...o.headers };
    if (o.key !== null) headers[KEY_HEADER] = o.key ?? keys.main;
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body = o.raw;
    if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers['content-type'] = o.type ?? 'application/json';
    const res = await fetch(`${g.address}${path}`, { method, headers, body });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  async function login(g: RunningGate = gate, target: 'main' | 'other' = 'main', key = keys[target]): Promise<{ sessionId: string; token: string }> {
    const a = await call(g, 'POST', `/v1/targets/${target}/sessions`, { key, body: { user: 'contract' } });
    if (a.status !== 201) throw new Error(`login: ${a.status} ${a.text}`);
    return JSON.parse(a.text) as { sessionId: string; token: string };
  }

  const big = { user: 'x'.repeat(17 * 1024) };
  const unknownId = '00000000-0000-4000-8000-000000000000';
  const wellFormedToken = 'A'.repeat(43);

  /** How to provoke each documented status of each route. */
  const provoke: { [N in RouteName]: Record<keyof (typeof routes)[N]['responses'], () => Promise<Answer>> } = {
    status: {
      200: () => call(gate, 'GET', '/v1/targets/main/status'),
      400: () => call(gate, 'GET', '/v1/targets/main/status', { headers: { 'accept-language': 'fr,'.repeat(100) } }),
      401: () => call(gate, 'GET', '/v1/targets/main/status', { key: null }),
      403: () => call(gate, 'GET', '/v1/targets/other/status'),
      503: () => call(cut, 'GET', '/v1/targets/main/status'),
    },
    login: {
      201: () => call(gate, 'POST', '/v1/targets/main/sessions', { body: { user: 'alice', client: 'desk' } }),
      400: () => call(gate, 'POST', '/v1/targets/main/sessions', { body: { user: '' } }),
      401: () => call(gate, 'POST', '/v1/targets/main/sessions', { key: `nsk_${wellFormedToken}`, body: { user: 'alice' } }),
      403: () => call(gate, 'POST', '/v1/targets/other/sessions', { body: { user: 'alice' } }),
      413: () => call(gate, 'POST', '/v1/targets/main/sessions', { body: big }),
      415: () => call(gate, 'POST', '/v1/targets/main/sessions', { raw: 'user=alice', type: 'application/x-www-form-urlencoded' }),
      423: async () => {
        await setWindow(pools.get('other'), { startsAt: minutesFromNow(-1), endsAt: minutesFromNow(60), state: 'in_progress' });
        return call(gate, 'POST', '/v1/targets/other/sessions', { key: keys.other, body: { user: 'alice' } });
      },
      // the capped key already holds its one session
      429: () => call(capped, 'POST', '/v1/targets/main/sessions', { key: keys.capped, body: { user: 'second' } }),
      503: () => call(cut, 'POST', '/v1/targets/main/sessions', { body: { user: 'alice' } }),
    },
    heartbeat: {
      200: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/heartbeat`, { token: s.token });
      },
      400: () => call(gate, 'POST', '/v1/sessions/not-a-uuid/heartbeat', { token: wellFormedToken }),
      401: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/heartbeat`, { token: wellFormedToken });
      },
      404: () => call(gate, 'POST', `/v1/sessions/${unknownId}/heartbeat`, { token: wellFormedToken }),
      503: () => call(cut, 'POST', `/v1/sessions/${unknownId}/heartbeat`, { token: wellFormedToken }),
    },
    logout: {
      200: async () => {
        const s = await login();
        return call(gate, 'DELETE', `/v1/sessions/${s.sessionId}`, { token: s.token });
      },
      400: () => call(gate, 'DELETE', '/v1/sessions/not-a-uuid', { token: wellFormedToken }),
      401: () => call(gate, 'DELETE', `/v1/sessions/${unknownId}`),
      404: () => call(gate, 'DELETE', `/v1/sessions/${unknownId}`, { token: wellFormedToken }),
      503: () => call(cut, 'DELETE', `/v1/sessions/${unknownId}`, { token: wellFormedToken }),
    },
    openDossier: {
      200: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/ACME`, { token: s.token });
      },
      400: () => call(gate, 'POST', `/v1/sessions/${unknownId}/dossiers/a.b`, { token: wellFormedToken }),
      401: () => call(gate, 'POST', `/v1/sessions/${unknownId}/dossiers/ACME`, { key: null, token: wellFormedToken }),
      404: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/NOPE`, { token: s.token });
      },
      409: async () => {
        const s = cappedOne;
        await call(capped, 'POST', `/v1/sessions/${s.sessionId}/dossiers/ACME`, { key: keys.capped, token: s.token });
        return call(capped, 'POST', `/v1/sessions/${s.sessionId}/dossiers/BETA`, { key: keys.capped, token: s.token });
      },
      503: () => call(cut, 'POST', `/v1/sessions/${unknownId}/dossiers/ACME`, { token: wellFormedToken }),
    },
    closeDossier: {
      200: async () => {
        const s = await login();
        await call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/ACME`, { token: s.token });
        return call(gate, 'DELETE', `/v1/sessions/${s.sessionId}/dossiers/ACME`, { token: s.token });
      },
      400: () => call(gate, 'DELETE', `/v1/sessions/${unknownId}/dossiers/${'x'.repeat(41)}`, { token: wellFormedToken }),
      401: () => call(gate, 'DELETE', `/v1/sessions/${unknownId}/dossiers/ACME`, { key: `nsk_${wellFormedToken}`, token: wellFormedToken }),
      404: () => call(gate, 'DELETE', `/v1/sessions/${unknownId}/dossiers/ACME`, { token: wellFormedToken }),
      503: () => call(cut, 'DELETE', `/v1/sessions/${unknownId}/dossiers/ACME`, { token: wellFormedToken }),
    },
    backupDossier: {
      // R-BK-9: on-exit is "never" by default
      200: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/ACME/backup`, { token: s.token, body: { event: 'exit' } });
      },
      202: async () => {
        const s = await login();
        const a = await call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/T${tag}/backup`, { token: s.token, body: { event: 'provider-exchange' } });
        if (a.status === 202) startedWorkflows.push(String((JSON.parse(a.text) as Json).workflowId));
        return a;
      },
      400: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/ACME/backup`, { token: s.token, body: { event: 'whenever' } });
      },
      401: () => call(gate, 'POST', `/v1/sessions/${unknownId}/dossiers/ACME/backup`, { key: null, body: { event: 'closing' } }),
      404: async () => {
        const s = await login();
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/NOPE/backup`, { token: s.token, body: { event: 'closing' } });
      },
      // R-BK-3: the caller's own session holds it open
      409: async () => {
        const s = await login();
        await call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/BETA`, { token: s.token });
        return call(gate, 'POST', `/v1/sessions/${s.sessionId}/dossiers/BETA/backup`, { token: s.token, body: { event: 'closing' } });
      },
      413: () => call(gate, 'POST', `/v1/sessions/${unknownId}/dossiers/ACME/backup`, { token: wellFormedToken, body: big }),
      415: () => call(gate, 'POST', `/v1/sessions/${unknownId}/dossiers/ACME/backup`, { token: wellFormedToken, raw: 'event=closing', type: 'application/x-www-form-urlencoded' }),
      // Temporal unreachable (the database answers): nothing started
      503: async () => {
        const s = await login(cut);
        return call(cut, 'POST', `/v1/sessions/${s.sessionId}/dossiers/GAMMA/backup`, { token: s.token, body: { event: 'provider-exchange' } });
      },
    },
    health: { 200: () => call(gate, 'GET', '/healthz', { key: null }) },
    ready: {
      200: () => call(gate, 'GET', '/readyz', { key: null }),
      503: () => call(cut, 'GET', '/readyz', { key: null }),
    },
    page: {
      200: () => call(gate, 'GET', '/', { key: null }),
      // its one target's status unread: "state unknown", never "no maintenance" (tester)
      503: () => call(cut, 'GET', '/', { key: null }),
    },
    openapi: { 200: () => call(gate, 'GET', '/openapi.json', { key: null }) },
  };

  test('every route fastify registered is documented, and every documented route is registered', () => {
    const seen = registered.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`);
    const documented = (Object.values(routes) as RouteContract[]).map((r) => `${r.method} ${fastifyPath(r.path)}`);
    expect([...new Set(seen)].sort()).toEqual(documented.sort());
  });

  test('GET /openapi.json serves the committed document, without a key', async () => {
    const a = await call(gate, 'GET', '/openapi.json', { key: null });
    expect(a.status).toBe(200);
    expect(a.text).toBe(fs.readFileSync(OPENAPI_FILE, 'utf8'));
  });

  test('the table below provokes every documented status of every route', () => {
    const documented = (Object.entries(routes) as [string, RouteContract][]).flatMap(([name, r]) => Object.keys(r.responses).map((s) => `${name} ${s}`));
    const provoked = Object.entries(provoke).flatMap(([name, cases]) => Object.keys(cases).map((s) => `${name} ${s}`));
    expect(provoked.sort()).toEqual(documented.sort());
  });

  // in order: the database's 503 cases last, once the relay to main's database is cut (Temporal's just before)
  const rank = ([name, , , status]: readonly [RouteName, string, string, number]) => (status !== 503 ? 0 : name === 'backupDossier' ? 1 : 2);
  const cases = (Object.entries(routes) as [RouteName, RouteContract][])
    .flatMap(([name, r]) => Object.keys(r.responses).map((s) => [name, r.method, r.path, Number(s)] as const))
    .sort((a, b) => rank(a) - rank(b));

  test.each(cases)('%s: %s %s answers %d with the documented body', async (name, _method, _path, status) => {
    if (status === 503 && !(name === 'backupDossier')) {
      await dbRelay.cut();
      // the public readiness is re-checked at most once a second
      if (name === 'ready') await new Promise((r) => setTimeout(r, 1100));
    }
    const answer = await (provoke[name] as Record<number, () => Promise<Answer>>)[status]!();
    expect({ status: answer.status, body: answer.text.slice(0, 300) }).toEqual({ status, body: expect.any(String) });
    const documented = (routes[name] as RouteContract).responses[status]!;
    if (documented.contentType === 'text/html') {
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      return;
    }
    expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(answer.text) as unknown;
    const parsed = documented.schema!.safeParse(body);
    expect({ status, issues: parsed.success ? [] : parsed.error.issues }).toEqual({ status, issues: [] });
    // nothing undocumented: the parse keeps only documented fields
    expect(parsed.data).toEqual(body);
    if (status === 429 && name === 'login') expect(answer.headers.get('retry-after') ?? 'none').toBeDefined();
  });
});

import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadConfig, type OffsiteSettings } from '../../config/config';
import { failureTypeOf } from '../../domain/failures';
import { createOffsiteStore, type OffsiteStore } from '../../offsite/store';
import { startS3Server, type S3TestServer } from '../helpers/s3';
import { tempDir } from '../helpers/env';
import { freePort } from '../helpers/net';

/**
 * R-BK-14: a storage that accepts connections and never answers (a hung server, a firewall that swallows the
 * replies) fails each request clearly once nothing moved for the idle timeout, not sent again by the SDK, and
 * nothing is printed; a slow upload whose bytes keep flowing is not cut by that timeout.
 */

const IDLE_MS = 1_000;
let dir: string;

function settingsFor(endpoint: string, extra: Record<string, string> = {}): OffsiteSettings {
  return loadConfig({
    NIGHTSHIFT_DATA_DIR: dir,
    NIGHTSHIFT_OFFSITE_S3_ENDPOINT: endpoint,
    NIGHTSHIFT_OFFSITE_S3_BUCKET: 'nightshift-offsite',
    NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: 'AKIASILENTTEST000000',
    NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: 'silent-storage-secret-0000000000',
    NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '5',
    ...extra,
  }).offsite!;
}

function randomFile(name: string, bytes: number): { file: string; sha256: string } {
  const file = path.join(dir, name);
  const data = crypto.randomBytes(bytes);
  fs.writeFileSync(file, data);
  return { file, sha256: crypto.createHash('sha256').update(data).digest('hex') };
}

/** what the SDK (or anything) prints while `run` runs */
async function printedDuring<T>(run: () => Promise<T>): Promise<{ result: T; printed: string[] }> {
  const printed: string[] = [];
  const spies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((m) =>
    jest.spyOn(console, m).mockImplementation((...args: unknown[]) => void printed.push(`console.${m}: ${args.map(String).join(' ')}`)),
  );
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (printed.push(`stderr: ${String(chunk)}`), true));
  try {
    return { result: await run(), printed };
  } finally {
    for (const s of spies) s.mockRestore();
    stderr.mockRestore();
  }
}

beforeAll(() => {
  dir = tempDir('offsite-silent');
});

describe('a storage that accepts connections and never answers (R-BK-14)', () => {
  let server: net.Server;
  let endpoint: string;
  let connections = 0;
  const sockets = new Set<net.Socket>();
  let store: OffsiteStore;

  beforeAll(async () => {
    const port = await freePort();
    // reads what it is sent, answers nothing, never closes
    server = net.createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${port}`;
    // 3 SDK attempts, as in production: a silent request must still be tried once only
    store = createOffsiteStore(settingsFor(endpoint), { maxAttempts: 3, connectionTimeoutMs: 1_000, idleTimeoutMs: IDLE_MS });
  });
  afterAll(async () => {
    store?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  async function failureOf(run: () => Promise<unknown>): Promise<{ err: unknown; ms: number; connections: number; printed: string[] }> {
    const before = connections;
    const started = Date.now();
    const { result: err, printed } = await printedDuring(() =>
      run().then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    return { err, ms: Date.now() - started, connections: connections - before, printed };
  }

  const cases: [string, string, (s: OffsiteStore) => Promise<unknown>][] = [
    ['a one-PUT upload', 'uploading', (s) => s.upload({ file: randomFile('BQ1.SVG', 1000).file, key: s.keyOf('main', 'Q1', 'BQ1.SVG') })],
    ['a multipart upload', 'uploading', (s) => s.upload({ file: randomFile('BQ2.SVG', 6 * 1024 * 1024).file, key: s.keyOf('main', 'Q2', 'BQ2.SVG') })],
    ['a HEAD', 'reading', (s) => s.head(s.keyOf('main', 'Q3', 'BQ3.SVG'))],
    ['a delete', 'deleting', (s) => s.deleteObject(s.keyOf('main', 'Q4', 'BQ4.SVG'))],
    ['a check of a copy', 'checking', (s) => s.checkObject(s.keyOf('main', 'Q5', 'BQ5.SVG'), { size: 1, sha256: 'a'.repeat(64) })],
  ];

  test.each(cases)('R-BK-14: %s fails after the idle timeout with a retryable OffsiteUnavailable that says it timed out, sent once, nothing printed', async (_what, doing, run) => {
    const { err, ms, connections: opened, printed } = await failureOf(() => run(store));
    expect(`${failureTypeOf(err)}: ${String((err as Error)?.message)}`).toMatch(
      new RegExp(`^OffsiteUnavailable: off-site storage failed while ${doing} main/Q\\d/BQ\\d\\.SVG \\(ETIMEDOUT, bucket nightshift-offsite at ${endpoint.replace(/\./g, '\\.')}\\): timed out: nothing sent or received for 1 s$`),
    );
    expect(err).toMatchObject({ nonRetryable: false });
    // one silent request, not sent again by the SDK (3 attempts would take 3 idle timeouts and 3 connections)
    expect(opened).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(ms).toBeLessThan(2.5 * IDLE_MS);
    expect(printed).toEqual([]);
    expect(String((err as Error).message)).not.toContain('silent-storage-secret');
  });

  test('R-BK-14: the production defaults: the SDK does not wait out a total request time nor print its warning', async () => {
    // the defaults (5 s connect, 30 s of silence): a HEAD is cut after the silence, whatever the request's duration
    const defaults = createOffsiteStore(settingsFor(endpoint), { maxAttempts: 3 });
    try {
      const { err, ms, connections: opened, printed } = await failureOf(() => defaults.head(defaults.keyOf('main', 'Q6', 'BQ6.SVG')));
      expect(failureTypeOf(err)).toBe('OffsiteUnavailable');
      expect(String((err as Error).message)).toMatch(/\(ETIMEDOUT, .*\): timed out: nothing sent or received for 30 s$/);
      expect(opened).toBe(1);
      expect(ms).toBeLessThan(40_000);
      expect(printed).toEqual([]);
    } finally {
      defaults.close();
    }
  }, 60_000);
});

describe('a storage that drops every connection (R-BK-14)', () => {
  test('R-BK-14: a reset is still sent again by the SDK (3 attempts), then a retryable OffsiteUnavailable naming ECONNRESET', async () => {
    let connections = 0;
    const server = net.createServer((socket) => {
      connections++;
      socket.once('data', () => socket.resetAndDestroy());
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const store = createOffsiteStore(settingsFor(`http://127.0.0.1:${port}`), { maxAttempts: 3, connectionTimeoutMs: 1_000, idleTimeoutMs: IDLE_MS });
    try {
      const { result: err, printed } = await printedDuring(() =>
        store.head(store.keyOf('main', 'Q8', 'BQ8.SVG')).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
      expect(`${failureTypeOf(err)}: ${String((err as Error)?.message)}`).toMatch(/^OffsiteUnavailable: off-site storage failed while reading main\/Q8\/BQ8\.SVG \(ECONNRESET, /);
      expect(connections).toBe(3);
      expect(printed).toEqual([]);
    } finally {
      store.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('a slow link whose bytes keep flowing (R-BK-14)', () => {
  let s3: S3TestServer;
  let relay: net.Server;
  const sockets = new Set<net.Socket>();
  let endpoint: string;

  beforeAll(async () => {
    s3 = await startS3Server();
    const port = await freePort();
    const target = new URL(s3.endpoint);
    // a relay that takes at most 64 KiB every 16 ms (~4 MB/s) toward the server, and nothing in between: the
    // client's bytes wait in the kernel as they would before a slow link
    relay = net.createServer({ highWaterMark: 128 * 1024 }, (inbound) => {
      const outbound = net.connect(Number(target.port), target.hostname);
      sockets.add(inbound).add(outbound);
      const drop = () => {
        clearInterval(pump);
        inbound.destroy();
        outbound.destroy();
      };
      inbound.pause();
      const pump = setInterval(() => {
        const n = Math.min(64 * 1024, inbound.readableLength);
        const chunk = n > 0 ? (inbound.read(n) as Buffer | null) : null;
        if (chunk) outbound.write(chunk);
        else inbound.read(0);
      }, 16);
      inbound.on('error', drop).on('close', drop).on('end', () => outbound.end());
      outbound.on('error', drop).on('close', drop);
      outbound.pipe(inbound);
    });
    await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
    await s3?.stop();
  });

  test('R-BK-14: one request longer than the idle timeout (a 24 MiB PUT through ~4 MB/s), bytes flowing all along, completes', async () => {
    const idleMs = 3_000;
    const settings = loadConfig({ NIGHTSHIFT_DATA_DIR: dir, ...s3.env({ NIGHTSHIFT_OFFSITE_S3_ENDPOINT: endpoint, NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: '32' }) }).offsite!;
    const store = createOffsiteStore(settings, { maxAttempts: 1, idleTimeoutMs: idleMs });
    try {
      const { file, sha256 } = randomFile('BQ7.SVG', 24 * 1024 * 1024);
      const key = store.keyOf('main', 'Q7', 'BQ7.SVG');
      const started = Date.now();
      const { result: up, printed } = await printedDuring(() => store.upload({ file, key }));
      expect(Date.now() - started).toBeGreaterThan(idleMs);
      expect(up).toMatchObject({ key, sha256, size: 24 * 1024 * 1024 });
      expect(printed).toEqual([]);
      expect(await store.head(key)).toMatchObject({ size: 24 * 1024 * 1024, sha256 });
    } finally {
      store.close();
    }
  });
});

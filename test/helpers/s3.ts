import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { PROJECT_ROOT } from '../../config/config';
import { tempDir } from './env';
import { freePort } from './net';

/**
 * A real S3-compatible server for one test file: Versity's S3 gateway (versitygw) over a folder,
 * installed by scripts/install-s3-server.sh into .tools/bin/versitygw (nothing is downloaded here).
 * It checks every request's SigV4 signature against its one account, verifies the checksums it is
 * sent, and keeps its objects (and unfinished multipart uploads) on disk across a restart.
 *
 * `proxy` puts a TCP relay in front of the server whose `cut()` drops every connection and refuses
 * new ones while the server keeps running (the network going away, not the storage).
 */

export const S3_SERVER = process.env.NIGHTSHIFT_S3_TEST_SERVER || path.join(PROJECT_ROOT, '.tools', 'bin', 'versitygw');

export interface S3TestServer {
  /** what clients use: the relay's address with `proxy`, else the server's */
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** the folder the server keeps its buckets in */
  dataDir: string;
  /** NIGHTSHIFT_OFFSITE_S3_* for loadConfig */
  env(extra?: Record<string, string>): Record<string, string>;
  /** SIGKILL the server process and wait for it to be gone */
  kill(): Promise<void>;
  /** start it again on the same port and folder (what it stored is still there) */
  restart(): Promise<void>;
  /** drop every relayed connection and refuse new ones (with `proxy`) */
  cut(): void;
  restore(): void;
  /** a client of the server itself, for the test's own checks */
  client(): S3Client;
  stop(): Promise<void>;
}

async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`versitygw exited (${child.exitCode ?? child.signalCode}): ${log().slice(-500)}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`); // any answer (403 unsigned) means it listens
      return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`versitygw did not answer on port ${port} within 30 s: ${log().slice(-500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startS3Server(options: { proxy?: boolean; bucket?: string } = {}): Promise<S3TestServer> {
  if (!fs.existsSync(S3_SERVER)) throw new Error(`${S3_SERVER} is missing: run bash scripts/install-s3-server.sh (npm test does)`);
  const port = await freePort();
  const bucket = options.bucket ?? 'nightshift-offsite';
  const region = 'us-east-1';
  const dataDir = tempDir('s3-data');
  const metaDir = tempDir('s3-meta');
  const creds = { accessKeyId: `AKIA${crypto.randomBytes(8).toString('hex').toUpperCase()}`, secretAccessKey: crypto.randomBytes(24).toString('base64') };
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    output = '';
    const c = spawn(S3_SERVER, ['--port', `127.0.0.1:${port}`, '--quiet', 'posix', '--sidecar', metaDir, dataDir], {
      // the credentials through its environment, not its command line (ps shows that)
      env: { ...process.env, ROOT_ACCESS_KEY: creds.accessKeyId, ROOT_SECRET_KEY: creds.secretAccessKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    c.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    c.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child = c;
    await waitReady(port, c, () => output);
    const admin = direct();
    try {
      await admin.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: unknown) => {
        if ((err as Error).name !== 'BucketAlreadyOwnedByYou') throw err;
      });
    } finally {
      admin.destroy();
    }
  }

  function direct(): S3Client {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    return new S3Client({ region, endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, credentials: { ...creds } });
  }

  async function kill(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  }

  // The relay: with `proxy`, clients go through it; cut() drops its connections.
  let relay: net.Server | undefined;
  let relayPort = port;
  let open = true;
  const sockets = new Set<net.Socket>();
  if (options.proxy) {
    relayPort = await freePort();
    relay = net.createServer((inbound) => {
      if (!open) return inbound.destroy();
      const outbound = net.connect(port, '127.0.0.1');
      sockets.add(inbound).add(outbound);
      const drop = () => {
        inbound.destroy();
        outbound.destroy();
        sockets.delete(inbound);
        sockets.delete(outbound);
      };
      inbound.on('error', drop).on('close', drop);
      outbound.on('error', drop).on('close', drop);
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => relay!.listen(relayPort, '127.0.0.1', resolve));
  }

  await start();
  const endpoint = `http://127.0.0.1:${relayPort}`;
  return {
    endpoint,
    bucket,
    region,
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    dataDir,
    env: (extra = {}) => ({
      NIGHTSHIFT_OFFSITE_S3_ENDPOINT: endpoint,
      NIGHTSHIFT_OFFSITE_S3_BUCKET: bucket,
      NIGHTSHIFT_OFFSITE_S3_REGION: region,
      NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: creds.accessKeyId,
      NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: creds.secretAccessKey,
      ...extra,
    }),
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    cut: () => {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore: () => {
      open = true;
    },
    client: direct,
    stop: async () => {
      await kill();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (relay ? relay.close(() => resolve()) : resolve()));
    },
  };
}

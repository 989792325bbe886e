import crypto from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import type { Transporter } from 'nodemailer';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../../workers/activities';
import { loadConfig, type Config } from '../../config/config';
import { type TestStack, createTestDatabase, createTestStack, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { createMailTransport, createTargetPools, type TargetPools } from '../../workers/resources';
import type { MaintenanceWindowInput } from '../../workflows/maintenance-window.api';
import type { WindowView } from '../../domain/maintenance';

/** Shared by the maintenance window tests: one target on its own database, sessions, a real SMTP server. */

export const ROOT = path.resolve(__dirname, '..', '..');
export { requireEnv, uniqueName, tempDir, quietRuntime } from '../helpers/env';

/** A migrated database (cloned from the test process's template, see test/helpers/env.ts). */
export const createMigratedDatabase = (prefix = 'mw'): Promise<string> => createTestDatabase(prefix);

export interface MaintenanceStack {
  target: string;
  config: Config;
  pools: TargetPools;
  pool: pg.Pool;
  databaseUrl: string;
  mail?: Transporter;
  close(): Promise<void>;
}

/** A worker of the stack's task queue: the pre-built workflow bundle and the stack's activities. */
export function windowWorker(connection: NativeConnection, stack: Pick<MaintenanceStack, 'config' | 'pools'> & Partial<Pick<MaintenanceStack, 'mail'>>): Promise<Worker> {
  return Worker.create({
    connection,
    taskQueue: stack.config.temporal.taskQueue,
    workflowBundle: workflowBundle(),
    // the stack's mail transport when it has an SMTP server (its windows' --notify mails are read there)
    activities: createActivities({ config: stack.config, pools: stack.pools, mail: stack.mail }),
  });
}

/** A target with a unique name (workflow ids never collide across tests) on a fresh database. */
export async function maintenanceStack(extraEnv: Record<string, string> = {}): Promise<MaintenanceStack> {
  const databaseUrl = await createMigratedDatabase('mw');
  const target = uniqueName('mw').toLowerCase();
  const config = loadConfig({
    NIGHTSHIFT_DATA_DIR: tempDir('data'),
    NIGHTSHIFT_TARGETS: `${target}=${databaseUrl}`,
    TEMPORAL_ADDRESS: process.env.NS_TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: uniqueName('tq'),
    NIGHTSHIFT_TIMEZONE: 'Europe/Paris',
    ...extraEnv,
  });
  const pools = createTargetPools(config, 4);
  const mail = extraEnv.NIGHTSHIFT_SMTP_PORT ? createMailTransport(config) : undefined;
  return {
    target,
    config,
    pools,
    pool: pools.get(target),
    databaseUrl,
    mail,
    async close() {
      mail?.close();
      await pools.end();
    },
  };
}

/** The environment a CLI command on the stack's target runs with (Paris time, its database, Temporal and task queue, its data folder). */
export function windowCliEnv(stack: Pick<MaintenanceStack, 'target' | 'databaseUrl' | 'config'>): Record<string, string> {
  return {
    TZ: 'Europe/Paris',
    NIGHTSHIFT_TARGETS: `${stack.target}=${stack.databaseUrl}`,
    TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
    TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
    NIGHTSHIFT_DATA_DIR: stack.config.dataDir,
  };
}

export function windowInput(target: string, nowMs: number, over: Partial<MaintenanceWindowInput> & { inMinutes?: number; minutes?: number } = {}): MaintenanceWindowInput {
  const { inMinutes = 10, minutes = 30, ...rest } = over;
  const start = Math.ceil((nowMs + inMinutes * 60_000) / 1000) * 1000;
  return {
    target,
    type: 'database',
    startsAt: new Date(start).toISOString(),
    endsAt: new Date(start + minutes * 60_000).toISOString(),
    payload: { kind: 'none' },
    graceSeconds: 300,
    startWhenDrained: false,
    dbDrain: false,
    notify: [],
    ...rest,
  };
}

/** A live session as the gate would insert it (expires an hour from now). */
export async function insertSession(pool: pg.Pool, user: string): Promise<string> {
  const id = crypto.randomUUID();
  await pool.query(
    `INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, $2, $3, now() + interval '1 hour')`,
    [id, user, crypto.randomBytes(16).toString('hex')],
  );
  return id;
}

export interface SessionRow {
  id: string;
  user_name: string;
  closed_at: Date | null;
  close_reason: string | null;
  close_requested_at: Date | null;
  /** when a heartbeat answer first carried the order (migration 0033) */
  close_told_at: Date | null;
  close_by: Date | null;
}

/** Every session row, keyed by user name (default) or by id. */
export async function sessions(pool: pg.Pool, key: 'user_name' | 'id' = 'user_name'): Promise<Map<string, SessionRow>> {
  const r = await pool.query<SessionRow>('SELECT id, user_name, closed_at, close_reason, close_requested_at, close_by, close_told_at FROM nightshift.session');
  return new Map(r.rows.map((s) => [s[key], s]));
}

export interface WindowRow extends WindowView {
  phase: string;
  message: string | null;
  finishedAt: Date | null;
}

export async function windowRows(pool: pg.Pool): Promise<WindowRow[]> {
  const r = await pool.query<WindowRow>(
    `SELECT type, state, phase, message, starts_at AS "startsAt", ends_at AS "endsAt", prevent_logins_from AS "preventLoginsFrom",
            finished_at AS "finishedAt"
       FROM nightshift.maintenance_window ORDER BY created_at`,
  );
  return r.rows;
}

export async function onlyWindow(pool: pg.Pool): Promise<WindowRow> {
  const rows = await windowRows(pool);
  if (rows.length !== 1) throw new Error(`expected one window row, found ${rows.length}`);
  return rows[0]!;
}

/** Polls until `probe` returns a value accepted by `ok` (real time, bounded): for state reached asynchronously. */
export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await probe();
      if (ok(last)) return last;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server (smtp-server) keeping every message in memory. */
export async function startSmtp(): Promise<{ port: number; messages: ReceivedMail[]; close(): Promise<void> }> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Subject of a raw message, decoded from RFC 2047 if needed. */
export function subjectOf(raw: string): string {
  const m = /^Subject: (.*(?:\r?\n[ \t].*)*)/m.exec(raw);
  if (!m) return '';
  return m[1]!
    .replace(/\r?\n[ \t]/g, ' ')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_all, enc: string, text: string) =>
      enc.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : decodeQ(text),
    );
}

/** The text of a raw single-part message (quoted-printable decoded; the headers stay in front). */
export function bodyOf(raw: string): string {
  return Buffer.from(raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_a, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

function decodeQ(text: string): string {
  const bytes = text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_a, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

export const workflowBundle = () => ({ codePath: requireEnv('NS_TEST_WORKFLOW_BUNDLE') });

/** The database URL with another role's credentials. */
export function asRole(databaseUrl: string, role: string, password: string): string {
  const url = new URL(databaseUrl);
  url.username = encodeURIComponent(role);
  url.password = password;
  return url.toString();
}

/** A fresh connection: the client when it is accepted, the refusal's SQLSTATE when not. */
export async function tryConnect(url: string): Promise<{ ok: true; client: pg.Client } | { ok: false; code?: string; message: string }> {
  const c = new pg.Client({ connectionString: url });
  try {
    await c.connect();
    return { ok: true, client: c };
  } catch (err) {
    await c.end().catch(() => {});
    return { ok: false, code: (err as { code?: string }).code, message: String(err) };
  }
}

/** Whether the role can open a new connection now (the connection is closed again): true, or the refusal's SQLSTATE. */
export async function canConnect(url: string): Promise<true | string> {
  const c = await tryConnect(url);
  if (!c.ok) return c.code ?? c.message;
  await c.client.end();
  return true;
}

export interface AppRole {
  name: string;
  /** the database URL as this role */
  url: string;
  /** drops the role with its privileges (DROP OWNED: also those on databases), whatever the window left */
  drop(): Promise<void>;
}

/**
 * A login role of the business application holding CONNECT on the stack's database in its own name, as
 * in the operator drill (`CREATE ROLE app LOGIN …; GRANT CONNECT ON DATABASE nightshift TO app`). Created
 * by the admin role; `name` may need quoting.
 */
export async function appRole(databaseUrl: string, name = uniqueName('app').toLowerCase()): Promise<AppRole> {
  const database = new URL(databaseUrl).pathname.slice(1);
  const admin = async (sql: string[]) => {
    const c = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
    await c.connect();
    try {
      for (const q of sql) await c.query(q);
    } finally {
      await c.end();
    }
  };
  const role = pg.escapeIdentifier(name);
  await admin([`CREATE ROLE ${role} LOGIN PASSWORD 'app-secret'`, `GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${role}`]);
  return {
    name,
    url: asRole(databaseUrl, name, 'app-secret'),
    drop: () => admin([`DROP OWNED BY ${role} CASCADE`, `DROP ROLE IF EXISTS ${role}`]),
  };
}

/** The database's ACL as text (`{=Tc/nightshift,nightshift=CTc/nightshift,app=c/nightshift}`). */
export async function databaseAcl(pool: pg.Pool): Promise<string> {
  const r = await pool.query<{ acl: string | null }>(`SELECT datacl::text AS acl FROM pg_database WHERE datname = current_database()`);
  return r.rows[0]!.acl ?? '(default)';
}

/** The roles holding CONNECT on the database ('PUBLIC' for everyone), sorted. */
export async function connectHolders(pool: pg.Pool): Promise<string[]> {
  const r = await pool.query<{ role: string }>(
    `SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE g.rolname::text END AS role
       FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a LEFT JOIN pg_roles g ON g.oid = a.grantee
      WHERE d.datname = current_database() AND a.privilege_type = 'CONNECT'
      ORDER BY 1`,
  );
  return r.rows.map((x) => x.role);
}

/**
 * A test stack whose mail goes to a real SMTP server of the test's own (`smtp.messages`), with the worker's mail
 * transport: the three closed, whatever happens, in the order they were opened backwards.
 */
export async function withMailStack<T>(fn: (m: { smtp: Awaited<ReturnType<typeof startSmtp>>; stack: TestStack; mail: Transporter }) => Promise<T>, env: Record<string, string> = {}): Promise<T> {
  const smtp = await startSmtp();
  try {
    const stack = await createTestStack({ NIGHTSHIFT_SMTP_PORT: String(smtp.port), ...env });
    const mail = createMailTransport(stack.config);
    try {
      return await fn({ smtp, stack, mail });
    } finally {
      mail.close();
      await stack.close();
    }
  } finally {
    await smtp.close();
  }
}

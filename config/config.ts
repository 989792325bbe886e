import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { BACKUP_SETTING_SCHEMAS, type BackupSettingKey, type BackupSettings } from '../domain/backup-batch';
import { canonicalTimeZone } from '../domain/operator-time';
import { type RetentionPolicies, parseLocalRetention } from '../domain/retention';
import { CONTROL_CHARS_PROBLEM, hasControlChars, shownInput } from '../domain/text';
import { redactUrlSecrets } from '../domain/redact';
import { Secret } from '../offsite/secret';

/**
 * Every setting Nightshift reads, from the environment, parsed once at start.
 * A bad value fails with the variable's name and what was expected (ConfigError).
 * The README's "Configuration" table and .env.example list the same variables.
 */

/**
 * Every whole number of the environment: decimal digits only. No 1e3, 0x…, 5.0, +5 or spaces, which
 * a plain Number() would read as something the operator may not have meant.
 */
const wholeNumber = (min: number, max: number, fallback: number, messages: { notDigits?: string; range?: string } = {}) =>
  z
    .string()
    .regex(/^\d{1,15}$/, messages.notDigits ?? `expected a whole number in decimal digits (${min}-${max})`)
    .transform(Number)
    .pipe(z.number().min(min, messages.range ?? `expected ${min}-${max}`).max(max, messages.range ?? `expected ${min}-${max}`))
    .default(fallback);

const PORT_RANGE = 'expected a port 1-65535';
const port = (fallback: number) => wholeNumber(1, 65535, fallback, { notDigits: 'expected a TCP port number (decimal digits, 1-65535)', range: PORT_RANGE });

/**
 * Every text of the environment: no control character (CR/LF split a log line or a mail header, ESC
 * drives the terminal that prints it). Checked before trimming, so a trailing newline is refused too.
 */
const text = (options: { trim?: boolean } = {}) => {
  const checked = z.string().refine((v) => !hasControlChars(v), { message: CONTROL_CHARS_PROBLEM, abort: true });
  return (options.trim === false ? checked : checked.trim()).min(1, 'expected a value');
};

/** A word of a fixed lower-case set, written in any case (`TRUE`, `Info`): its canonical spelling. */
const word = <W extends string>(words: readonly [W, ...W[]], error?: string) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(words, error === undefined ? undefined : { error }));

const BOOL_WORDS = ['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off'] as const;

const bool = (fallback: boolean) =>
  word(BOOL_WORDS, 'expected true or false')
    .default(fallback ? 'true' : 'false')
    .transform((v) => ['1', 'true', 'yes', 'on'].includes(v));

const optionalText = text().optional();

/** The port a URL names, as typed: the URL parser refuses one above 65535 without saying that this is why. */
function urlPort(url: string): string | undefined {
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
  return /^(?:\[[^\]]*\]|[^:]*):(\d+)$/.exec(authority.slice(authority.lastIndexOf('@') + 1))?.[1];
}

const postgresUrl = text()
  .refine((v) => /^postgres(ql)?:\/\//.test(v), { message: 'expected a postgres:// or postgresql:// URL', abort: true })
  .superRefine((v, ctx) => {
    const port = urlPort(v);
    if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) ctx.addIssue({ code: 'custom', message: `the port ${port.slice(0, 10)} is out of range (1-65535)` });
    else if (!URL.canParse(v)) ctx.addIssue({ code: 'custom', message: 'expected a valid URL' });
  });

/** A whole number of the gate's settings (seconds, per-minute rates, caps), within bounds. */
const gateCount = (fallback: number, min: number, max: number) => wholeNumber(min, max, fallback);

function isAddressOrCidr(v: string): boolean {
  const [addr = '', bits, ...rest] = v.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

export { TARGET_NAME } from '../domain/target';
import { TARGET_NAME } from '../domain/target';

/** An IANA time zone, in its canonical spelling; anything else (Foo/Bar, CET-1CEST, a path) names the variable. */
function timeZoneOf(variable: string) {
  return (v: string, ctx: z.RefinementCtx): string => {
    const zone = canonicalTimeZone(variable === 'TZ' ? v.replace(/^:/, '') : v);
    if (!zone) {
      ctx.addIssue({ code: 'custom', message: `unknown time zone "${shownInput(v, 64)}": expected an IANA time zone such as Europe/Paris${variable === 'TZ' ? ' (or leave TZ unset)' : ''}` });
      return z.NEVER;
    }
    return zone;
  };
}

/** The process's own zone when TZ is unset (UTC when the system has none Intl knows). */
function systemTimeZone(): string {
  return canonicalTimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone ?? '') ?? 'UTC';
}

/** A key id is written in every archive's first line: short, and safe in a file name and a terminal. */
export const BACKUP_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;
const BACKUP_KEY_ID_PROBLEM = 'expected a key id of letters, digits, "_", "." or "-" (up to 40, starting with a letter or digit)';

const envSchema = z.object({
  NIGHTSHIFT_DATA_DIR: text().default('.nightshift'),
  DATABASE_URL: postgresUrl.optional(),
  NIGHTSHIFT_TARGETS: text().optional(),
  NIGHTSHIFT_PG_PORT: port(54329),
  NIGHTSHIFT_PG_PASSWORD: text({ trim: false }).default('nightshift'),

  TEMPORAL_ADDRESS: text()
    .regex(/^([^\s:/[\]]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/, { message: 'expected host:port', abort: true })
    .refine((v) => /:([1-9]\d{0,4})$/.test(v) && Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, `expected host:port with a port 1-65535`)
    .optional(),
  TEMPORAL_NAMESPACE: text().default('default'),
  TEMPORAL_TASK_QUEUE: text().default('nightshift'),
  TEMPORAL_API_KEY: optionalText,
  TEMPORAL_TLS: bool(false),
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalText,
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalText,
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalText,
  TEMPORAL_TLS_SERVER_NAME: optionalText,
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: bool(false),
  NIGHTSHIFT_TEMPORAL_PORT: port(7233),
  NIGHTSHIFT_UI_PORT: port(8233),
  // where the Web UI of this deployment is, or `none` (`nightshift cluster` runs none); unset = http://localhost:<NIGHTSHIFT_UI_PORT>
  NIGHTSHIFT_UI_URL: text()
    .refine((v) => v === 'none' || (/^https?:\/\//.test(v) && URL.canParse(v)), 'expected an http(s):// URL or none')
    .optional(),
  NIGHTSHIFT_METRICS_PORT: port(9464),
  // the Temporal runtime's Prometheus exporter takes a socket address: `localhost` stopped the worker naming no variable
  NIGHTSHIFT_METRICS_HOST: text()
    .refine((v) => v === '' || isIP(v) !== 0, "expected an IP address, such as 127.0.0.1, 0.0.0.0 or ::1 (the worker's Prometheus exporter takes no host name)")
    .default('127.0.0.1'),
  NIGHTSHIFT_GATE_PORT: port(8780),
  NIGHTSHIFT_GATE_HOST: text().default('127.0.0.1'),
  // The gate on a network (issue 9, R-SE-4/5): metrics listener, TLS, trusted proxies, key refresh, limits.
  NIGHTSHIFT_GATE_METRICS_PORT: port(9465),
  NIGHTSHIFT_GATE_METRICS_HOST: text().default('127.0.0.1'),
  NIGHTSHIFT_GATE_TLS_CERT: optionalText,
  NIGHTSHIFT_GATE_TLS_KEY: optionalText,
  NIGHTSHIFT_GATE_TLS_CLIENT_CA: optionalText,
  NIGHTSHIFT_GATE_TRUSTED_PROXIES: z
    .string()
    .trim()
    .refine((v) => v.split(/[\s,]+/).filter(Boolean).every(isAddressOrCidr), 'expected IP addresses or CIDR ranges (10.0.0.0/8), comma separated')
    // gate drill: passed here, then the gate died at start ("invalid range on address: 0.0.0.0/0"); trusting every
    // address would let any client forge X-Forwarded-For and escape the per-address login limit anyway
    .refine((v) => !v.split(/[\s,]+/).some((r) => /\/0+$/.test(r)), 'a /0 range trusts every address (any client could then choose its address in X-Forwarded-For): name your proxies')
    .optional(),
  NIGHTSHIFT_GATE_KEY_REFRESH_S: gateCount(5, 1, 300),
  NIGHTSHIFT_GATE_LOGIN_RATE_KEY: gateCount(600, 1, 1_000_000),
  NIGHTSHIFT_GATE_LOGIN_RATE_ADDRESS: gateCount(60, 1, 1_000_000),
  NIGHTSHIFT_GATE_MAX_SESSIONS_PER_KEY: gateCount(5000, 1, 10_000_000),
  NIGHTSHIFT_GATE_MAX_DOSSIERS_PER_SESSION: gateCount(20, 1, 10_000),
  NIGHTSHIFT_GATE_MAX_CONNECTIONS: gateCount(2000, 1, 1_000_000),
  NIGHTSHIFT_GATE_REQUEST_TIMEOUT_S: gateCount(10, 1, 300),
  NIGHTSHIFT_GATE_KEEPALIVE_TIMEOUT_S: gateCount(65, 1, 600),
  NIGHTSHIFT_GATE_SESSION_RETENTION_DAYS: gateCount(7, 1, 3650),
  NIGHTSHIFT_SESSION_TIMEOUT_S: wholeNumber(5, 86_400, 60, { range: 'expected 5-86400 seconds' }),
  NIGHTSHIFT_CLAIM_WAIT_S: wholeNumber(0, 600, 15, { range: 'expected 0-600 seconds' }),
  NIGHTSHIFT_TIMEZONE: z.string().transform(timeZoneOf('NIGHTSHIFT_TIMEZONE')).optional(),
  // the operator's zone, as the C library reads it (a leading ':' is its "file name" form)
  TZ: z.string().transform(timeZoneOf('TZ')).optional(),
  TEMPORAL_CLI: optionalText,
  TEMPORAL_TEST_SERVER: optionalText,

  NIGHTSHIFT_SMTP_HOST: text().default('127.0.0.1'),
  NIGHTSHIFT_SMTP_PORT: port(2525),
  NIGHTSHIFT_SMTP_SECURE: bool(false),
  NIGHTSHIFT_SMTP_USER: optionalText,
  NIGHTSHIFT_SMTP_PASSWORD: text({ trim: false }).optional(),
  NIGHTSHIFT_SMTP_FROM_NAME: text().default('Nightshift'),
  // Deliberately loose: local senders such as nightshift@localhost are valid for a relay.
  NIGHTSHIFT_SMTP_FROM_ADDRESS: text().regex(/^[^\s@<>"]+@[^\s@<>"]+$/, 'expected an e-mail address').default('nightshift@localhost'),
  NIGHTSHIFT_SMTP_SEND_DELAY_S: wholeNumber(0, 3600, 1, { range: 'expected 0-3600 seconds' }),

  NIGHTSHIFT_APP_NAME: text().max(80, 'expected at most 80 characters').default('ISACOMPTA CONNECT'),
  NIGHTSHIFT_BACKUP_DIR: optionalText,
  NIGHTSHIFT_DOCUMENTS_DIR: optionalText,
  // Mode of the archives and batch reports (client accounting data): owner read/write, at most read for group/others.
  NIGHTSHIFT_BACKUP_FILE_MODE: z
    .string()
    .trim()
    .regex(/^0?[0-7]{3}$/, 'expected an octal file mode such as 0600 or 0640')
    .transform((v) => parseInt(v, 8))
    .refine((m) => (m & 0o600) === 0o600 && (m & 0o133) === 0, 'expected owner read/write and at most read for group and others (0600, 0640 or 0644)')
    .default(0o600),
  // Encryption at rest (issue 13.2): the operator's keys, never in the database or the logs (archive/keys.ts).
  NIGHTSHIFT_BACKUP_KEYS_FILE: optionalText,
  NIGHTSHIFT_BACKUP_KEYS: text({ trim: false }).transform((v) => new Secret(v)).optional(),
  NIGHTSHIFT_BACKUP_KEY_ID: text().regex(BACKUP_KEY_ID, BACKUP_KEY_ID_PROBLEM).optional(),
  NIGHTSHIFT_BACKUP_PLAIN: bool(false),
  // Local values of the R-BK-9 settings (they win over the common values in the database).
  NIGHTSHIFT_BACKUP_DATE_SUBFOLDER: BACKUP_SETTING_SCHEMAS['date-subfolder'].optional(),
  NIGHTSHIFT_BACKUP_DOSSIERS: BACKUP_SETTING_SCHEMAS.dossiers.optional(),
  NIGHTSHIFT_BACKUP_MODIFIED_ONLY: BACKUP_SETTING_SCHEMAS['modified-only'].optional(),
  NIGHTSHIFT_BACKUP_DOCUMENTS: BACKUP_SETTING_SCHEMAS.documents.optional(),
  NIGHTSHIFT_BACKUP_REPORT_TO: BACKUP_SETTING_SCHEMAS['report-recipients'].optional(),
  NIGHTSHIFT_BACKUP_ON_EXIT: BACKUP_SETTING_SCHEMAS['on-exit'].optional(),
  NIGHTSHIFT_BACKUP_BEFORE_EXCHANGE: BACKUP_SETTING_SCHEMAS['before-exchange'].optional(),
  NIGHTSHIFT_BACKUP_BEFORE_CLOSING: BACKUP_SETTING_SCHEMAS['before-closing'].optional(),
  // R-BK-11 retention, this machine's value: 'last=2,daily=7,weekly=4,monthly=3' or per kind 'normal:...;Cloture:...'
  NIGHTSHIFT_BACKUP_RETENTION: text()
    .transform((v, ctx) => {
      try {
        return parseLocalRetention(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  // Off-site copies to S3-compatible object storage (issue 13.4): on when a bucket is named.
  NIGHTSHIFT_OFFSITE_S3_ENDPOINT: text()
    .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { message: 'expected an http:// or https:// URL', abort: true })
    .refine((v) => !new URL(v).username && !new URL(v).password, 'expected no user or password in the URL: use NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID and _SECRET_ACCESS_KEY(_FILE)')
    // a query string may carry a signature or a key (drill X, session 40: `backup info` printed it back): the endpoint is
    // a scheme, a host, a port and at most a path
    .refine((v) => !new URL(v).search && !new URL(v).hash && !v.includes('?') && !v.includes('#'), 'expected no query string or fragment in the URL (scheme, host, port and at most a path)')
    .optional(),
  NIGHTSHIFT_OFFSITE_S3_BUCKET: text().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected a bucket name: 3-63 lower-case letters, digits, "." or "-"').optional(),
  NIGHTSHIFT_OFFSITE_S3_PREFIX: text()
    .max(200, 'expected at most 200 characters')
    .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\/?$/, 'expected folder names of letters, digits, ".", "_" or "-" separated by "/" (nightshift/prod)')
    .optional(),
  NIGHTSHIFT_OFFSITE_S3_REGION: text().regex(/^[a-z0-9-]{1,40}$/, 'expected a region name such as us-east-1').default('us-east-1'),
  NIGHTSHIFT_OFFSITE_S3_PATH_STYLE: word(BOOL_WORDS, 'expected true or false').optional(),
  NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID: optionalText,
  NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: text({ trim: false }).transform((v) => new Secret(v)).optional(),
  NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE: optionalText,
  NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB: wholeNumber(5, 5120, 16, { range: 'expected 5-5120 (MiB per part)' }),
  NIGHTSHIFT_OFFSITE_S3_CONCURRENCY: wholeNumber(1, 16, 4, { range: 'expected 1-16 parts in flight' }),
  NIGHTSHIFT_WORKER_CONCURRENCY: wholeNumber(1, 64, 4),
  NIGHTSHIFT_LOG_LEVEL: word(['trace', 'debug', 'info', 'warn', 'error'], 'expected trace, debug, info, warn or error').default('info'),
});

export interface Target {
  name: string;
  databaseUrl: string;
}

export interface Config {
  dataDir: string;
  /** true when PostgreSQL is the embedded one, started by `nightshift dev` under dataDir/pg. */
  embeddedPostgres: boolean;
  pg: { port: number; password: string; user: string; database: string };
  targets: Target[];
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    apiKey?: string;
    tls?: { clientCertPath?: string; clientKeyPath?: string; serverCaCertPath?: string; serverName?: string; disableHostVerification: boolean };
    devPort: number;
    uiPort: number;
    /** the Web UI's base URL; null: this deployment has none (NIGHTSHIFT_UI_URL=none) */
    uiUrl: string | null;
    cli?: string;
    testServer?: string;
  };
  metricsPort: number;
  metricsHost: string;
  gatePort: number;
  gateHost: string;
  /** A session that stops heartbeating expires after this many seconds (R-SE-1). */
  sessionTimeoutSeconds: number;
  /** How long `backup run` / `patch …` without --wait wait for a worker's claim of the run they started (R-BK-1, R-PI-2). */
  claimWaitSeconds: number;
  /** The gate on a network (issue 9): see gate/server.ts and the README's gate section. */
  gate: GateSettings;
  /** Time zone of the texts shown to users (R-MW-4, R-MW-6): NIGHTSHIFT_TIMEZONE, else TZ, else the system's. */
  timeZone: string;
  /**
   * The operator's zone: CLI times are typed and shown in it. The deployment's zone first (NIGHTSHIFT_TIMEZONE: the one
   * reports, mails and retention periods are in, so that a time copied from a report finds its generation), else TZ,
   * else the system's: the same as timeZone.
   */
  operatorTimeZone: string;
  smtp: { host: string; port: number; secure: boolean; user?: string; password?: string; fromName: string; fromAddress: string; sendDelaySeconds: number };
  appName: string;
  backupDir: string;
  /** R-BK-9 values set on this machine (local > common > default); the folder only when NIGHTSHIFT_BACKUP_DIR is set. */
  backupLocal: Partial<BackupSettings>;
  /** R-BK-11 retention per folder kind set on this machine (NIGHTSHIFT_BACKUP_RETENTION): wins over the common value */
  backupRetention?: Partial<RetentionPolicies>;
  /** mode of the archives and batch reports (NIGHTSHIFT_BACKUP_FILE_MODE, default 0600) */
  backupFileMode: number;
  /** where the archive keys come from (archive/keys.ts reads them); no key anywhere: archives are written plain */
  backupKeys: BackupKeySettings;
  documentsDir: string;
  /** Off-site copies (NIGHTSHIFT_OFFSITE_S3_*); absent when no bucket is named. */
  offsite?: OffsiteSettings;
  workerConcurrency: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

export interface GateSettings {
  metricsPort: number;
  /** NIGHTSHIFT_GATE_METRICS_PORT was set (`nightshift dev` then binds it; unset, dev picks a free port) */
  metricsPortGiven: boolean;
  metricsHost: string;
  /** HTTPS with these PEM files; clientCaPath: client certificates signed by it are required */
  tls?: { certPath: string; keyPath: string; clientCaPath?: string };
  /** addresses / CIDRs whose X-Forwarded-For is believed (client address of rate limits) */
  trustedProxies: string[];
  keyRefreshSeconds: number;
  /** logins per minute */
  loginRatePerKey: number;
  loginRatePerAddress: number;
  maxSessionsPerKey: number;
  maxDossiersPerSession: number;
  maxConnections: number;
  requestTimeoutSeconds: number;
  keepAliveTimeoutSeconds: number;
  sessionRetentionSeconds: number;
}

export interface OffsiteSettings {
  /** an S3-compatible server; absent: AWS S3 of `region` */
  endpoint?: string;
  bucket: string;
  /** '' or folders ending with '/' */
  prefix: string;
  region: string;
  forcePathStyle: boolean;
  /** absent: the AWS SDK's default chain (AWS_ACCESS_KEY_ID…, instance roles) */
  credentials?: { accessKeyId: string; secretAccessKey: Secret } | { accessKeyId: string; secretAccessKeyFile: string };
  partSizeBytes: number;
  /** parts in flight per upload (memory: concurrency × part size) */
  concurrency: number;
}

/** The keys that encrypt archives (issue 13.2). The values themselves are read when used, never kept here. */
export interface BackupKeySettings {
  /** NIGHTSHIFT_BACKUP_KEYS_FILE, else <data dir>/backup-keys (what `nightshift dev` and the cluster create) */
  file: string;
  /** whether the file was named: then it must exist; the default one is read only if present */
  fileGiven: boolean;
  /** NIGHTSHIFT_BACKUP_KEYS: the same `id=base64` entries, comma or space separated */
  inline?: Secret;
  /** NIGHTSHIFT_BACKUP_KEY_ID: the key new archives use; unset: the last key listed (file, then NIGHTSHIFT_BACKUP_KEYS) */
  currentId?: string;
  /**
   * NIGHTSHIFT_BACKUP_PLAIN: plain archives on purpose where archives were encrypted before. Without it, no key
   * there is a BackupKeyMissing failure, not a silent plain archive (R-BK-12: archive/keys.ts refusePlainWhereEncrypted).
   */
  plainOnPurpose?: boolean;
}

export const BACKUP_KEYS_FILE_NAME = 'backup-keys';
export const BACKUP_KEY_BYTES = 32;

const backupKeyEntrySchema = z
  .string()
  .regex(/^[^=]+=[^=]+={0,2}$/, { message: 'expected id=base64key', abort: true })
  .transform((entry) => ({ id: entry.slice(0, entry.indexOf('=')), key: entry.slice(entry.indexOf('=') + 1) }))
  .refine((e) => BACKUP_KEY_ID.test(e.id), { message: BACKUP_KEY_ID_PROBLEM, abort: true })
  .superRefine((e, ctx) => {
    const bytes = Buffer.from(e.key, 'base64');
    // the key itself is never quoted back: the message names the entry by its id only
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(e.key) || bytes.length !== BACKUP_KEY_BYTES || bytes.toString('base64') !== e.key) {
      ctx.addIssue({ code: 'custom', message: `key ${e.id}: expected ${BACKUP_KEY_BYTES} random bytes in base64 (44 characters; openssl rand -base64 32)` });
    }
  });

/**
 * Backup key entries (`id=base64key`) from the key file's lines (blank lines and `#` comments
 * skipped) or from NIGHTSHIFT_BACKUP_KEYS (comma or space separated). Problems name the line or the
 * entry's id, never the key; an id listed twice is refused.
 */
export function parseBackupKeys(text: string, source: { variable: string; lines: boolean }): { id: string; key: Buffer }[] {
  const problems: string[] = [];
  const out: { id: string; key: Buffer }[] = [];
  const entries = source.lines
    ? text
        .split('\n')
        // a file may align its lines: spaces around the first '=' (an id holds none) are layout, not part of the key
        .map((l, i) => ({ entry: l.trim().replace(/^([^=\s]+)\s*=\s*/, '$1='), where: `line ${i + 1}` }))
        .filter((e) => e.entry && !e.entry.startsWith('#'))
    : text.split(/[\s,]+/).filter(Boolean).map((entry, i) => ({ entry, where: `entry ${i + 1}` }));
  for (const { entry, where } of entries) {
    const r = backupKeyEntrySchema.safeParse(entry);
    if (!r.success) problems.push(`${where}: ${r.error.issues[0]!.message}`);
    else if (out.some((k) => k.id === r.data.id)) problems.push(`${where}: key ${r.data.id} is listed twice`);
    else out.push({ id: r.data.id, key: Buffer.from(r.data.key, 'base64') });
  }
  if (problems.length) throw new ConfigError(problems.map((problem) => ({ variable: source.variable, problem })));
  return out;
}

export class ConfigError extends Error {
  readonly problems: { variable: string; problem: string }[];
  constructor(problems: { variable: string; problem: string }[]) {
    // a problem may quote what it refuses: never a URL's password, whichever check wrote it
    // one line per problem: a list whose three entries are each refused alike ('not an email') said it three times
    problems = problems
      .map((p) => ({ variable: p.variable, problem: redactUrlSecrets(p.problem) }))
      .filter((p, i, all) => all.findIndex((q) => q.variable === p.variable && q.problem === p.problem) === i);
    // one problem, one line (what the CLI prints after `nightshift: `); several: one line each under a head
    super(problems.length === 1 ? `${problems[0]!.variable}: ${problems[0]!.problem}` : `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.problem}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function parseTargets(raw: string | undefined, defaultUrl: string): Target[] {
  if (raw === undefined) return [{ name: 'main', databaseUrl: defaultUrl }];
  const problems: string[] = [];
  const targets: Target[] = [];
  for (const item of raw.split(/[\s,]+/).filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = eq > 0 ? item.slice(0, eq) : '';
    const url = eq > 0 ? item.slice(eq + 1) : '';
    const urlProblem = postgresUrl.safeParse(url).error?.issues[0]?.message;
    if (!TARGET_NAME.test(name)) problems.push(`"${shownInput(redactUrlSecrets(item), 60)}": expected name=postgres://… with a name of lower-case letters, digits, _ or - (max 40)`);
    else if (urlProblem) problems.push(`target ${name}: ${urlProblem}`);
    else if (targets.some((t) => t.name === name)) problems.push(`target ${name} is listed twice`);
    // one database under two names: every run, window and lease is per target, so its dossiers would be worked twice over
    else if (targets.some((t) => t.databaseUrl === url)) problems.push(`targets ${targets.find((t) => t.databaseUrl === url)!.name} and ${name} have the same URL: one database is one target (doctor finds the same database under different URLs)`);
    else targets.push({ name, databaseUrl: url });
  }
  if (problems.length) throw new ConfigError(problems.map((problem) => ({ variable: 'NIGHTSHIFT_TARGETS', problem })));
  if (!targets.length) throw new ConfigError([{ variable: 'NIGHTSHIFT_TARGETS', problem: 'expected at least one name=postgres://… entry' }]);
  return targets;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  // Empty variables count as unset, as in most shells' `VAR= cmd` habit.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), problem: i.message })));
  }
  const e = parsed.data;
  const dataDir = path.resolve(cwd, e.NIGHTSHIFT_DATA_DIR);
  const pg = { port: e.NIGHTSHIFT_PG_PORT, password: e.NIGHTSHIFT_PG_PASSWORD, user: 'nightshift', database: 'nightshift' };
  const embeddedUrl = `postgres://${pg.user}:${encodeURIComponent(pg.password)}@127.0.0.1:${pg.port}/${pg.database}`;
  const tlsWanted =
    e.TEMPORAL_TLS || !!e.TEMPORAL_API_KEY || !!e.TEMPORAL_TLS_CLIENT_CERT_PATH || !!e.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  return {
    dataDir,
    embeddedPostgres: !e.DATABASE_URL && !e.NIGHTSHIFT_TARGETS,
    pg,
    targets: parseTargets(e.NIGHTSHIFT_TARGETS, e.DATABASE_URL ?? embeddedUrl),
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? `127.0.0.1:${e.NIGHTSHIFT_TEMPORAL_PORT}`,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: tlsWanted
        ? {
            clientCertPath: e.TEMPORAL_TLS_CLIENT_CERT_PATH,
            clientKeyPath: e.TEMPORAL_TLS_CLIENT_KEY_PATH,
            serverCaCertPath: e.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
            disableHostVerification: e.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION,
          }
        : undefined,
      devPort: e.NIGHTSHIFT_TEMPORAL_PORT,
      uiPort: e.NIGHTSHIFT_UI_PORT,
      uiUrl: e.NIGHTSHIFT_UI_URL === 'none' ? null : (e.NIGHTSHIFT_UI_URL?.replace(/\/+$/, '') ?? `http://localhost:${e.NIGHTSHIFT_UI_PORT}`),
      cli: e.TEMPORAL_CLI,
      testServer: e.TEMPORAL_TEST_SERVER,
    },
    metricsPort: e.NIGHTSHIFT_METRICS_PORT,
    metricsHost: e.NIGHTSHIFT_METRICS_HOST,
    gatePort: e.NIGHTSHIFT_GATE_PORT,
    gateHost: e.NIGHTSHIFT_GATE_HOST,
    sessionTimeoutSeconds: e.NIGHTSHIFT_SESSION_TIMEOUT_S,
    claimWaitSeconds: e.NIGHTSHIFT_CLAIM_WAIT_S,
    gate: gateSettings(e, cleaned.NIGHTSHIFT_GATE_METRICS_PORT !== undefined),
    timeZone: e.NIGHTSHIFT_TIMEZONE ?? e.TZ ?? systemTimeZone(),
    operatorTimeZone: e.NIGHTSHIFT_TIMEZONE ?? e.TZ ?? systemTimeZone(),
    smtp: {
      host: e.NIGHTSHIFT_SMTP_HOST,
      port: e.NIGHTSHIFT_SMTP_PORT,
      secure: e.NIGHTSHIFT_SMTP_SECURE,
      user: e.NIGHTSHIFT_SMTP_USER,
      password: e.NIGHTSHIFT_SMTP_PASSWORD,
      fromName: e.NIGHTSHIFT_SMTP_FROM_NAME,
      fromAddress: e.NIGHTSHIFT_SMTP_FROM_ADDRESS,
      sendDelaySeconds: e.NIGHTSHIFT_SMTP_SEND_DELAY_S,
    },
    appName: e.NIGHTSHIFT_APP_NAME,
    backupDir: path.resolve(dataDir, e.NIGHTSHIFT_BACKUP_DIR ?? 'sauve'),
    backupLocal: dropUndefined<BackupSettingKey>({
      folder: e.NIGHTSHIFT_BACKUP_DIR ? path.resolve(dataDir, e.NIGHTSHIFT_BACKUP_DIR) : undefined,
      'date-subfolder': e.NIGHTSHIFT_BACKUP_DATE_SUBFOLDER,
      dossiers: e.NIGHTSHIFT_BACKUP_DOSSIERS,
      'modified-only': e.NIGHTSHIFT_BACKUP_MODIFIED_ONLY,
      documents: e.NIGHTSHIFT_BACKUP_DOCUMENTS,
      'report-recipients': e.NIGHTSHIFT_BACKUP_REPORT_TO,
      'on-exit': e.NIGHTSHIFT_BACKUP_ON_EXIT,
      'before-exchange': e.NIGHTSHIFT_BACKUP_BEFORE_EXCHANGE,
      'before-closing': e.NIGHTSHIFT_BACKUP_BEFORE_CLOSING,
    }) as Partial<BackupSettings>,
    backupRetention: e.NIGHTSHIFT_BACKUP_RETENTION,
    backupFileMode: e.NIGHTSHIFT_BACKUP_FILE_MODE,
    backupKeys: {
      file: e.NIGHTSHIFT_BACKUP_KEYS_FILE ? path.resolve(cwd, e.NIGHTSHIFT_BACKUP_KEYS_FILE) : path.join(dataDir, BACKUP_KEYS_FILE_NAME),
      fileGiven: e.NIGHTSHIFT_BACKUP_KEYS_FILE !== undefined,
      inline: e.NIGHTSHIFT_BACKUP_KEYS,
      currentId: e.NIGHTSHIFT_BACKUP_KEY_ID,
      plainOnPurpose: e.NIGHTSHIFT_BACKUP_PLAIN,
    },
    documentsDir: path.resolve(dataDir, e.NIGHTSHIFT_DOCUMENTS_DIR ?? 'documents'),
    offsite: offsiteSettings(e, cwd),
    workerConcurrency: e.NIGHTSHIFT_WORKER_CONCURRENCY,
    logLevel: e.NIGHTSHIFT_LOG_LEVEL,
  };
}

function gateSettings(e: z.infer<typeof envSchema>, metricsPortGiven: boolean): GateSettings {
  const problems: { variable: string; problem: string }[] = [];
  if (!e.NIGHTSHIFT_GATE_TLS_CERT !== !e.NIGHTSHIFT_GATE_TLS_KEY) {
    const missing = e.NIGHTSHIFT_GATE_TLS_CERT ? 'NIGHTSHIFT_GATE_TLS_KEY' : 'NIGHTSHIFT_GATE_TLS_CERT';
    problems.push({ variable: missing, problem: 'HTTPS needs both NIGHTSHIFT_GATE_TLS_CERT and NIGHTSHIFT_GATE_TLS_KEY' });
  }
  if (e.NIGHTSHIFT_GATE_TLS_CLIENT_CA && !e.NIGHTSHIFT_GATE_TLS_CERT) {
    problems.push({ variable: 'NIGHTSHIFT_GATE_TLS_CLIENT_CA', problem: 'client certificates need HTTPS: set NIGHTSHIFT_GATE_TLS_CERT and NIGHTSHIFT_GATE_TLS_KEY too' });
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    metricsPort: e.NIGHTSHIFT_GATE_METRICS_PORT,
    metricsPortGiven,
    metricsHost: e.NIGHTSHIFT_GATE_METRICS_HOST,
    tls:
      e.NIGHTSHIFT_GATE_TLS_CERT && e.NIGHTSHIFT_GATE_TLS_KEY
        ? { certPath: e.NIGHTSHIFT_GATE_TLS_CERT, keyPath: e.NIGHTSHIFT_GATE_TLS_KEY, clientCaPath: e.NIGHTSHIFT_GATE_TLS_CLIENT_CA }
        : undefined,
    trustedProxies: (e.NIGHTSHIFT_GATE_TRUSTED_PROXIES ?? '').split(/[\s,]+/).filter(Boolean),
    keyRefreshSeconds: e.NIGHTSHIFT_GATE_KEY_REFRESH_S,
    loginRatePerKey: e.NIGHTSHIFT_GATE_LOGIN_RATE_KEY,
    loginRatePerAddress: e.NIGHTSHIFT_GATE_LOGIN_RATE_ADDRESS,
    maxSessionsPerKey: e.NIGHTSHIFT_GATE_MAX_SESSIONS_PER_KEY,
    maxDossiersPerSession: e.NIGHTSHIFT_GATE_MAX_DOSSIERS_PER_SESSION,
    maxConnections: e.NIGHTSHIFT_GATE_MAX_CONNECTIONS,
    requestTimeoutSeconds: e.NIGHTSHIFT_GATE_REQUEST_TIMEOUT_S,
    keepAliveTimeoutSeconds: e.NIGHTSHIFT_GATE_KEEPALIVE_TIMEOUT_S,
    sessionRetentionSeconds: e.NIGHTSHIFT_GATE_SESSION_RETENTION_DAYS * 86_400,
  };
}

function offsiteSettings(e: z.infer<typeof envSchema>, cwd: string): OffsiteSettings | undefined {
  const given = (Object.keys(e) as (keyof typeof e)[]).filter((k) => k.startsWith('NIGHTSHIFT_OFFSITE_S3_') && !['NIGHTSHIFT_OFFSITE_S3_REGION', 'NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB', 'NIGHTSHIFT_OFFSITE_S3_CONCURRENCY'].includes(k));
  const problems: { variable: string; problem: string }[] = [];
  if (!e.NIGHTSHIFT_OFFSITE_S3_BUCKET) {
    if (given.length) problems.push({ variable: 'NIGHTSHIFT_OFFSITE_S3_BUCKET', problem: `off-site copies need a bucket (${given.join(', ')} given without one)` });
  } else {
    if (e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY && e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE) {
      problems.push({ variable: 'NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY', problem: 'give the secret key once: in NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY or in a file named by NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE' });
    } else if (!e.NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID !== !(e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY || e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE)) {
      problems.push(
        e.NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID
          ? { variable: 'NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY', problem: 'an access key id needs its secret: NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY or _SECRET_ACCESS_KEY_FILE' }
          : { variable: 'NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID', problem: 'a secret key needs its access key id' },
      );
    }
  }
  if (problems.length) throw new ConfigError(problems);
  if (!e.NIGHTSHIFT_OFFSITE_S3_BUCKET) return undefined;
  const accessKeyId = e.NIGHTSHIFT_OFFSITE_S3_ACCESS_KEY_ID;
  const prefix = e.NIGHTSHIFT_OFFSITE_S3_PREFIX ? e.NIGHTSHIFT_OFFSITE_S3_PREFIX.replace(/\/?$/, '/') : '';
  return {
    endpoint: e.NIGHTSHIFT_OFFSITE_S3_ENDPOINT,
    bucket: e.NIGHTSHIFT_OFFSITE_S3_BUCKET,
    prefix,
    region: e.NIGHTSHIFT_OFFSITE_S3_REGION,
    forcePathStyle: e.NIGHTSHIFT_OFFSITE_S3_PATH_STYLE ? ['1', 'true', 'yes', 'on'].includes(e.NIGHTSHIFT_OFFSITE_S3_PATH_STYLE) : !!e.NIGHTSHIFT_OFFSITE_S3_ENDPOINT,
    credentials: !accessKeyId
      ? undefined
      : e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY
        ? { accessKeyId, secretAccessKey: e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY }
        : { accessKeyId, secretAccessKeyFile: path.resolve(cwd, e.NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY_FILE!) },
    partSizeBytes: e.NIGHTSHIFT_OFFSITE_S3_PART_SIZE_MB * 1024 * 1024,
    concurrency: e.NIGHTSHIFT_OFFSITE_S3_CONCURRENCY,
  };
}

function dropUndefined<K extends string>(o: Record<K, unknown>): Partial<Record<K, unknown>> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<Record<K, unknown>>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--target` resolution: the named one, or the only one; ambiguity is a usage error. */
export function resolveTarget(config: Config, name?: string): Target {
  if (name === undefined) {
    if (config.targets.length === 1) return config.targets[0]!;
    throw new UsageError(`several targets are configured (${config.targets.map((t) => t.name).join(', ')}): choose one with --target`);
  }
  const target = config.targets.find((t) => t.name === name);
  if (!target) {
    throw new UsageError(`unknown target "${name.slice(0, 60)}": configured targets are ${config.targets.map((t) => t.name).join(', ')}`);
  }
  return target;
}

/** Where the local tools live: TEMPORAL_CLI wins, else .tools/bin from scripts/install-tools.sh. */
export function toolPaths(config: Config, projectRoot: string): { temporal: string; testServer: string } {
  return {
    temporal: config.temporal.cli ?? path.join(projectRoot, '.tools', 'bin', 'temporal'),
    testServer: config.temporal.testServer ?? path.join(projectRoot, '.tools', 'bin', 'temporal-test-server'),
  };
}

export const PROJECT_ROOT = path.resolve(__dirname, '..');

import crypto from 'node:crypto';
import { SMTPServer } from 'smtp-server';
import type pg from 'pg';
import { createBackupActivities } from '../../activities/backup';
import { createRegistryActivities } from '../../activities/registry';
import type { TestStack } from '../helpers/env';
export { freePort } from '../helpers/net';

/** Shared by the backup batch tests: dossiers, sessions that hold them open, a real SMTP server, ledger reads. */

export interface ReceivedMail {
  to: string[];
  raw: string;
  subject: string;
  text: string;
  attachments: Record<string, Buffer>;
}

function headersOf(block: string): Record<string, string> {
  const unfolded = block.replace(/\r\n[ \t]+/g, ' ');
  const out: Record<string, string> = {};
  for (const line of unfolded.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return out;
}

function decodeWords(v: string): string {
  return v.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=\s*/gi, (_, enc: string, data: string) =>
    enc.toUpperCase() === 'B'
      ? Buffer.from(data, 'base64').toString('utf8')
      : Buffer.from(data.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
  );
}

function decodeBody(body: string, encoding: string | undefined): Buffer {
  if (encoding?.toLowerCase() === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64');
  if (encoding?.toLowerCase() === 'quoted-printable') {
    return Buffer.from(body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  }
  return Buffer.from(body, 'utf8');
}

/** Just enough MIME for nodemailer's multipart/mixed: the text part and named attachments. */
export function parseMail(raw: string, to: string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const headers = headersOf(raw.slice(0, split));
  const boundary = /boundary="?([^";]+)"?/.exec(headers['content-type'] ?? '')?.[1];
  const mail: ReceivedMail = { to, raw, subject: decodeWords(headers.subject ?? ''), text: '', attachments: {} };
  if (!boundary) return mail;
  for (const part of raw.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const p = part.replace(/^\r\n/, '');
    const end = p.indexOf('\r\n\r\n');
    const h = headersOf(p.slice(0, end));
    const body = decodeBody(p.slice(end + 4).replace(/\r\n$/, ''), h['content-transfer-encoding']);
    const name = /filename="?([^";]+)"?/.exec(h['content-disposition'] ?? '')?.[1];
    if (name) mail.attachments[decodeWords(name)] = body;
    else mail.text += body.toString('utf8');
  }
  return mail;
}

export async function startSmtp(port: number): Promise<{ received: ReceivedMail[]; close(): Promise<void> }> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push(parseMail(Buffer.concat(chunks).toString('latin1'), session.envelope.rcptTo.map((r) => r.address)));
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export async function createDossiers(
  stack: TestStack,
  dossiers: { code: string; copyStatus?: 'original' | 'copy'; flags?: { test?: boolean; template?: boolean; transferable?: boolean } }[],
): Promise<void> {
  const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
  for (const d of dossiers) {
    await registry.createDossier('main', {
      code: d.code,
      label: `Dossier ${d.code}`,
      copyStatus: d.copyStatus ?? 'original',
      flags: { test: false, specific: false, template: false, transferable: true, ...d.flags },
    });
  }
}

/** Backups of `code` made by the activity, dated `daysAgo` days back (fixture SQL), oldest first: their generation ids. */
export async function agedBackups(stack: TestStack, code: string, daysAgo: number[]): Promise<number[]> {
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  const ids: number[] = [];
  for (const d of daysAgo) {
    const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    await stack.pools.get('main').query('UPDATE nightshift.backup_generation SET snapshot_at = now() - make_interval(days => $2) WHERE id = $1', [r.generationId, d]);
    ids.push(r.generationId!);
  }
  return ids;
}

/** Backups of `code` made by the activity, the i-th (newest first) dated `times[i]` (UTC ISO) by fixture SQL: their ids, newest first. */
export async function datedBackups(stack: Pick<TestStack, 'config' | 'pools'>, code: string, times: string[]): Promise<number[]> {
  const backup = createBackupActivities({ config: stack.config, pools: stack.pools });
  const ids: number[] = [];
  for (let i = times.length - 1; i >= 0; i--) {
    const r = await backup.backupDossier({ target: 'main', code, reason: 'manual' });
    ids.unshift(r.generationId!);
    await stack.pools.get('main').query('UPDATE nightshift.backup_generation SET snapshot_at = $2 WHERE id = $1', [r.generationId, times[i]]);
  }
  return ids;
}

/** A write to a dossier's tables: the touch trigger makes it "modified since its last backup". */
export async function modify(pool: pg.Pool, code: string): Promise<void> {
  await pool.query(`INSERT INTO "d_${code}".parametre (cle, valeur) VALUES ($1, '1'::jsonb)`, [crypto.randomUUID()]);
}

/** A live gate session holding the dossier open (R-BK-3, R-SE-2). Returns the function that closes it. */
export async function openSession(pool: pg.Pool, code: string): Promise<() => Promise<void>> {
  const id = crypto.randomUUID();
  await pool.query(`INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, 'alice', 'x', now() + interval '1 hour')`, [id]);
  await pool.query('INSERT INTO nightshift.session_dossier (session_id, dossier_code) VALUES ($1, $2)', [id, code]);
  return async () => {
    await pool.query(`UPDATE nightshift.session SET closed_at = now(), close_reason = 'logout' WHERE id = $1`, [id]);
  };
}

export interface LedgerItem {
  code: string;
  status: string;
  error: string | null;
  attempts: number;
}

export async function ledger(pool: pg.Pool, runId: number): Promise<LedgerItem[]> {
  const { rows } = await pool.query<LedgerItem>('SELECT code, status, error, attempts FROM nightshift.backup_run_item WHERE run_id = $1 ORDER BY seq', [runId]);
  return rows;
}

export async function setCommon(pool: pg.Pool, key: string, value: unknown): Promise<void> {
  await pool.query(
    'INSERT INTO nightshift.backup_setting (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
    [key, JSON.stringify(value)],
  );
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


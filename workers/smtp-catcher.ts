import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SMTPServer } from 'smtp-server';

/**
 * Development only: an SMTP server that accepts every message (any login, no TLS) and keeps each one
 * as `<dir>/<time>-<n>.eml`, so that report e-mails (R-BK-8) can be opened in any mail reader.
 * `nightshift dev` runs it when the SMTP host is loopback; docker-compose uses Mailpit instead.
 */

export interface SmtpCatcher {
  host: string;
  port: number;
  dir: string;
  close(): Promise<void>;
}

export async function startSmtpCatcher(options: { host: string; port: number; dir: string }): Promise<SmtpCatcher> {
  fs.mkdirSync(options.dir, { recursive: true });
  let seq = 0;
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 50 * 1024 * 1024,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? 'anonymous' });
    },
    onData(stream, _session, callback) {
      const base = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${++seq}`;
      const partial = path.join(options.dir, `.${base}.partial`);
      // Written under a temporary name: a reader never sees half a message.
      pipeline(stream, fs.createWriteStream(partial))
        .then(() => fs.promises.rename(partial, path.join(options.dir, `${base}.eml`)))
        .then(
          () => callback(),
          (err: Error) => callback(err),
        );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A broken client connection must not take the dev stack down.
  server.on('error', () => {});
  const address = server.server.address();
  return {
    host: options.host,
    port: typeof address === 'object' && address ? address.port : options.port,
    dir: options.dir,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every stored message, oldest first (tests and `dev` read them). */
export function listCaughtMail(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => path.join(dir, f));
}

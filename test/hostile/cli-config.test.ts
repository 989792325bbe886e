import crypto from 'node:crypto';
import fs from 'node:fs';
import { runCli, stackCliEnv, useCliStack, type CliResult } from '../helpers/cli';
import { tempDir } from '../helpers/env';
import { loadConfig } from '../../config/config';
import { redactSecrets } from '../../cli/commands/doctor';
import { redactUrl } from '../../domain/redact';
import { patchManifestSchema } from '../../domain/patch';

/**
 * Hostile input at the CLI and config edges (issue 9, "CLI and config"), through the real binary:
 * each refusal exits with its code, names the flag or variable, echoes no terminal control character,
 * and changes nothing (dossier, window and settings rows).
 */

jest.setTimeout(300_000);

const ctx = useCliStack(120_000);

const ESC = '\u001b';
const BEL = '\u0007';
const OSC_TITLE = `${ESC}]0;pwned${BEL}`;
const NEXT_YEAR = new Date().getUTCFullYear() + 1;
/** A target name of this file only: a window started by mistake would not collide with another file's. */
const TARGET = `hx${crypto.randomBytes(3).toString('hex')}`;

/** The last Sunday of March: in Europe/Paris, 02:00-03:00 does not exist that night. */
function summerTimeDay(year: number): string {
  const d = new Date(Date.UTC(year, 2, 31));
  d.setUTCDate(31 - d.getUTCDay());
  return d.toISOString().slice(0, 10);
}

/** The suite's environment only: nothing inherited that points elsewhere; times typed in Paris. */
function baseEnv(): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NIGHTSHIFT_|TEMPORAL_|DATABASE_URL$|TZ$)/.test(k)));
  const stack = stackCliEnv(ctx.stack);
  return {
    ...inherited,
    TZ: 'Europe/Paris',
    TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: stack.TEMPORAL_TASK_QUEUE,
    NIGHTSHIFT_TARGETS: `${TARGET}=${stack.DATABASE_URL}`,
    NIGHTSHIFT_DATA_DIR: stack.NIGHTSHIFT_DATA_DIR,
  };
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(args, { ...baseEnv(), ...env }, 120_000);
}

interface Rows {
  dossiers: unknown[];
  windows: unknown[];
  settings: unknown[];
}

async function rows(): Promise<Rows> {
  const pool = ctx.stack.pools.get('main');
  const q = async (sql: string) => (await pool.query(sql)).rows;
  return {
    dossiers: await q('SELECT code, label, modified_at FROM nightshift.dossier ORDER BY code'),
    windows: await q('SELECT id, state, message, starts_at, ends_at FROM nightshift.maintenance_window ORDER BY id'),
    settings: await q('SELECT key, value FROM nightshift.backup_setting ORDER BY key'),
  };
}

interface Refusal {
  name: string;
  args: string[];
  env?: Record<string, string>;
  code?: number;
  /** the message: names the flag or variable, says what is wrong */
  message: RegExp;
}

/** Runs the cases a few at a time (the machine is shared), then checks each refusal and that nothing changed. */
async function expectRefused(cases: Refusal[]): Promise<void> {
  const before = await rows();
  const results: CliResult[] = [];
  for (let i = 0; i < cases.length; i += 3) results.push(...(await Promise.all(cases.slice(i, i + 3).map((c) => cli(c.args, c.env)))));
  for (const [i, c] of cases.entries()) {
    const r = results[i]!;
    const seen = { name: c.name, code: r.code, stderr: r.stderr };
    expect(seen).toEqual({ name: c.name, code: c.code ?? 2, stderr: expect.stringMatching(c.message) });
    expect(r.stderr).toMatch(/^nightshift: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // nothing a terminal would act on comes back: no ESC (ANSI / OSC), no BEL, no C1 control
    // eslint-disable-next-line no-control-regex
    for (const out of [r.stdout, r.stderr]) expect({ name: c.name, out }).toEqual({ name: c.name, out: expect.not.stringMatching(/[\u0007\u001b\u009b\u009d]/) });
  }
  expect(await rows()).toEqual(before);
}

beforeAll(async () => {
  const created = await cli(['dossiers', 'create', 'KEEP1', '--label', 'Garage Martin']);
  expect(created).toMatchObject({ code: 0, stderr: '' });
});

describe('config variables (exit 2, ConfigError naming the variable)', () => {
  test('numbers in exponent or hex notation, a Temporal port 99999, CR/LF and ESC in text, an unknown TZ', async () => {
    const list = ['dossiers', 'list'];
    await expectRefused([
      { name: 'PG port 5.6329e4', args: list, env: { NIGHTSHIFT_PG_PORT: '5.6329e4' }, message: /NIGHTSHIFT_PG_PORT: .*digits/ },
      { name: 'PG port 0xDD59', args: list, env: { NIGHTSHIFT_PG_PORT: '0xDD59' }, message: /NIGHTSHIFT_PG_PORT: .*digits/ },
      { name: 'Temporal port 99999', args: list, env: { TEMPORAL_ADDRESS: '127.0.0.1:99999' }, message: /TEMPORAL_ADDRESS: .*1-65535/ },
      { name: 'CR/LF in the app name', args: list, env: { NIGHTSHIFT_APP_NAME: 'Compta\r\nBcc: all@example.com' }, message: /NIGHTSHIFT_APP_NAME: .*control character/ },
      { name: 'LF in the backup folder', args: list, env: { NIGHTSHIFT_BACKUP_DIR: '/srv/sauve\n/etc' }, message: /NIGHTSHIFT_BACKUP_DIR: .*control character/ },
      { name: 'OSC in the documents folder', args: list, env: { NIGHTSHIFT_DOCUMENTS_DIR: `/srv/docs${OSC_TITLE}` }, message: /NIGHTSHIFT_DOCUMENTS_DIR: .*control character/ },
      { name: 'unknown TZ', args: ['maintenance', 'list'], env: { TZ: 'Foo/Bar' }, message: /TZ: unknown time zone "Foo\/Bar"/ },
      { name: 'unknown NIGHTSHIFT_TIMEZONE', args: list, env: { NIGHTSHIFT_TIMEZONE: `Europe/Paris${ESC}[2J` }, message: /NIGHTSHIFT_TIMEZONE: / },
    ]);
  });

  test('one problem is one line naming the variable; a database port out of range says so', async () => {
    const list = ['dossiers', 'list'];
    // URL refuses to hold port 99999: written as the operator types it
    const badPort = ctx.stack.databaseUrl.replace(/:\d+\//, ':99999/');
    expect(badPort).toContain(':99999/');
    await expectRefused([
      { name: 'unknown TZ, one line', args: ['maintenance', 'list'], env: { TZ: 'Foo/Bar' }, message: /^nightshift: TZ: unknown time zone "Foo\/Bar": expected an IANA time zone such as Europe\/Paris \(or leave TZ unset\)\n$/ },
      { name: 'port 99999 in NIGHTSHIFT_TARGETS', args: list, env: { NIGHTSHIFT_TARGETS: `${TARGET}=${badPort}` }, message: new RegExp(`^nightshift: NIGHTSHIFT_TARGETS: target ${TARGET}: the port 99999 is out of range \\(1-65535\\)\n$`) },
      { name: 'port 99999 in DATABASE_URL', args: list, env: { NIGHTSHIFT_TARGETS: '', DATABASE_URL: badPort }, message: /^nightshift: DATABASE_URL: the port 99999 is out of range \(1-65535\)\n$/ },
      { name: 'two problems: a head, one line each', args: list, env: { TZ: 'Foo/Bar', NIGHTSHIFT_PG_PORT: 'x' }, message: /^nightshift: invalid configuration:\n {2}NIGHTSHIFT_PG_PORT: .*\n {2}TZ: unknown time zone .*\n$/ },
    ]);
  });
});

describe('maintenance times (luxon): valid ISO 8601 accepted, impossible fields and zones refused', () => {
  test('fractional seconds and offsets are read (the refusal comes from the times\' order, not their syntax)', async () => {
    await expectRefused([
      {
        name: 'fractional seconds, Z and +01:00',
        args: ['maintenance', 'schedule', '--type', 'database', '--start', `${NEXT_YEAR}-12-03T22:00:00.500Z`, '--end', `${NEXT_YEAR}-12-03T22:00:00.5+01:00`],
        message: /end must be after the start/,
      },
    ]);
  });

  test('second 75, hour 24, minute 60, 30 February, an unknown --timezone: exit 2 naming the flag, nothing changed', async () => {
    await expectRefused([
      { name: 'second 75', args: ['maintenance', 'edit', '--start', `${NEXT_YEAR}-01-15T12:30:75`], message: /--start: .*12:30:75.*second/ },
      { name: 'hour 24', args: ['maintenance', 'edit', '--end', `${NEXT_YEAR}-01-15T24:00`], message: /--end: .*hour/ },
      { name: 'minute 60', args: ['maintenance', 'extend', '--end', `${NEXT_YEAR}-01-15T10:60`], message: /--end: .*minute/ },
      { name: '30 February', args: ['maintenance', 'edit', '--prevent-logins-from', `${NEXT_YEAR}-02-30T10:00`], message: /--prevent-logins-from: .*day/ },
      { name: 'offset +25:00', args: ['maintenance', 'edit', '--start', `${NEXT_YEAR}-01-15T10:00+25:00`], message: /--start: .*offset/ },
      {
        name: 'an hour skipped by summer time',
        args: ['maintenance', 'schedule', '--type', 'database', '--start', `${summerTimeDay(NEXT_YEAR)}T02:30`, '--duration', '45m'],
        message: /--start: .*does not exist in Europe\/Paris/,
      },
      { name: 'control characters in a time', args: ['maintenance', 'edit', '--start', `${NEXT_YEAR}-01-15T10:00${OSC_TITLE}`], message: /--start: / },
      {
        name: 'unknown --timezone of the backup schedule',
        args: ['backup', 'schedule', 'set', '--cron', '0 21 * * *', '--timezone', `Europe/Paris${ESC}[2J`],
        message: /--timezone: .* is not an IANA time zone/,
      },
      {
        // as `maintenance recur`: an abbreviation does not say which daylight-saving rules apply
        name: 'an abbreviation as --timezone of the backup schedule',
        args: ['backup', 'schedule', 'set', '--cron', '0 21 * * *', '--timezone', 'CET'],
        message: /--timezone: "CET" is not an IANA time zone: use an Area\/City name/,
      },
    ]);
  });
});

describe('free text with terminal control characters is refused at every CLI edge', () => {
  test('dossier labels, window messages, backup settings values', async () => {
    const schedule = ['maintenance', 'schedule', '--type', 'database', '--start', `${NEXT_YEAR}-01-15T10:00`, '--duration', '45m'];
    await expectRefused([
      { name: 'OSC title in a label', args: ['dossiers', 'create', 'HX1', '--label', `${OSC_TITLE}Garage`], message: /--label: .*control character/ },
      { name: 'ANSI colour in a label', args: ['dossiers', 'create', 'HX2', '--label', `Garage ${ESC}[31mMartin`], message: /--label: .*control character/ },
      { name: 'C1 CSI in a label', args: ['dossiers', 'create', 'HX3', '--label', 'Garage\u009b2J'], message: /--label: .*control character/ },
      { name: 'DEL in a label', args: ['dossiers', 'create', 'HX4', '--label', 'Garage\u007f'], message: /--label: .*control character/ },
      { name: 'C1 CSI in a window message', args: [...schedule, '--message', 'Stop\u009b2J'], message: /--message: .*control character/ },
      { name: 'ESC in an edited message', args: ['maintenance', 'edit', '--message', `${ESC}[2Jhi`], message: /--message: .*control character/ },
      { name: 'OSC in the backup folder', args: ['backup', 'settings', 'set', 'folder', `/srv/sauve${OSC_TITLE}`], message: /folder: .*control character/ },
      { name: 'LF in the backup folder', args: ['backup', 'settings', 'set', 'folder', '/srv/sauve\n/etc'], message: /folder: .*control character/ },
      { name: 'ESC in a setting name', args: ['backup', 'settings', 'set', `col${ESC}[31mour`, 'blue'], message: /unknown setting/ },
      { name: 'ESC in a setting value', args: ['backup', 'settings', 'set', 'dossiers', `originals${ESC}[2J`], message: /dossiers: / },
    ]);
  });

  test('patch descriptions: `patch new --description` and a package manifest refuse them, nothing written', async () => {
    const dir = tempDir('patch-new');
    await expectRefused([
      { name: 'OSC in a patch description', args: ['patch', 'new', dir, '--number', '7', '--description', `${OSC_TITLE}fix`], message: /--description: .*control character/ },
      { name: 'CR in a patch description', args: ['patch', 'new', dir, '--number', '8', '--description', 'fix\roverwritten'], message: /--description: .*control character/ },
    ]);
    expect(fs.readdirSync(dir)).toEqual([]);
    const manifest = { number: 1, type: 'standard', description: `fix ${ESC}[2J`, checksum: 'a'.repeat(64) };
    expect(patchManifestSchema.safeParse(manifest).error?.issues[0]).toMatchObject({ path: ['description'], message: expect.stringMatching(/control character/) });
    expect(patchManifestSchema.safeParse({ ...manifest, description: 'line one\n\tline two' }).success).toBe(true);
  });

  test('a label stored before this rule (or by another edge) is printed with its control characters escaped', async () => {
    expect((await cli(['dossiers', 'create', 'LEGACY1', '--label', 'Legacy'])).code).toBe(0);
    await ctx.stack.pools.get('main').query(`UPDATE nightshift.dossier SET label = $1 WHERE code = 'LEGACY1'`, [`${OSC_TITLE}Legacy\u009b2J`]);
    const [list, show, json] = await Promise.all([cli(['dossiers', 'list']), cli(['dossiers', 'show', 'LEGACY1']), cli(['dossiers', 'show', 'LEGACY1', '--json'])]);
    for (const r of [list, show, json]) {
      expect(r.code).toBe(0);
      // eslint-disable-next-line no-control-regex
      expect(r.stdout + r.stderr).not.toMatch(/[\u0007\u001b\u009b]/);
    }
    expect(show.stdout).toContain('\\x1b]0;pwned\\x07Legacy\\x9b2J');
    expect(JSON.parse(json.stdout).label).toBe(`${OSC_TITLE}Legacy\u009b2J`);
    await ctx.stack.pools.get('main').query(`DELETE FROM nightshift.dossier WHERE code = 'LEGACY1'`);
  });
});

describe("validator texts in an operator's words", () => {
  test('a choice, a length: the flag or key and what it takes, once; words of a fixed set in any case', async () => {
    const long = `/${'a'.repeat(4999)}`;
    const schedule = ['maintenance', 'schedule', '--type', 'database', '--start', `${NEXT_YEAR}-01-15T10:00`, '--duration', '45m'];
    await expectRefused([
      { name: '--role admin', args: ['dossiers', 'create', 'HX5', '--label', 'L', '--role', 'admin'], message: /^nightshift: --role: expected supervisor or regular\n$/ },
      { name: 'a 5,000-character folder', args: ['backup', 'settings', 'set', 'folder', long], message: /^nightshift: folder: expected at most 4096 characters\n$/ },
      { name: 'a 5,000-character --patch-dir', args: [...schedule, '--payload', 'patch', '--patch-dir', long], message: /^nightshift: --patch-dir: expected at most 4096 characters\n$/ },
      { name: 'a 41-character code, said once', args: ['dossiers', 'create', 'A'.repeat(41), '--label', 'L'], message: /^nightshift: CODE: a dossier code has at most 40 characters\n$/ },
      { name: '--type coffee', args: [...schedule.slice(0, 3), 'coffee', ...schedule.slice(4)], message: /^nightshift: --type: expected database or deployment\n$/ },
      // a word in capitals is read: the refusal that follows is about something else (no terminal to confirm on)
      { name: '--type DATABASE is read', args: ['maintenance', 'schedule', '--type', 'DATABASE', '--payload', 'NONE', '--duration', '45m'], message: /cuts the service .* --yes/ },
    ]);
  });
});

describe('dossier codes start with a letter or a digit', () => {
  test('--yes, -x and _x are refused as codes wherever a code is given', async () => {
    await expectRefused([
      { name: 'create -x', args: ['dossiers', 'create', '--label', 'L', '--', '-x'], message: /CODE: .*letter or a digit/ },
      { name: 'create --yes', args: ['dossiers', 'create', '--label', 'L', '--', '--yes'], message: /CODE: .*letter or a digit/ },
      { name: 'delete _x', args: ['dossiers', 'delete', '--yes', '--', '_x'], message: /CODE: .*letter or a digit/ },
      { name: 'backup run --only -x', args: ['backup', 'run', '--only=KEEP1,-x'], message: /--only: .*letter or a digit/ },
      { name: 'backup dossier -x', args: ['backup', 'dossier', '--', '-x'], message: /CODE: .*letter or a digit/ },
      { name: 'restore --as --yes', args: ['backup', 'restore', '/nonexistent/BKEEP1.SVG', '--as=--yes'], message: /--as: .*letter or a digit/ },
      { name: 'demo --prefix -X', args: ['dossiers', 'demo', '--count', '1', '--prefix=-X'], message: /--prefix: / },
      { name: 'doctor --timeout abc', args: ['doctor', '--timeout', 'abc'], message: /--timeout: expected a whole number of milliseconds/ },
      { name: 'doctor --timeout -1', args: ['doctor', '--timeout=-1'], message: /--timeout: expected a whole number of milliseconds/ },
      {
        name: 'window --backup-only --yes',
        args: ['maintenance', 'schedule', '--type', 'database', '--start', `${NEXT_YEAR}-01-15T10:00`, '--duration', '45m', '--payload', 'backup', '--backup-only=--yes'],
        message: /--backup-only: .*letter or a digit/,
      },
    ]);
  });
});

describe('doctor prints no secret', () => {
  test('URL password, password / sslpassword / sslkey parameters, TEMPORAL_API_KEY, SMTP password: none is printed', async () => {
    const url = new URL(ctx.stack.databaseUrl);
    url.username = 'nightshift';
    url.password = 'userinfo-S3CR';
    url.search = '?password=query-S3CR&sslpassword=sslpw-S3CR&sslkey=/tmp/key-S3CR.pem&application_name=doctor';
    const env = {
      NIGHTSHIFT_TARGETS: `${TARGET}=${url.toString()}`,
      TEMPORAL_API_KEY: 'api-key-S3CR',
      NIGHTSHIFT_SMTP_USER: 'mailer',
      NIGHTSHIFT_SMTP_PASSWORD: 'smtp-S3CR',
      NIGHTSHIFT_DATA_DIR: tempDir('doctor-secrets'),
    };
    const [json, text] = await Promise.all([cli(['doctor', '--json'], env), cli(['doctor'], env)]);
    for (const r of [json, text]) {
      expect(r.code).toBe(1); // Temporal over TLS to a plain server and the key file fail: errors, said plainly
      expect(r.stdout + r.stderr).not.toMatch(/S3CR/);
    }
    const report = JSON.parse(json.stdout);
    expect(report.services.postgres[TARGET].address).toMatch(/password=\*\*\*.*sslpassword=\*\*\*.*sslkey=\*\*\*.*application_name=doctor/);
    expect(report.services.postgres[TARGET].address).not.toMatch(/userinfo/);
  });
});

describe('redactSecrets (the one redaction of doctor)', () => {
  const config = loadConfig(
    {
      NIGHTSHIFT_TARGETS: 'main=postgres://ops:p%40ss-USERINFO@db:5432/compta?password=pw-QUERY&sslpassword=pw-SSL&sslkey=/etc/keys/KEYFILE.pem&application_name=ns',
      TEMPORAL_API_KEY: 'tk-APIKEY',
      NIGHTSHIFT_SMTP_USER: 'mailer',
      NIGHTSHIFT_SMTP_PASSWORD: 'pw-SMTP',
    },
    '/srv',
  );
  test.each([
    ['URL user-info password', 'connect postgres://ops:p%40ss-USERINFO@db:5432/compta failed', /USERINFO/],
    ['the same, decoded in a driver message', 'password authentication failed: p@ss-USERINFO', /USERINFO/],
    ['password= parameter', 'at postgres://db/compta?password=pw-QUERY', /pw-QUERY/],
    ['sslpassword= parameter', 'postgres://db/compta?application_name=x&sslpassword=pw-SSL', /pw-SSL/],
    ['sslkey= parameter, and the file a driver error names', "ENOENT: no such file or directory, open '/etc/keys/KEYFILE.pem'", /KEYFILE/],
    ['TEMPORAL_API_KEY', 'Unauthenticated: bad key tk-APIKEY', /APIKEY/],
    ['SMTP password', 'Invalid login: mailer/pw-SMTP', /pw-SMTP/],
    ['a URL of another program', 'see mysql://root:hunter2@x/y', /hunter2/],
  ])('%s is redacted', (_name, text, secret) => {
    expect(text).toMatch(secret);
    const redacted = redactSecrets(text, config);
    expect(redacted).not.toMatch(secret);
    expect(redacted).toMatch(/\*\*\*|@/);
  });

  test('what is no secret stays: user, host, database, other parameters', () => {
    expect(redactUrl(config.targets[0]!.databaseUrl)).toBe('postgres://ops@db:5432/compta?password=***&sslpassword=***&sslkey=***&application_name=ns');
    expect(redactSecrets('PostgreSQL 16 on db:5432, database compta, user ops, 3 dossier(s)', config)).toBe('PostgreSQL 16 on db:5432, database compta, user ops, 3 dossier(s)');
    // the embedded server's documented default password is also its user and database name: not hidden
    expect(redactSecrets('nightshift@127.0.0.1/nightshift', loadConfig({}, '/srv'))).toBe('nightshift@127.0.0.1/nightshift');
    const same = loadConfig({ DATABASE_URL: 'postgres://nightshift:nightshift@db/nightshift' }, '/srv');
    expect(redactSecrets('PostgreSQL at db refused user "nightshift"', same)).toBe('PostgreSQL at db refused user "nightshift"');
  });
});

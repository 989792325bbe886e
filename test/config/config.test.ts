import { ConfigError, loadConfig, resolveTarget, UsageError } from '../../config/config';

function problemsOf(env: Record<string, string>): { variable: string; problem: string }[] {
  try {
    loadConfig(env, '/srv');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('defaults: one embedded target "main" under .nightshift', () => {
    const c = loadConfig({}, '/srv');
    expect(c.dataDir).toBe('/srv/.nightshift');
    expect(c.embeddedPostgres).toBe(true);
    expect(c.targets).toEqual([{ name: 'main', databaseUrl: 'postgres://nightshift:nightshift@127.0.0.1:54329/nightshift' }]);
    expect(c.temporal.address).toBe('127.0.0.1:7233');
    expect(c.temporal.uiPort).toBe(8233);
    expect(c.backupDir).toBe('/srv/.nightshift/sauve'); // R-BK-5 default <data>/sauve
    expect(c.smtp.port).toBe(2525);
  });

  test('R-BK-8: NIGHTSHIFT_BACKUP_REPORT_TO whose entries are each refused alike says it once (drill C: three times)', () => {
    expect(problemsOf({ NIGHTSHIFT_BACKUP_REPORT_TO: 'not an email' })).toEqual([{ variable: 'NIGHTSHIFT_BACKUP_REPORT_TO', problem: "expected e-mail addresses separated by commas, not 'not' (and 2 more)" }]);
  });

  test('every port moves with its variable, so two stacks can run side by side', () => {
    const c = loadConfig({ NIGHTSHIFT_DATA_DIR: 'b', NIGHTSHIFT_PG_PORT: '6000', NIGHTSHIFT_TEMPORAL_PORT: '7300', NIGHTSHIFT_UI_PORT: '8300', NIGHTSHIFT_METRICS_PORT: '9500', NIGHTSHIFT_GATE_PORT: '8800' }, '/srv');
    expect([c.pg.port, c.temporal.devPort, c.temporal.uiPort, c.metricsPort, c.gatePort]).toEqual([6000, 7300, 8300, 9500, 8800]);
    expect(c.temporal.address).toBe('127.0.0.1:7300');
  });

  test('a bad value names the variable and what was expected', () => {
    expect(problemsOf({ NIGHTSHIFT_PG_PORT: 'abc' })).toEqual([{ variable: 'NIGHTSHIFT_PG_PORT', problem: 'expected a TCP port number (decimal digits, 1-65535)' }]);
    expect(problemsOf({ NIGHTSHIFT_UI_PORT: '70000' })[0]).toMatchObject({ variable: 'NIGHTSHIFT_UI_PORT', problem: 'expected a port 1-65535' });
    expect(problemsOf({ DATABASE_URL: 'mysql://x' })[0]).toMatchObject({ variable: 'DATABASE_URL' });
    expect(problemsOf({ TEMPORAL_ADDRESS: 'no port' })[0]).toMatchObject({ variable: 'TEMPORAL_ADDRESS', problem: 'expected host:port' });
    expect(problemsOf({ TEMPORAL_TLS: 'maybe' })[0]).toMatchObject({ variable: 'TEMPORAL_TLS', problem: 'expected true or false' });
    expect(problemsOf({ NIGHTSHIFT_SMTP_FROM_ADDRESS: 'nobody' })[0]).toMatchObject({ variable: 'NIGHTSHIFT_SMTP_FROM_ADDRESS' });
    expect(problemsOf({ NIGHTSHIFT_PG_PORT: 'x', NIGHTSHIFT_UI_PORT: 'y' }).map((p) => p.variable).sort()).toEqual(['NIGHTSHIFT_PG_PORT', 'NIGHTSHIFT_UI_PORT']);
  });

  test('several targets; --target resolution', () => {
    const c = loadConfig({ NIGHTSHIFT_TARGETS: 'main=postgres://a@h/db1, paie=postgres://a@h/db2' }, '/srv');
    expect(c.targets.map((t) => t.name)).toEqual(['main', 'paie']);
    expect(c.embeddedPostgres).toBe(false);
    expect(resolveTarget(c, 'paie').databaseUrl).toBe('postgres://a@h/db2');
    expect(() => resolveTarget(c)).toThrow(UsageError);
    expect(() => resolveTarget(c)).toThrow(/several targets.*--target/);
    expect(() => resolveTarget(c, '../etc')).toThrow(/unknown target/);
    expect(resolveTarget(loadConfig({}, '/srv')).name).toBe('main');
  });

  test('bad target lists are refused', () => {
    expect(problemsOf({ NIGHTSHIFT_TARGETS: 'Main=postgres://h/db' })[0]!.variable).toBe('NIGHTSHIFT_TARGETS');
    expect(problemsOf({ NIGHTSHIFT_TARGETS: 'a=postgres://h/x,a=postgres://h/y' })[0]!.problem).toMatch(/twice/);
    expect(problemsOf({ NIGHTSHIFT_TARGETS: 'a=http://h/x' })[0]!.problem).toMatch(/postgres/);
    // two names on one URL: refused at once (doctor finds the same database under two different URLs)
    expect(problemsOf({ NIGHTSHIFT_TARGETS: 'paris=postgres://ns:nspw@h/firm_a lyon=postgres://ns@h/firm_b paris2=postgres://ns:nspw@h/firm_a' })).toEqual([
      { variable: 'NIGHTSHIFT_TARGETS', problem: 'targets paris and paris2 have the same URL: one database is one target (doctor finds the same database under different URLs)' },
    ]);
  });

  test('a database URL whose port is out of range says so (not "expected a postgres:// URL"), in DATABASE_URL and NIGHTSHIFT_TARGETS', () => {
    expect(problemsOf({ DATABASE_URL: 'postgres://ops:pw@db:99999/compta' })).toEqual([{ variable: 'DATABASE_URL', problem: 'the port 99999 is out of range (1-65535)' }]);
    expect(problemsOf({ NIGHTSHIFT_TARGETS: 'main=postgres://ops@db:5432/a paie=postgresql://ops@[::1]:0/b' })).toEqual([
      { variable: 'NIGHTSHIFT_TARGETS', problem: 'target paie: the port 0 is out of range (1-65535)' },
    ]);
    expect(problemsOf({ NIGHTSHIFT_TARGETS: 'main=mysql://db/x' })[0]!.problem).toBe('target main: expected a postgres:// or postgresql:// URL');
    expect(loadConfig({ NIGHTSHIFT_TARGETS: 'main=postgres://ops:p:w@db:65535/a' }, '/srv').targets[0]!.databaseUrl).toBe('postgres://ops:p:w@db:65535/a');
  });

  test('one problem is one line naming the variable; several, one line each under a head', () => {
    const one = (() => {
      try {
        return loadConfig({ TZ: 'Foo/Bar' }, '/srv');
      } catch (err) {
        return err as ConfigError;
      }
    })();
    expect(one).toBeInstanceOf(ConfigError);
    expect((one as ConfigError).message).toBe('TZ: unknown time zone "Foo/Bar": expected an IANA time zone such as Europe/Paris (or leave TZ unset)');
    expect(() => loadConfig({ TZ: 'Foo/Bar', NIGHTSHIFT_PG_PORT: 'x' }, '/srv')).toThrow(/^invalid configuration:\n {2}NIGHTSHIFT_PG_PORT: .*\n {2}TZ: unknown time zone/);
  });

  test('words of a fixed set (true/false, log levels) are read in any case', () => {
    const c = loadConfig({ TEMPORAL_TLS: 'TRUE', NIGHTSHIFT_LOG_LEVEL: 'Debug', NIGHTSHIFT_SMTP_SECURE: 'Yes' }, '/srv');
    expect([!!c.temporal.tls, c.logLevel, c.smtp.secure]).toEqual([true, 'debug', true]);
    expect(problemsOf({ NIGHTSHIFT_LOG_LEVEL: 'loud' })).toEqual([{ variable: 'NIGHTSHIFT_LOG_LEVEL', problem: 'expected trace, debug, info, warn or error' }]);
  });

  test('TLS turns on with an API key or a certificate, as the temporal CLI does', () => {
    expect(loadConfig({}, '/').temporal.tls).toBeUndefined();
    expect(loadConfig({ TEMPORAL_API_KEY: 'k' }, '/').temporal.tls).toBeDefined();
    expect(loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/c', TEMPORAL_TLS_CLIENT_KEY_PATH: '/k' }, '/').temporal.tls?.clientCertPath).toBe('/c');
  });

  // issue 9: numbers are decimal digits only (no 1e3, 0x…, 5.5), text holds no control characters
  test.each([
    ['NIGHTSHIFT_PG_PORT', '5.6329e4'],
    ['NIGHTSHIFT_PG_PORT', '0xDD59'],
    ['NIGHTSHIFT_PG_PORT', ' 5432'],
    ['NIGHTSHIFT_PG_PORT', '+5432'],
    ['NIGHTSHIFT_GATE_PORT', '8.78e3'],
    ['NIGHTSHIFT_TEMPORAL_PORT', '0o17'],
    ['NIGHTSHIFT_UI_PORT', '0b101'],
    ['NIGHTSHIFT_METRICS_PORT', 'Infinity'],
    ['NIGHTSHIFT_SMTP_PORT', '25.0'],
    ['NIGHTSHIFT_SESSION_TIMEOUT_S', '6e1'],
    ['NIGHTSHIFT_WORKER_CONCURRENCY', '0x4'],
    ['NIGHTSHIFT_SMTP_SEND_DELAY_S', '1e1'],
    ['NIGHTSHIFT_SMTP_SEND_DELAY_S', '-1'],
  ])('%s=%j is refused: whole numbers are decimal digits only', (variable, value) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.variable).toBe(variable);
    expect(problems[0]!.problem).toMatch(/digits|number/);
  });

  // the tester: `localhost` stopped the worker after the store check with the Temporal runtime's
  // `…prometheus.socketAddr: invalid socket address syntax`, naming no variable, exit 1; `dossiers list` took it
  test('NIGHTSHIFT_METRICS_HOST: an IP address (the worker\'s Prometheus exporter takes a socket address), else one problem naming it', () => {
    for (const v of ['localhost', 'not a host', 'metrics.example.com', '127.0.0.1:9464', '[::1]', '10.0.0.0/8', '300.1.1.1']) {
      expect({ v, problems: problemsOf({ NIGHTSHIFT_METRICS_HOST: v }) }).toEqual({
        v,
        problems: [{ variable: 'NIGHTSHIFT_METRICS_HOST', problem: expect.stringMatching(/^expected an IP address, such as 127\.0\.0\.1, 0\.0\.0\.0 or ::1/) }],
      });
    }
    for (const v of ['127.0.0.1', '0.0.0.0', '::1', '::', '10.1.2.3']) expect(loadConfig({ NIGHTSHIFT_METRICS_HOST: v }, '/srv').metricsHost).toBe(v);
    expect(loadConfig({}, '/srv').metricsHost).toBe('127.0.0.1');
    expect(loadConfig({ NIGHTSHIFT_METRICS_HOST: '' }, '/srv').metricsHost).toBe('127.0.0.1'); // empty counts as unset
    expect(problemsOf({ NIGHTSHIFT_METRICS_HOST: ' ' })).toEqual([{ variable: 'NIGHTSHIFT_METRICS_HOST', problem: 'expected a value' }]);
  });

  test('whole numbers in decimal digits are read as before, leading zeros included', () => {
    const c = loadConfig({ NIGHTSHIFT_PG_PORT: '05432', NIGHTSHIFT_SESSION_TIMEOUT_S: '90', NIGHTSHIFT_WORKER_CONCURRENCY: '8', NIGHTSHIFT_SMTP_SEND_DELAY_S: '0' }, '/srv');
    expect([c.pg.port, c.sessionTimeoutSeconds, c.workerConcurrency, c.smtp.sendDelaySeconds]).toEqual([5432, 90, 8, 0]);
    expect(problemsOf({ NIGHTSHIFT_PG_PORT: '0' })[0]).toMatchObject({ variable: 'NIGHTSHIFT_PG_PORT', problem: 'expected a port 1-65535' });
    expect(problemsOf({ NIGHTSHIFT_PG_PORT: '65536' })[0]).toMatchObject({ variable: 'NIGHTSHIFT_PG_PORT', problem: 'expected a port 1-65535' });
    expect(loadConfig({ NIGHTSHIFT_PG_PORT: '65535' }, '/srv').pg.port).toBe(65535);
  });

  test('TEMPORAL_ADDRESS: the port is 1-65535 in decimal digits, the host holds no control character', () => {
    for (const v of ['127.0.0.1:99999', '127.0.0.1:0', 'temporal:7e3', 'tempo\u001bral:7233', 'temporal:7233\n']) {
      expect(problemsOf({ TEMPORAL_ADDRESS: v })[0]).toMatchObject({ variable: 'TEMPORAL_ADDRESS' });
    }
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal.example.com:65535' }, '/').temporal.address).toBe('temporal.example.com:65535');
    expect(loadConfig({ TEMPORAL_ADDRESS: '[::1]:7233' }, '/').temporal.address).toBe('[::1]:7233');
  });

  const CONTROLS: [string, string][] = [
    ['CR LF', 'a\r\nb'],
    ['trailing LF', 'ab\n'],
    ['ESC (ANSI)', 'a\u001b[2Jb'],
    ['OSC title + BEL', '\u001b]0;pwned\u0007'],
    ['C1 CSI', 'a\u009b31mb'],
    ['DEL', 'a\u007fb'],
    ['NUL', 'a\u0000b'],
  ];
  const TEXT_VARIABLES = [
    'NIGHTSHIFT_APP_NAME',
    'NIGHTSHIFT_BACKUP_DIR',
    'NIGHTSHIFT_DOCUMENTS_DIR',
    'NIGHTSHIFT_DATA_DIR',
    'NIGHTSHIFT_PG_PASSWORD',
    'TEMPORAL_NAMESPACE',
    'TEMPORAL_TASK_QUEUE',
    'TEMPORAL_API_KEY',
    'TEMPORAL_TLS_SERVER_NAME',
    'TEMPORAL_CLI',
    'NIGHTSHIFT_METRICS_HOST',
    'NIGHTSHIFT_GATE_HOST',
    'NIGHTSHIFT_SMTP_HOST',
    'NIGHTSHIFT_SMTP_USER',
    'NIGHTSHIFT_SMTP_PASSWORD',
    'NIGHTSHIFT_SMTP_FROM_NAME',
  ];
  test.each(CONTROLS)('control characters (%s) in any text variable are refused, naming it', (_name, bad) => {
    for (const variable of TEXT_VARIABLES) {
      const problems = problemsOf({ [variable]: `x${bad}` });
      expect({ variable, problems }).toEqual({ variable, problems: [{ variable, problem: expect.stringMatching(/control character/) }] });
    }
    expect(problemsOf({ DATABASE_URL: `postgres://h/db${bad}` })[0]!.variable).toBe('DATABASE_URL');
    expect(problemsOf({ NIGHTSHIFT_SMTP_FROM_ADDRESS: `ops${bad}@example.com` })[0]!.variable).toBe('NIGHTSHIFT_SMTP_FROM_ADDRESS');
    expect(problemsOf({ NIGHTSHIFT_TARGETS: `main=postgres://h/db${bad}` })[0]!.variable).toBe('NIGHTSHIFT_TARGETS');
  });

  test('a refused secret is not echoed in the problem', () => {
    const problems = problemsOf({ NIGHTSHIFT_SMTP_PASSWORD: 'hunter2\u001b', TEMPORAL_API_KEY: 'key-42\r\n' });
    expect(JSON.stringify(problems)).not.toMatch(/hunter2|key-42/);
  });

  test('a refused target entry is quoted without its password (user info, password= parameters), however it is spelled', () => {
    for (const entry of [
      'Paris=postgres://ns:nspw-SECRET@127.0.0.1:47010/firm_a',
      'Paris=postgres://ns:p@ss/w:rd-SECRET@db/firm_a',
      'postgres://ns:nspw-SECRET@db/firm_a',
      'Paris=postgres://ns@db/firm_a?sslmode=require&password=nspw-SECRET',
    ]) {
      const problems = problemsOf({ NIGHTSHIFT_TARGETS: `lyon=postgres://ns@db/firm_b ${entry}` });
      expect(problems).toEqual([{ variable: 'NIGHTSHIFT_TARGETS', problem: expect.stringMatching(/^".*\*\*\*.*": expected name=postgres:\/\/… with a name of lower-case/) }]);
      expect(JSON.stringify(problems)).not.toMatch(/SECRET|nspw/);
    }
    const one = (() => {
      try {
        return loadConfig({ NIGHTSHIFT_TARGETS: 'Paris=postgres://ns:nspw@127.0.0.1:47010/firm_a' }, '/srv');
      } catch (err) {
        return err as ConfigError;
      }
    })();
    expect((one as ConfigError).message).toBe('NIGHTSHIFT_TARGETS: "Paris=postgres://ns:***@127.0.0.1:47010/firm_a": expected name=postgres://… with a name of lower-case letters, digits, _ or - (max 40)');
  });

  test('time zones: NIGHTSHIFT_TIMEZONE, else TZ, else the system; an unknown one is refused naming its variable', () => {
    expect(loadConfig({ TZ: 'Europe/Paris' }, '/').timeZone).toBe('Europe/Paris');
    expect(loadConfig({ TZ: ':Europe/Paris' }, '/').timeZone).toBe('Europe/Paris');
    expect(loadConfig({ TZ: 'Europe/Paris', NIGHTSHIFT_TIMEZONE: 'America/Montreal' }, '/').timeZone).toBe('America/Montreal');
    // one zone for the CLI, the reports and the mails: a time copied from a verification report restores its generation
    expect(loadConfig({ TZ: 'UTC', NIGHTSHIFT_TIMEZONE: 'Europe/Paris' }, '/').operatorTimeZone).toBe('Europe/Paris');
    expect(loadConfig({ TZ: 'Europe/Paris' }, '/').operatorTimeZone).toBe('Europe/Paris');
    // the canonical spelling: what Temporal schedules and Intl expect
    expect(loadConfig({ NIGHTSHIFT_TIMEZONE: 'europe/paris' }, '/').timeZone).toBe('Europe/Paris');
    expect(typeof loadConfig({}, '/').timeZone).toBe('string');
    expect(problemsOf({ TZ: 'Foo/Bar' })).toEqual([{ variable: 'TZ', problem: expect.stringMatching(/unknown time zone "Foo\/Bar".*Europe\/Paris/) }]);
    expect(problemsOf({ TZ: 'CET-1CEST' })[0]!.variable).toBe('TZ');
    expect(problemsOf({ NIGHTSHIFT_TIMEZONE: 'Mars/Olympus' })[0]!.variable).toBe('NIGHTSHIFT_TIMEZONE');
    expect(problemsOf({ NIGHTSHIFT_TIMEZONE: 'Europe/Paris\u001b' })[0]!.variable).toBe('NIGHTSHIFT_TIMEZONE');
  });
});

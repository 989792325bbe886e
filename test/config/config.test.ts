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

  test('every port moves with its variable, so two stacks can run side by side', () => {
    const c = loadConfig({ NIGHTSHIFT_DATA_DIR: 'b', NIGHTSHIFT_PG_PORT: '6000', NIGHTSHIFT_TEMPORAL_PORT: '7300', NIGHTSHIFT_UI_PORT: '8300', NIGHTSHIFT_METRICS_PORT: '9500', NIGHTSHIFT_GATE_PORT: '8800' }, '/srv');
    expect([c.pg.port, c.temporal.devPort, c.temporal.uiPort, c.metricsPort, c.gatePort]).toEqual([6000, 7300, 8300, 9500, 8800]);
    expect(c.temporal.address).toBe('127.0.0.1:7300');
  });

  test('a bad value names the variable and what was expected', () => {
    expect(problemsOf({ NIGHTSHIFT_PG_PORT: 'abc' })).toEqual([{ variable: 'NIGHTSHIFT_PG_PORT', problem: 'expected a TCP port number' }]);
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
  });

  test('TLS turns on with an API key or a certificate, as the temporal CLI does', () => {
    expect(loadConfig({}, '/').temporal.tls).toBeUndefined();
    expect(loadConfig({ TEMPORAL_API_KEY: 'k' }, '/').temporal.tls).toBeDefined();
    expect(loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/c', TEMPORAL_TLS_CLIENT_KEY_PATH: '/k' }, '/').temporal.tls?.clientCertPath).toBe('/c');
  });
});

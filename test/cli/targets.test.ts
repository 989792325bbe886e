import { admin, createTestDatabase, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { runCli, type CliResult } from '../helpers/cli';

/**
 * Several targets as an outside tester ran them (paris, lyon, nantes-3), on real PostgreSQL databases: which target an
 * error or an output is about, two targets on one database, a database not migrated or closed to connections.
 */

/** An empty database (no Nightshift migration), its URL. */
async function emptyDatabase(prefix: string): Promise<string> {
  const name = uniqueName(prefix).toLowerCase();
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(requireEnv('NS_TEST_PG_ADMIN_URL'));
  url.pathname = `/${name}`;
  return url.toString();
}

const databaseOf = (url: string): string => new URL(url).pathname.slice(1);

let paris: string;
let lyon: string;
let nantes: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  [paris, lyon, nantes] = await Promise.all([createTestDatabase('firm_a'), emptyDatabase('firm_b'), createTestDatabase('firm_c')]);
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NIGHTSHIFT_|TEMPORAL_|DATABASE_URL$)/.test(k)));
  env = { ...inherited, TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'), NIGHTSHIFT_DATA_DIR: tempDir('targets-data'), NIGHTSHIFT_TARGETS: `paris=${paris} lyon=${lyon} nantes-3=${nantes}` };
});

afterAll(async () => {
  await admin((c) => c.query(`ALTER DATABASE ${databaseOf(nantes)} ALLOW_CONNECTIONS true`));
});

const cli = (...args: string[]): Promise<CliResult> => runCli(args, env);

describe('database errors name the target, and say what to do', () => {
  test('a database not migrated yet: said so with what migrates it, not a bare `relation "nightshift.dossier" does not exist`', async () => {
    for (const args of [['dossiers', 'list', '--target', 'lyon'], ['dossiers', 'show', 'DEMO0005', '--target', 'lyon']]) {
      const r = await cli(...args);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 1, stdout: '' });
      expect(r.stderr).toMatch(/^nightshift: target lyon: its database is not migrated yet \(relation "nightshift\.\w+" does not exist\): a worker migrates it at its start \(`nightshift worker`; `npm run dev` on this machine\)/);
    }
  });

  test('a database closed to connections: the target, its address and the variable it comes from', async () => {
    await admin((c) => c.query(`ALTER DATABASE ${databaseOf(nantes)} ALLOW_CONNECTIONS false`));
    try {
      const r = await cli('dossiers', 'list', '--target', 'nantes-3');
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: `nightshift: target nantes-3: database "${databaseOf(nantes)}" is not currently accepting connections (its PostgreSQL at ${new URL(nantes).host}, set by NIGHTSHIFT_TARGETS)\n`,
      });
    } finally {
      await admin((c) => c.query(`ALTER DATABASE ${databaseOf(nantes)} ALLOW_CONNECTIONS true`));
    }
  });

  test('a database that does not exist, the same', async () => {
    const gone = new URL(paris);
    gone.pathname = '/no_such_firm';
    const r = await runCli(['dossiers', 'list', '--target', 'paris'], { ...env, NIGHTSHIFT_TARGETS: `paris=${gone.toString()}` });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `nightshift: target paris: database "no_such_firm" does not exist (its PostgreSQL at ${gone.host}, set by NIGHTSHIFT_TARGETS)\n` });
  });
});

describe('two targets on one database', () => {
  test('doctor FAILs each, naming the other, when the server says they are one database (another host name for it): exit 1', async () => {
    const alias = new URL(paris);
    alias.hostname = 'localhost';
    const r = await runCli(['doctor', '--json', '--timeout', '1500'], {
      ...env,
      NIGHTSHIFT_TARGETS: `paris=${paris} nantes-3=${nantes} paris2=${alias.toString()}`,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(r.code).toBe(1);
    const postgres = (JSON.parse(r.stdout) as { services: { postgres: Record<string, { state: string; message: string; fix?: string; details?: Record<string, unknown> }> } }).services.postgres;
    for (const [name, other] of [['paris', 'paris2'], ['paris2', 'paris']] as const) {
      expect(postgres[name]).toMatchObject({ state: 'error', details: { sameDatabaseAs: [other] } });
      expect(postgres[name]!.message).toMatch(new RegExp(`, but targets paris and paris2 are one database \\(${databaseOf(paris)}, oid \\d+ (of system \\d+|on [^)]+)\\): `));
      expect(postgres[name]!.fix).toBe(`give target ${name} its own firm's database in NIGHTSHIFT_TARGETS, or remove target ${other} (one name per database)`);
    }
    expect(postgres['nantes-3']!.state).not.toBe('error');
    expect(postgres['nantes-3']!.message).not.toMatch(/one database/);

    const text = await runCli(['doctor', '--timeout', '1500'], { ...env, NIGHTSHIFT_TARGETS: `paris=${paris} paris2=${alias.toString()}`, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/\[FAIL\] PostgreSQL paris +\S+\n.*but targets paris and paris2 are one database/);
    expect(text.stdout).toMatch(/\[FAIL\] PostgreSQL paris2 +\S+\n.*but targets paris and paris2 are one database/);
  });

  test('the same URL twice is refused when the configuration is read, naming both: exit 2', async () => {
    const r = await runCli(['dossiers', 'list', '--target', 'paris'], { ...env, NIGHTSHIFT_TARGETS: `paris=${paris} paris2=${paris}` });
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: 'nightshift: NIGHTSHIFT_TARGETS: targets paris and paris2 have the same URL: one database is one target (doctor finds the same database under different URLs)\n',
    });
  });
});

describe('outputs name the target they are about', () => {
  test('dossiers demo / list / show (text and --json), backup settings set, backup status of a run that is not there', async () => {
    const demo = await cli('dossiers', 'demo', '--count', '2', '--size-kb', '1', '--prefix', 'TGT', '--target', 'paris');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toMatch(/^created 2 demo dossier\(s\) on target paris in \d+\.\d\d s \([\d.]+\/s\): TGT0001 TGT0002\n$/);

    const list = await cli('dossiers', 'list', '--target', 'paris');
    expect(list.stdout).toMatch(/^target paris, times in \S+\nCODE /);
    const rows = JSON.parse((await cli('dossiers', 'list', '--json', '--target', 'paris')).stdout) as { target: string; code: string }[];
    expect(rows.map((d) => [d.target, d.code])).toEqual([['paris', 'TGT0001'], ['paris', 'TGT0002']]);
    expect(await cli('dossiers', 'list', '--target', 'nantes-3')).toMatchObject({ code: 0, stdout: 'no dossiers in target nantes-3 (create one, or load demo dossiers with `nightshift dossiers demo --count 10 --target nantes-3`)\n' });
    expect(await cli('dossiers', 'list', '--code', 'TGT*', '--target', 'nantes-3')).toMatchObject({ code: 0, stdout: 'no dossier of target nantes-3 matches --code TGT*\n' });

    expect((await cli('dossiers', 'show', 'TGT0001', '--target', 'paris')).stdout).toMatch(/^TGT0001 {2}.* {2}\(target paris\)\n/);
    expect(JSON.parse((await cli('dossiers', 'show', 'TGT0001', '--json', '--target', 'paris')).stdout)).toMatchObject({ target: 'paris', code: 'TGT0001' });

    expect(await cli('backup', 'settings', 'set', 'on-exit', 'always', '--target', 'nantes-3')).toMatchObject({ code: 0, stdout: 'on-exit: common value set to always on target nantes-3\n' });
    expect(await cli('backup', 'settings', 'set', 'retention', 'last=3', '--target', 'nantes-3')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^retention \(every kind\): common value set to last=3,daily=0,weekly=0,monthly=0 on target nantes-3\n/) });
    expect(await cli('backup', 'status', '99', '--target', 'paris')).toEqual({ code: 2, stdout: '', stderr: 'nightshift: unknown backup run "99" in target paris\n' });
    expect(await cli('backup', 'status', '--target', 'nantes-3')).toEqual({ code: 2, stdout: '', stderr: 'nightshift: no backup run yet in target nantes-3\n' });
  });
});

describe('refusals that agree, and a dry run that says what it leaves out', () => {
  test("backup settings set report-recipients with an empty entry is refused as maintenance --notify refuses one: exit 2, nothing changed", async () => {
    const show = async () => JSON.parse((await cli('backup', 'settings', 'show', '--json', '--target', 'paris')).stdout) as unknown;
    expect((await cli('backup', 'settings', 'set', 'report-recipients', 'ops@example.com', '--target', 'paris')).code).toBe(0);
    const before = await show();
    for (const slip of ['a@b.fr,,c@d.fr', 'a@b.fr,']) {
      expect(await cli('backup', 'settings', 'set', 'report-recipients', slip, '--target', 'paris')).toEqual({
        code: 2,
        stdout: '',
        stderr: "nightshift: report-recipients: expected e-mail addresses separated by commas, got an empty one (to send to nobody, give '')\n",
      });
    }
    expect(await show()).toEqual(before);
    const notify = await cli('maintenance', 'schedule', '--start', 'now', '--duration', '30m', '--type', 'database', '--notify', 'a@b.fr,,c@d.fr', '--target', 'paris');
    expect(notify.code).toBe(2);
    expect(notify.stderr).toMatch(/--notify: expected e-mail addresses separated by commas, got an empty one/);
  });

  test('backup run --dry-run names the modified dossiers the nightly selection leaves out, and why (not "none changed")', async () => {
    expect((await cli('dossiers', 'create', 'NT0009', '--label', 'Non transferable', '--not-transferable', '--target', 'nantes-3')).code).toBe(0);
    expect((await cli('dossiers', 'create', 'TPL1', '--label', 'Template', '--template', '--target', 'nantes-3')).code).toBe(0);
    const text = await cli('backup', 'run', '--dry-run', '--target', 'nantes-3');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(
      'a batch started now on nantes-3 would take no dossier (nothing started): none that it selects changed since its last backup (--all takes every selected one)\n' +
        '2 modified dossier(s) left out, as every night: the nightly selection does not take them (R-BK-2; --only CODE takes one all the same):\n' +
        '  NT0009: not transferable\n' +
        '  TPL1: a template\n',
    );
    const json = JSON.parse((await cli('backup', 'run', '--dry-run', '--json', '--target', 'nantes-3')).stdout) as { count: number; modifiedLeftOut: unknown; modifiedLeftOutTotal: number };
    expect(json).toMatchObject({ count: 0, modifiedLeftOutTotal: 2, modifiedLeftOut: [{ code: 'NT0009', why: 'not transferable' }, { code: 'TPL1', why: 'a template' }] });
  });
});

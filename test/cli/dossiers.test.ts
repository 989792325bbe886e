import path from 'node:path';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';
import { runCli, type CliResult } from '../helpers/cli';

let stack: TestStack;
let env: NodeJS.ProcessEnv;

/** The CLI as a user runs it: a separate process, configured by the environment only. */
function cli(...args: string[]): Promise<CliResult> {
  return runCli(args, env);
}

const STACK_TRACE = /\n\s+at /;

beforeAll(async () => {
  stack = await createTestStack();
  // only what this test sets: no stray NIGHTSHIFT_* / TEMPORAL_* from the developer's shell
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NIGHTSHIFT_|TEMPORAL_|DATABASE_URL$)/.test(k)));
  env = { ...inherited, DATABASE_URL: stack.databaseUrl, NIGHTSHIFT_DATA_DIR: tempDir('cli-data') };
});
afterAll(async () => {
  await stack.close();
});

describe('nightshift dossiers (spawned CLI)', () => {
  test('create, list --json, show --json, delete --yes', async () => {
    const created = await cli('dossiers', 'create', 'CLI1', '--label', 'Garage Martin SARL', '--role', 'supervisor');
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toContain('CLI1');
    expect((await cli('dossiers', 'create', 'CLI2', '--label', 'Copie Martin', '--test', '--not-transferable', '--copy', '--specific', '--template')).code).toBe(0);

    const list = await cli('dossiers', 'list', '--json');
    expect(list.code).toBe(0);
    const dossiers = JSON.parse(list.stdout) as { code: string; role: string; copyStatus: string; flags: Record<string, boolean>; modifiedSinceBackup: boolean }[];
    expect(dossiers.map((d) => d.code)).toEqual(['CLI1', 'CLI2']);
    expect(dossiers[0]).toMatchObject({ target: 'main', role: 'supervisor', copyStatus: 'original', modifiedSinceBackup: true });
    expect(dossiers[1]).toMatchObject({ role: 'regular', copyStatus: 'copy', flags: { test: true, specific: true, template: true, transferable: false } });

    const text = await cli('dossiers', 'list');
    // times in the operator's zone, as backup list and the reports print them (drill Y: UTC here, Paris there)
    expect(text.stdout).toMatch(/^target main, times in \S+\nCODE\s+LABEL\s+ROLE\s+FLAGS/);
    expect(text.stdout).toMatch(/CLI1 .* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d +never /);
    const zoned = await cli('dossiers', 'show', 'CLI1');
    expect(zoned.stdout).toMatch(/modified at: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d {3}last backup: never \(\S+\)/);
    expect(text.stdout).toContain('test,specific,template,non-transferable');

    const show = await cli('dossiers', 'show', 'CLI1', '--json');
    expect(show.code).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown).toMatchObject({ target: 'main', code: 'CLI1', label: 'Garage Martin SARL', documents: { exists: false, files: 0 } });
    expect(shown.documents.path).toBe(path.join(env.NIGHTSHIFT_DATA_DIR!, 'documents', 'main', 'CLI1'));
    expect(shown.tables.map((t: { table: string }) => t.table)).toEqual(['compte', 'ecriture', 'journal', 'ligne', 'parametre']);

    const del = await cli('dossiers', 'delete', 'CLI2', '--yes');
    expect(del.code).toBe(0);
    expect(JSON.parse((await cli('dossiers', 'list', '--json')).stdout).map((d: { code: string }) => d.code)).toEqual(['CLI1']);
  });

  test('demo --count creates deterministic dossiers with documents, and show counts the files', async () => {
    const demo = await cli('dossiers', 'demo', '--count', '3', '--size-kb', '4', '--prefix', 'CLD', '--documents', '--json');
    expect(demo.code).toBe(0);
    expect(JSON.parse(demo.stdout)).toMatchObject({ target: 'main', count: 3, codes: ['CLD0001', 'CLD0002', 'CLD0003'] });
    const show = JSON.parse((await cli('dossiers', 'show', 'CLD0002', '--json')).stdout);
    expect(show.documents).toMatchObject({ exists: true, files: 3 });
    expect(show.tables.find((t: { table: string }) => t.table === 'ligne').rows).toBeGreaterThan(0);
  });

  test('show says when a registered dossier\'s schema is not in the database (dropped by hand: drill D), and where its archives are', async () => {
    expect((await cli('dossiers', 'create', 'GONE1', '--label', 'Dropped')).code).toBe(0);
    const before = JSON.parse((await cli('dossiers', 'show', 'GONE1', '--json')).stdout);
    expect(before).toMatchObject({ schemaExists: true });
    await stack.pools.get('main').query(`DROP SCHEMA "${before.schemaName}" CASCADE`);
    const text = await cli('dossiers', 'show', 'GONE1');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`schema: ${before.schemaName} (NOT in the database: dropped? a backup refuses it; 'nightshift backup list GONE1' shows its archives)`);
    expect(JSON.parse((await cli('dossiers', 'show', 'GONE1', '--json')).stdout)).toMatchObject({ schemaExists: false, tables: [] });
    expect((await cli('dossiers', 'delete', 'GONE1', '--yes')).code).toBe(0);
  });

  test('list narrows at scale: --code (a * pattern, any case, _ literal), --modified, --below, --limit with the count of what matches', async () => {
    expect((await cli('dossiers', 'demo', '--count', '4', '--size-kb', '1', '--prefix', 'FLT')).code).toBe(0);
    for (const code of ['FL_X1', 'FLAX1']) expect((await cli('dossiers', 'create', code, '--label', code)).code).toBe(0);
    const db = stack.pools.get('main');
    // FLT0001 and FLT0002 backed up since their last change; FLT0003 and FLT0004 at patch level 5
    await db.query(`UPDATE nightshift.dossier SET backup_seq = change_seq WHERE code IN ('FLT0001', 'FLT0002')`);
    await db.query(`UPDATE nightshift.dossier SET patch_level = 5 WHERE code IN ('FLT0003', 'FLT0004')`);
    const codes = async (...args: string[]) => {
      const r = await cli('dossiers', 'list', '--json', ...args);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      return (JSON.parse(r.stdout) as { code: string }[]).map((d) => d.code);
    };
    expect(await codes('--code', 'flt*')).toEqual(['FLT0001', 'FLT0002', 'FLT0003', 'FLT0004']);
    expect(await codes('--code', 'FL_*')).toEqual(['FL_X1']); // _ is a code's character, not LIKE's any-one
    expect((await codes('--code', '*x1')).sort()).toEqual(['FLAX1', 'FL_X1']); // the database's collation orders them
    expect(await codes('--code', 'FLT*', '--modified')).toEqual(['FLT0003', 'FLT0004']);
    expect(await codes('--code', 'FLT*', '--below', '5')).toEqual(['FLT0001', 'FLT0002']);
    expect(await codes('--code', 'FLT*', '--limit', '3')).toEqual(['FLT0001', 'FLT0002', 'FLT0003']);

    const cut = await cli('dossiers', 'list', '--code', 'FLT*', '--limit', '3');
    expect(cut.stdout.trimEnd().split('\n').at(-1)).toBe('4 dossier(s) match --code FLT*: the first 3 shown (--limit 3); raise --limit or narrow the filter');
    const all = await cli('dossiers', 'list', '--code', 'FLT*', '--modified');
    expect(all.stdout.trimEnd().split('\n').at(-1)).toBe("2 dossier(s) match --code FLT* --modified; what the next batch takes, and why: 'nightshift backup run --dry-run'");
    expect(await cli('dossiers', 'list', '--code', 'ZZZ*')).toMatchObject({ code: 0, stdout: 'no dossier of target main matches --code ZZZ*\n' });

    for (const [args, stderr] of [
      [['--limit', '0'], "--limit: expected a whole number from 1 to 1000000, not '0'"],
      [['--below', '-1'], "--below: expected a whole number from 0 to 2147483647, not '-1'"],
      [['--code', 'FLT%'], '--code: expected a code, or a pattern of code characters where * stands for any run of them (e.g. DEMO* or *2026*)'],
    ] as const) {
      expect({ args, ...(await cli('dossiers', 'list', ...args)) }).toEqual({ args, code: 2, stdout: '', stderr: `nightshift: ${stderr}\n` });
    }
  });

  test.each([
    ['hostile code ../x', ['dossiers', 'show', '../x']],
    ["hostile code a'b on create", ['dossiers', 'create', "a'b", '--label', 'x']],
    ['hostile code with a space on delete', ['dossiers', 'delete', 'a b', '--yes']],
    ['41-character code', ['dossiers', 'create', 'A'.repeat(41), '--label', 'x']],
    ['unknown flag', ['dossiers', 'list', '--bogus']],
    ['missing --label', ['dossiers', 'create', 'NOLABEL']],
    ['blank --label', ['dossiers', 'create', 'NOLABEL', '--label', '   ']],
    ['bad --role', ['dossiers', 'create', 'NOLABEL', '--label', 'x', '--role', 'boss']],
    ['bad --count', ['dossiers', 'demo', '--count', 'ten']],
    ['a large demo without --yes', ['dossiers', 'demo', '--count', '1000000']],
    ['unknown target', ['dossiers', 'list', '--target', 'nowhere']],
    ['delete without --yes and no terminal', ['dossiers', 'delete', 'CLI1']],
  ])('bad usage (%s): exit 2, a message, no stack trace, nothing changed', async (_name, args) => {
    const before = (await stack.pools.get('main').query('SELECT code FROM nightshift.dossier ORDER BY code')).rows;
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).not.toBe('');
    expect(r.stderr).not.toMatch(STACK_TRACE);
    expect((await stack.pools.get('main').query('SELECT code FROM nightshift.dossier ORDER BY code')).rows).toEqual(before);
  });

  test('a code that names no dossier (show, delete): exit 2 naming it, with the wrong-case hint, nothing deleted; a stack trace only with --debug', async () => {
    const r = await cli('dossiers', 'show', 'NOPE');
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'nightshift: unknown dossier NOPE in target main\n' });
    const debug = await cli('--debug', 'dossiers', 'show', 'NOPE');
    expect(debug.code).toBe(2);
    expect(debug.stderr).toMatch(STACK_TRACE);
    // a code in the wrong case names the one meant, on show and on delete (nothing deleted), as `backup list` does
    const lower = await cli('dossiers', 'show', 'cli1');
    expect(lower).toMatchObject({ code: 2, stderr: 'nightshift: unknown dossier cli1 in target main (codes are case-sensitive: CLI1?)\n' });
    const before = (await stack.pools.get('main').query('SELECT code FROM nightshift.dossier ORDER BY code')).rows;
    const del = await cli('dossiers', 'delete', 'cli1', '--yes');
    expect(del).toMatchObject({ code: 2, stderr: 'nightshift: unknown dossier cli1 in target main (codes are case-sensitive: CLI1?)\n' });
    expect((await cli('dossiers', 'delete', 'NOPE', '--yes')).code).toBe(2);
    // without a terminal nor --yes, the code is checked first: an unknown one is said as such (with the hint), not "without --yes"
    expect(await cli('dossiers', 'delete', 'NEW1')).toMatchObject({ code: 2, stderr: 'nightshift: unknown dossier NEW1 in target main\n' });
    expect(await cli('dossiers', 'delete', 'cli1')).toMatchObject({ code: 2, stderr: 'nightshift: unknown dossier cli1 in target main (codes are case-sensitive: CLI1?)\n' });
    expect(await cli('dossiers', 'delete', 'CLI1')).toMatchObject({ code: 2, stderr: 'nightshift: refusing to delete dossier CLI1 without --yes (no terminal to confirm on)\n' });
    expect((await stack.pools.get('main').query('SELECT code FROM nightshift.dossier ORDER BY code')).rows).toEqual(before);
    expect((await cli('dossiers', 'show', 'CLI1')).code).toBe(0);
  });

  test("refusals in an operator's words, once: --role, a 41-character code; --role in any case", async () => {
    const role = await cli('dossiers', 'create', 'ROLE1', '--label', 'x', '--role', 'admin');
    expect(role).toMatchObject({ code: 2, stderr: 'nightshift: --role: expected supervisor or regular\n' });
    const long = await cli('dossiers', 'create', 'A'.repeat(41), '--label', 'x');
    expect(long).toMatchObject({ code: 2, stderr: 'nightshift: CODE: a dossier code has at most 40 characters\n' });
    const upper = await cli('dossiers', 'create', 'ROLE2', '--label', 'x', '--role', 'REGULAR', '--json');
    expect(upper.code).toBe(0);
    expect(JSON.parse(upper.stdout)).toMatchObject({ code: 'ROLE2', role: 'regular' });
    expect((await cli('dossiers', 'delete', 'ROLE2', '--yes')).code).toBe(0);
  });

  test('a second supervisor is refused (exit 1, SupervisorConflict)', async () => {
    const r = await cli('dossiers', 'create', 'SUPB', '--label', 'Autre référence', '--role', 'supervisor');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SupervisorConflict');
  });
});

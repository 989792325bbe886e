import net from 'node:net';
import { useCliStack } from '../helpers/cli';
import { freePort } from './gate-helpers';

/** `nightshift gate` and `nightshift gate keys ...`, spawned as a user runs them. */

const ctx = useCliStack(60_000);

describe('nightshift gate cannot listen', () => {
  test('a taken NIGHTSHIFT_GATE_PORT: one line naming the variable, exit 2, no hang', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const r = await ctx.cli(['gate'], { NIGHTSHIFT_GATE_PORT: String(port), NIGHTSHIFT_GATE_HOST: '127.0.0.1', NIGHTSHIFT_GATE_METRICS_PORT: String(await freePort()) });
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/NIGHTSHIFT_GATE_PORT/);
      expect(r.stderr).toContain(String(port));
      expect(r.stdout).not.toMatch(/listening/);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      blocker.close();
    }
  });

  test('a host that is not an address of this machine: names NIGHTSHIFT_GATE_HOST, exit 2', async () => {
    for (const host of ['192.0.2.1', 'no-such-host.invalid']) {
      const r = await ctx.cli(['gate'], { NIGHTSHIFT_GATE_PORT: String(await freePort()), NIGHTSHIFT_GATE_HOST: host, NIGHTSHIFT_GATE_METRICS_PORT: String(await freePort()) });
      expect({ host, code: r.code }).toEqual({ host, code: 2 });
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/NIGHTSHIFT_GATE_HOST/);
    }
  });

  test('a taken NIGHTSHIFT_GATE_METRICS_PORT is named too, and the gate port is freed again', async () => {
    const blocker = net.createServer();
    const metricsPort = await freePort();
    const gatePort = await freePort();
    await new Promise<void>((resolve) => blocker.listen(metricsPort, '127.0.0.1', resolve));
    try {
      const r = await ctx.cli(['gate'], { NIGHTSHIFT_GATE_PORT: String(gatePort), NIGHTSHIFT_GATE_METRICS_PORT: String(metricsPort) });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/NIGHTSHIFT_GATE_METRICS_PORT/);
    } finally {
      blocker.close();
    }
  });
});

describe('nightshift gate keys (R-SE-4)', () => {
  const keyRows = async () => (await ctx.stack.pools.get('main').query('SELECT id, name, revoked_at FROM nightshift.gate_key ORDER BY created_at')).rows;

  test('create prints the secret once; list never shows it; revoke marks the key; hostile input changes nothing', async () => {
    const created = await ctx.cli(['gate', 'keys', 'create', '--name', 'compta-web-01', '--json']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const key = JSON.parse(created.stdout) as { id: string; secret: string; prefix: string; target: string };
    expect(key.secret).toMatch(/^nsk_[A-Za-z0-9_-]{43}$/);
    expect(key.secret.startsWith(key.prefix)).toBe(true);
    expect(key.target).toBe('main');

    const text = await ctx.cli(['gate', 'keys', 'create', '--name', 'compta web 02']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/shown once/);

    for (const args of [['gate', 'keys', 'list'], ['gate', 'keys', 'list', '--json'], ['gate', 'keys', 'list', '--target', 'main', '--json']]) {
      const list = await ctx.cli(args);
      expect(list.code).toBe(0);
      expect(list.stdout).not.toContain(key.secret);
      expect(list.stdout).not.toContain(key.secret.slice(key.prefix.length, key.prefix.length + 12));
      expect(list.stdout).toContain(key.id);
    }
    const listed = JSON.parse((await ctx.cli(['gate', 'keys', 'list', '--json'])).stdout) as Record<string, unknown>[];
    expect(listed.find((k) => k.id === key.id)).toEqual({
      target: 'main', id: key.id, name: 'compta-web-01', prefix: key.prefix, createdAt: expect.any(String), lastUsedAt: null, revokedAt: null,
    });

    const before = await keyRows();
    const hostile: [string[], number][] = [
      [['gate', 'keys', 'create', '--name', 'bad\u001b]0;x\u0007'], 2],
      [['gate', 'keys', 'create', '--name', ''], 2],
      [['gate', 'keys', 'create', '--name', '   '], 2],
      [['gate', 'keys', 'create', '--name', 'trail\n'], 2],
      [['gate', 'keys', 'create', '--name', 'n'.repeat(61)], 2],
      [['gate', 'keys', 'create', '--name', 'x', '--target', 'nope'], 2],
      [['gate', 'keys', 'revoke', "1' OR '1'='1"], 2],
      // an id that names no key is bad usage, as an unknown dossier code or run id (drill finding: it was exit 1)
      [['gate', 'keys', 'revoke', '00000000-0000-4000-8000-000000000000'], 2],
    ];
    for (const [args, code] of hostile) {
      const r = await ctx.cli(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stderr).not.toContain('\u001b');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(await keyRows()).toEqual(before);

    // a name is trimmed as the other text fields are: stored and listed without the spaces around it; empty once trimmed: refused
    const trimmed = await ctx.cli(['gate', 'keys', 'create', '--name', ' trail ', '--json']);
    expect(trimmed.code).toBe(0);
    expect(JSON.parse(trimmed.stdout)).toMatchObject({ name: 'trail' });
    expect((await keyRows()).filter((k) => /trail/.test(k.name)).map((k) => k.name)).toEqual(['trail']);
    expect(await ctx.cli(['gate', 'keys', 'create', '--name', '   '])).toMatchObject({ code: 2, stderr: 'nightshift: --name: a key name is empty\n' });

    // R-SE-4 rotation: a second key of the same name says the first stays valid until revoked, and how
    const rotated = await ctx.cli(['gate', 'keys', 'create', '--name', 'compta-web-01']);
    expect(rotated.stdout).toContain(`key(s) ${key.id} of the same name stay valid: once the application uses the new secret, revoke the old one (nightshift gate keys revoke ${key.id} --target main)`);

    const revoked = await ctx.cli(['gate', 'keys', 'revoke', key.id, '--json']);
    expect(revoked.code).toBe(0);
    expect(JSON.parse(revoked.stdout)).toEqual({ id: key.id, target: 'main', outcome: 'revoked' });
    const again = await ctx.cli(['gate', 'keys', 'revoke', key.id]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already revoked/);
    const after = JSON.parse((await ctx.cli(['gate', 'keys', 'list', '--json'])).stdout) as { id: string; name: string; revokedAt: string | null }[];
    expect(after.find((k) => k.id === key.id)?.revokedAt).toEqual(expect.any(String));

    // the text line says that running gates keep accepting the key until their next read of the keys
    const second = after.find((k) => k.name === 'compta web 02')!;
    const plain = await ctx.cli(['gate', 'keys', 'revoke', second.id]);
    expect(plain).toMatchObject({ code: 0, stderr: '' });
    expect(plain.stdout).toBe(`revoked key ${second.id} of target main: running gates accept it for up to 5 s more (NIGHTSHIFT_GATE_KEY_REFRESH_S)\n`);
  });
});

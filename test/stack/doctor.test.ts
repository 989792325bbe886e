import crypto from 'node:crypto';
import path from 'node:path';
import fs from 'node:fs';
import pg from 'pg';
import { createTestDatabase, requireEnv, tempDir, uniqueName } from '../helpers/env';
import { startSmtpCatcher, type SmtpCatcher } from '../../workers/smtp-catcher';
import { checkGate, POLLER_RECENT_S, workerCheck, type DoctorReport } from '../../cli/commands/doctor';
import http from 'node:http';
import { loadConfig } from '../../config/config';
import { cleanEnv, freePort, runCli } from './helpers';
import { startS3Server } from '../helpers/s3';
import { startEmbeddedPostgres } from '../setup/servers';
import { migrate } from '../../db/migrate';
import { generateDemoDossiers } from '../../registry/demo';

/** `nightshift doctor --json` spawned as a process against the real test servers (issue 2, "CLI"). */

let smtp: SmtpCatcher;
let databaseUrl: string;

beforeAll(async () => {
  databaseUrl = await createTestDatabase('doc');
  smtp = await startSmtpCatcher({ host: '127.0.0.1', port: await freePort(), dir: tempDir('mail') });
});

afterAll(async () => {
  await smtp?.close();
});

async function baseEnv(): Promise<Record<string, string>> {
  return {
    NIGHTSHIFT_DATA_DIR: tempDir('doctor'),
    TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS'),
    TEMPORAL_TASK_QUEUE: uniqueName('tq'),
    NIGHTSHIFT_SMTP_PORT: String(smtp.port),
    NIGHTSHIFT_METRICS_PORT: String(await freePort()),
    TEMPORAL_CLI: requireEnv('NS_TEST_TEMPORAL_CLI'),
    TEMPORAL_TEST_SERVER: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER'),
  };
}

test('doctor --json on working servers without a worker: every address given, PostgreSQL without password; no worker polling is the one FAIL (exit 1)', async () => {
  const r = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl }));
  expect(r.stderr).toBe('');
  // drill K: with every worker dead doctor said "All required services are ok", exit 0, while a batch was stuck
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout) as DoctorReport;
  const s = report.services;
  expect(report.ok).toBe(false);
  expect(Object.entries(s).filter(([, c]) => (c as { state?: string }).state === 'error').map(([name]) => name)).toEqual(['worker']);
  expect(s.temporal).toMatchObject({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS'), state: 'ok' });
  expect(s.smtp).toMatchObject({ address: `smtp://127.0.0.1:${smtp.port}`, state: 'ok' });
  expect(s.tools.state).toBe('ok');
  expect(s.postgres.main!.address).toBe(databaseUrl.replace(/:[^:@/]*@/, '@'));
  // A fresh database has no supervisor: a warning that says what to do, not an error.
  expect(s.postgres.main).toMatchObject({ state: 'warning', details: { migrations: { missing: [] } } });
  expect(s.postgres.main!.message).toMatch(/no supervisor/);
  // Nothing polls this task queue (a FAIL) and no worker serves metrics here (a warning), each with a fix.
  expect(s.worker.state).toBe('error');
  expect(s.metrics.state).toBe('warning');
  expect(s.metrics.fix).toMatch(/NIGHTSHIFT_METRICS_PORT/);
  // no gate address set: a gate that is not there is not needed yet
  expect(['absent', 'ok']).toContain(s.gate.state);
  expect(s.gate.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(s.ui.state).toBe('absent'); // TEMPORAL_ADDRESS is given: the UI belongs to that deployment
});

test('R-BK-10: doctor warns when the event triggers that see structure changes made by hand are missing (created only by a superuser)', async () => {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query('ALTER EVENT TRIGGER nightshift_touch_ddl DISABLE');
    const r = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl }));
    const main = (JSON.parse(r.stdout) as DoctorReport).services.postgres.main!;
    expect(main.state).toBe('warning');
    expect(main.message).toMatch(/no event trigger nightshift_touch_ddl: a change of a dossier's structure made by hand .* does not make it modified/);
    expect(main.fix).toContain('CREATE EVENT TRIGGER nightshift_touch_ddl ON ddl_command_end EXECUTE FUNCTION nightshift.touch_dossier_ddl()');
  } finally {
    await admin.query('ALTER EVENT TRIGGER nightshift_touch_ddl ENABLE');
    await admin.end();
  }
});

test('R-PI-11: doctor warns when PostgreSQL\'s lock table is small for restores of the largest dossier (a rollback would fail with "out of shared memory", retried for ever: drill R)', async () => {
  // a server of 10 locks × 20 connections = 200 slots; a dossier of ~60 objects: 4 restores at once take 240
  const server = await startEmbeddedPostgres({ dir: tempDir('pg-locks'), flags: ['-c', 'max_locks_per_transaction=10', '-c', 'max_connections=20'] });
  try {
    await server.server.createDatabase('locks');
    const url = server.adminUrl.replace(/\/postgres$/, '/locks');
    await migrate(url);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    // pool.end() resolves once it has asked its clients to end, not once they have: the server stopped right after may
    // still terminate one ("terminating connection due to administrator command"), which the pool re-emits (CI saw it)
    pool.on('error', () => {});
    try {
      const [code] = (await generateDemoDossiers(pool, { target: 'main', count: 1, sizeKb: 1, prefix: 'LCK' })) as [string];
      const { rows } = await pool.query<{ schema_name: string }>('SELECT schema_name FROM nightshift.dossier WHERE code = $1', [code]);
      const schema = pg.escapeIdentifier(rows[0]!.schema_name);
      for (let i = 0; i < 12; i++) await pool.query(`CREATE TABLE ${schema}.t${i} (id int PRIMARY KEY, note text)`);
      const r = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: url }));
      const main = (JSON.parse(r.stdout) as DoctorReport).services.postgres.main!;
      expect(main.state).toBe('warning');
      expect(main.message).toMatch(new RegExp(`PostgreSQL's lock table \\(max_locks_per_transaction 10 × 20 sessions = 200 locks\\) is small for dossier ${code} \\(\\d+ tables, indexes and sequences\\): 4 restores or rollbacks of dossiers like it at once take \\d+, and one that runs out fails with "out of shared memory"`));
      expect(main.fix).toBe('set max_locks_per_transaction = 256 in postgresql.conf and restart PostgreSQL (README, *Sizing workers and gates*)');
      expect(main.details).toMatchObject({ lockTable: { maxLocksPerTransaction: 10, maxConnections: 20, largestDossier: { code } } });
      expect((main.details!.lockTable as { largestDossier: { objects: number } }).largestDossier.objects).toBeGreaterThan(12 * 4);
    } finally {
      await pool.end();
    }
  } finally {
    await server.stop();
  }
  // the test servers' 256 hold the suite's dossiers: the lock table is in the details, no warning of it
  const ok = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl }));
  const main = (JSON.parse(ok.stdout) as DoctorReport).services.postgres.main!;
  expect(main.message).not.toMatch(/lock table/);
  expect(main.details).toMatchObject({ lockTable: { maxLocksPerTransaction: 256 } });
});

test('doctor --json names each broken service and what to do, and exits 1', async () => {
  const good = new URL(databaseUrl);
  const wrongPort = new URL(databaseUrl);
  wrongPort.port = String(await freePort());
  const wrongPassword = new URL(databaseUrl);
  wrongPassword.password = 'not-the-password';
  const unmigrated = new URL(databaseUrl);
  unmigrated.pathname = `/${uniqueName('bare').toLowerCase()}`;
  const admin = new pg.Client({ connectionString: requireEnv('NS_TEST_PG_ADMIN_URL') });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${unmigrated.pathname.slice(1)}`);
  await admin.end();

  const env = await baseEnv();
  const r = await runCli(
    ['doctor', '--json'],
    cleanEnv({
      ...env,
      NIGHTSHIFT_TARGETS: `good=${good} badport=${wrongPort} badpass=${wrongPassword} bare=${unmigrated}`,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      NIGHTSHIFT_SMTP_PORT: String(await freePort()),
    }),
  );
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout) as DoctorReport;
  const s = report.services;
  expect(report.ok).toBe(false);
  expect(s.postgres.good!.state).toBe('warning');
  expect(s.postgres.badport).toMatchObject({ state: 'error', message: `nothing listens on 127.0.0.1:${wrongPort.port}` });
  expect(s.postgres.badport!.fix).toMatch(/NIGHTSHIFT_TARGETS/);
  expect(s.postgres.badpass!.state).toBe('error');
  expect(s.postgres.badpass!.message).toMatch(/refused user "nightshift"/);
  expect(s.postgres.badpass!.address).not.toContain('not-the-password');
  expect(r.stdout).not.toContain('not-the-password');
  expect(s.postgres.bare!.state).toBe('error');
  expect(s.postgres.bare!.message).toMatch(/migration\(s\) not applied: 0001_/);
  expect(s.temporal.state).toBe('error');
  expect(s.temporal.message).toMatch(/cannot connect to Temporal/);
  expect(s.temporal.fix).toMatch(/TEMPORAL_ADDRESS/);
  expect(s.smtp.state).toBe('error');
  expect(s.smtp.fix).toMatch(/NIGHTSHIFT_SMTP_PORT/);
});

test('R-BK-12: doctor says when this host gives no backup key where the target\'s archives are encrypted (backups would fail), not with NIGHTSHIFT_BACKUP_PLAIN=1', async () => {
  const url = await createTestDatabase('dockey');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  // an older archive under another key: every key the kept archives need is named (drill F, session 39: the newest one's alone)
  await db.query(`INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, key_id) VALUES ('DK0', 'normal', '/nowhere/BDK0.SVG', now() - interval '1 day', 1, 'ops-2025')`);
  await db.query(`INSERT INTO nightshift.backup_generation (code, kind, file, snapshot_at, size, key_id) VALUES ('DK1', 'normal', '/nowhere/BDK1.SVG', now(), 1, 'ops-2026')`);
  const env = cleanEnv({ ...(await baseEnv()), DATABASE_URL: url });
  const report = JSON.parse((await runCli(['doctor', '--json'], env)).stdout) as DoctorReport;
  expect(report.services.postgres.main).toMatchObject({
    state: 'error',
    message: expect.stringMatching(/encrypted \(generation \d+: key ops-2026; the kept archives need ops-2025 \(1 generation\(s\)\), ops-2026 \(1 generation\(s\)\)\) and this host gives no backup key/),
  });
  // from here on, the one key of the case below
  await db.query(`DELETE FROM nightshift.backup_generation WHERE code = 'DK0'`);
  await db.end();
  expect(report.services.postgres.main!.fix).toMatch(/NIGHTSHIFT_BACKUP_KEYS_FILE.*NIGHTSHIFT_BACKUP_PLAIN=1/);
  const plain = JSON.parse((await runCli(['doctor', '--json'], { ...env, NIGHTSHIFT_BACKUP_PLAIN: '1' })).stdout) as DoctorReport;
  expect(plain.services.postgres.main!.state).toBe('warning'); // only the missing supervisor
  expect(report.services.keys).toMatchObject({ state: 'absent' });

  // the keys given again: the target is fine; a key file others may read is a warning, never a key printed
  const secret = crypto.randomBytes(32).toString('base64');
  const keyFile = path.join(tempDir('dockeys'), 'backup-keys');
  fs.writeFileSync(keyFile, `ops-2026=${secret}\n`, { mode: 0o644 });
  fs.chmodSync(keyFile, 0o644);
  const loose = await runCli(['doctor', '--json'], { ...env, NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile });
  expect(loose.stdout).not.toContain(secret);
  const withKeys = JSON.parse(loose.stdout) as DoctorReport;
  expect(withKeys.services.postgres.main!.state).toBe('warning');
  expect(withKeys.services.keys).toMatchObject({ state: 'warning', message: expect.stringMatching(/^1 key\(s\), new archives use ops-2026; but the key file is mode 0644/), fix: `chmod 600 ${keyFile}` });
  fs.chmodSync(keyFile, 0o600);
  const tight = JSON.parse((await runCli(['doctor', '--json'], { ...env, NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile })).stdout) as DoctorReport;
  expect(tight.services.keys).toMatchObject({ state: 'ok', message: '1 key(s), new archives use ops-2026' });
  expect(tight.services.postgres.main!.message).not.toMatch(/use key/);

  // rotated, and the old key taken out while a kept generation uses it: said (its restore and verify would fail)
  const rotated = path.join(tempDir('dockeys'), 'backup-keys-2027');
  fs.writeFileSync(rotated, `ops-2027=${crypto.randomBytes(32).toString('base64')}
`, { mode: 0o600 });
  const lost = JSON.parse((await runCli(['doctor', '--json'], { ...env, NIGHTSHIFT_BACKUP_KEYS_FILE: rotated })).stdout) as DoctorReport;
  expect(lost.services.postgres.main).toMatchObject({
    state: 'warning',
    message: expect.stringMatching(/1 kept generation\(s\) of target main use key\(s\) ops-2026 that this host does not give: restoring or verifying them fails with BackupKeyMissing/),
  });

  // a key file with several bad lines: each problem on its own line, indented under the check
  fs.writeFileSync(keyFile, `ops-2026=${secret}\nbad id=x\nno-equals\n`);
  const text = await runCli(['doctor'], { ...env, NIGHTSHIFT_BACKUP_KEYS_FILE: keyFile });
  expect(text.stdout).not.toContain(secret);
  const lines = text.stdout.split('\n');
  const at = lines.findIndex((l) => /^\[\w+\s*\] Backup keys/.test(l));
  expect(at).toBeGreaterThan(-1);
  const block = lines.slice(at + 1, lines.findIndex((l, i) => i > at && !l.startsWith(' ')));
  expect(block.length).toBeGreaterThan(2);
  expect(block.some((l) => l.includes('line 3'))).toBe(true);
  for (const l of block) expect(l).toMatch(/^ {10,}\S/);
});

test('R-BK-14: doctor asks the off-site storage as the worker does: ok; a wrong secret, a missing bucket, nothing listening are errors that name the cause and never the secret', async () => {
  const s3 = await startS3Server();
  try {
    const env = cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl });
    const doctor = async (extra: Record<string, string>) => {
      const r = await runCli(['doctor', '--json'], { ...env, ...s3.env(extra) });
      expect(r.stdout).not.toContain(s3.secretAccessKey);
      expect(r.stdout).not.toContain('not-the-secret-at-all');
      return (JSON.parse(r.stdout) as DoctorReport).services.offsite;
    };
    expect(await doctor({})).toMatchObject({ state: 'ok', message: `bucket ${s3.bucket} reachable, credentials accepted` });
    const wrongSecret = await doctor({ NIGHTSHIFT_OFFSITE_S3_SECRET_ACCESS_KEY: 'not-the-secret-at-all' });
    expect(wrongSecret).toMatchObject({ state: 'error', message: expect.stringMatching(/^OffsiteCredentialsRejected: .*SignatureDoesNotMatch/) });
    expect(wrongSecret.fix).toMatch(/NIGHTSHIFT_OFFSITE_S3_ENDPOINT/);
    expect(await doctor({ NIGHTSHIFT_OFFSITE_S3_BUCKET: 'no-such-bucket' })).toMatchObject({ state: 'error', message: expect.stringMatching(/^OffsiteBucketMissing: .*NoSuchBucket/) });
    expect(await doctor({ NIGHTSHIFT_OFFSITE_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}` })).toMatchObject({ state: 'error', message: expect.stringMatching(/^OffsiteUnavailable: .*ECONNREFUSED/) });
  } finally {
    await s3.stop();
  }
  const off = JSON.parse((await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl }))).stdout) as DoctorReport;
  expect(off.services.offsite).toMatchObject({ state: 'absent' });
});

test('doctor without --json prints one line per service and the fixes', async () => {
  const r = await runCli(['doctor'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_SMTP_PORT: String(await freePort()) }));
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^\[FAIL\] SMTP/m);
  expect(r.stdout).toMatch(/^\[ok {2}\] Temporal/m);
  expect(r.stdout).toMatch(/-> .*NIGHTSHIFT_SMTP_HOST/);
});

test('the Worker line counts only pollers seen within the long-poll time; a killed worker, still listed, is named with when it was last seen', () => {
  const now = Date.parse('2026-03-01T02:00:00Z');
  const seen = (identity: string, agoS: number) => ({ identity, lastAccessMs: now - agoS * 1000 });
  const live = workerCheck('nightshift', [seen('101@vm', 5), seen('102@vm', 61), seen('103@vm', 240)], now);
  expect(live).toMatchObject({ state: 'ok', details: { pollers: ['101@vm', '102@vm'] } });
  expect(live.message).toBe(`2 worker(s) polling: 101@vm, 102@vm; gone (not polling for over ${POLLER_RECENT_S} s): 103@vm last seen 240 s ago`);
  // both workers killed with SIGKILL 40 s after their last poll returned: listed, but not polling
  const dead = workerCheck('nightshift', [seen('17292@vm', 100), seen('14419@vm', 130)], now);
  expect(dead.state).toBe('error');
  expect(dead.message).toMatch(/^no worker has polled task queue "nightshift" in the last 90 s: workflows will wait \(17292@vm last seen 100 s ago, 14419@vm last seen 130 s ago/);
  expect(dead.fix).toMatch(/nightshift worker[\s\S]*look at their logs/);
  expect(workerCheck('nightshift', [], now)).toMatchObject({ state: 'error', message: 'no worker polls task queue "nightshift": workflows will wait' });
});

test('a gate address set by NIGHTSHIFT_GATE_PORT that nothing answers is a failure (a load balancer or the gate down); unset, it is not needed yet', async () => {
  const port = String(await freePort());
  const set = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_GATE_PORT: port }));
  expect(set.code).toBe(1);
  const gate = (JSON.parse(set.stdout) as DoctorReport).services.gate;
  expect(gate).toMatchObject({ address: `http://127.0.0.1:${port}`, state: 'error' });
  expect(gate.message).toMatch(/^nothing answers at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  expect(gate.fix).toMatch(/load balancer[\s\S]*the gate itself/);
  const text = await runCli(['doctor'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_GATE_PORT: port }));
  expect(text.stdout).toMatch(/^\[FAIL\] Gate/m);
  expect(text.stdout).not.toContain('All required services are ok');
});

// drill K: doctor asked /healthz through HAProxy only: a gate killed behind it, or every gate refusing logins with its
// database down, was "[ok] Gate … answers (HTTP 200)"
/** The same database under another URL (two targets with one URL are refused at load: config/config.ts). */
const sameDatabaseOtherUrl = (url: string): string => `${url}${url.includes('?') ? '&' : '?'}application_name=lyon`;

test('the Gate line asks /readyz, and on a cluster each gate behind the load balancer: one down is a warning naming its restart script, not ready is a FAIL, one target down a warning naming it', async () => {
  const servers: http.Server[] = [];
  let lbDegraded = false;
  const serve = async (status: () => number): Promise<number> => {
    const srv = http.createServer((req, res) => {
      res.statusCode = req.url === '/readyz' ? status() : 404;
      res.end(JSON.stringify({ ready: res.statusCode === 200, ...(lbDegraded ? { degraded: true } : {}) }));
    });
    servers.push(srv);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return (srv.address() as { port: number }).port;
  };
  let lbStatus = 200;
  try {
    const lb = await serve(() => lbStatus);
    const gate1 = await serve(() => 200);
    const gate2 = await freePort();
    const dir = tempDir('doctor-cluster');
    fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({ ownerPid: 1, startedAt: '', pids: {}, needles: {}, info: { gatePorts: [gate1, gate2] } }));
    const config = loadConfig(cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_DATA_DIR: dir, NIGHTSHIFT_GATE_PORT: String(lb) }) as NodeJS.ProcessEnv);
    const one = await checkGate(config, 2000, true);
    expect(one).toMatchObject({ address: `http://127.0.0.1:${lb}`, state: 'warning' });
    expect(one.message).toBe(
      `answers (HTTP 200), but 1 of the cluster's 2 gates behind it is down: gate-2 (127.0.0.1:${gate2}) does not answer (ECONNREFUSED): the load balancer sends every login to the others, no spare left`,
    );
    expect(one.fix).toBe(`${path.join(dir, 'restart', 'gate-2')} (each starts that gate again as \`cluster up\` did)`);
    lbStatus = 503;
    const notReady = await checkGate(config, 2000, true);
    expect(notReady).toMatchObject({ state: 'error', message: expect.stringMatching(/^answers, but is not ready \(HTTP 503 on \/readyz\): no target database answers it, so every login and heartbeat gets 503; every target's database answers this host/) });
    // no cluster here: the address alone
    lbStatus = 200;
    const alone = await checkGate(loadConfig(cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_GATE_PORT: String(lb) }) as NodeJS.ProcessEnv), 2000, true);
    expect(alone).toMatchObject({ state: 'ok', message: 'answers, ready (HTTP 200)' });
    // the tester's three targets, one database down: the gate is ready (it serves the others) and doctor names the one
    // down as this host sees it (the gate's public answer names none, R-SE-4)
    lbDegraded = true;
    const three = loadConfig(
      cleanEnv({ ...(await baseEnv()), NIGHTSHIFT_TARGETS: `paris=${databaseUrl},lyon=${sameDatabaseOtherUrl(databaseUrl)},nantes-3=postgres://nightshift:x@127.0.0.1:${await freePort()}/firm_c`, NIGHTSHIFT_GATE_PORT: String(lb) }) as NodeJS.ProcessEnv,
    );
    const degraded = await checkGate(three, 2000, true);
    expect(degraded).toMatchObject({
      state: 'warning',
      message: "answers, ready (HTTP 200), but the database of target nantes-3 does not answer it: nantes-3's logins and heartbeats get 503, the other targets are served",
      fix: 'see the PostgreSQL nantes-3 line: the gate serves it again as soon as the database answers',
    });
    lbStatus = 503;
    expect((await checkGate(three, 2000, true)).message).toMatch(/no target database answers it, so every login and heartbeat gets 503; from this host, the database of nantes-3 does not answer either$/);
  } finally {
    for (const srv of servers) srv.close();
  }
});

// drill: both gates killed behind HAProxy, doctor said "no target database answers it … see the PostgreSQL lines"
test("a load balancer's own 503 page is not blamed on the database: every gate of the cluster down is a FAIL naming them and their restart scripts; a gate's own 503 still is the database", async () => {
  const servers: http.Server[] = [];
  const serve = async (status: number, body: string): Promise<number> => {
    const srv = http.createServer((_req, res) => {
      res.statusCode = status;
      res.end(body);
    });
    servers.push(srv);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return (srv.address() as { port: number }).port;
  };
  const clusterDir = (gatePorts: number[]): string => {
    const dir = tempDir('doctor-cluster');
    fs.writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({ ownerPid: 1, startedAt: '', pids: {}, needles: {}, info: { gatePorts } }));
    return dir;
  };
  try {
    // HAProxy's page, as it answers with no server up in its backend
    const lb = await serve(503, '<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n');
    const dir = clusterDir([await freePort(), await freePort()]);
    const env = { ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_GATE_PORT: String(lb) };
    const bothDown = await checkGate(loadConfig(cleanEnv({ ...env, NIGHTSHIFT_DATA_DIR: dir }) as NodeJS.ProcessEnv), 2000, true);
    expect(bothDown).toMatchObject({ state: 'error', fix: `${path.join(dir, 'restart', 'gate-1')} && ${path.join(dir, 'restart', 'gate-2')} (each starts that gate again as \`cluster up\` did)` });
    expect(bothDown.message).toMatch(
      /^answers HTTP 503 on \/readyz, but gate-1 and gate-2 are down \(gate-1 \(127\.0\.0\.1:\d+\) does not answer \(ECONNREFUSED\); gate-2 \(127\.0\.0\.1:\d+\) does not answer \(ECONNREFUSED\)\): the load balancer has no gate to send a login to/,
    );
    expect(bothDown.message).not.toMatch(/database/);
    // no cluster known here: the page is quoted, as not a gate's answer
    const alone = await checkGate(loadConfig(cleanEnv(env) as NodeJS.ProcessEnv), 2000, true);
    expect(alone).toMatchObject({
      state: 'error',
      message: `answers HTTP 503 on /readyz, but not with a gate's answer ("503 Service Unavailable No server is available to handle this request."): a load balancer with no gate behind it, or another program on this address; every login gets 503`,
    });
    // both gates alive, each answering its own 503 (no target database answers it): the database, no gate named
    const notReady = JSON.stringify({ ready: false });
    const gates = [await serve(503, notReady), await serve(503, notReady)];
    const viaLb = await serve(503, notReady);
    const database = await checkGate(loadConfig(cleanEnv({ ...env, NIGHTSHIFT_GATE_PORT: String(viaLb), NIGHTSHIFT_DATA_DIR: clusterDir(gates) }) as NodeJS.ProcessEnv), 2000, true);
    expect(database).toMatchObject({ state: 'error', fix: 'see the PostgreSQL lines: the gate serves again as soon as a database answers' });
    expect(database.message).toMatch(/^answers, but is not ready \(HTTP 503 on \/readyz\): no target database answers it/);
    expect(database.message).not.toMatch(/gate-/);
  } finally {
    for (const srv of servers) srv.close();
  }
});

test('NIGHTSHIFT_UI_URL=none: the Web UI line says this deployment has none; a URL given is checked', async () => {
  const none = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_UI_URL: 'none' }));
  expect((JSON.parse(none.stdout) as DoctorReport).services.ui).toMatchObject({ state: 'absent', message: expect.stringMatching(/^no Web UI in this deployment/) });
  const url = `http://127.0.0.1:${await freePort()}`;
  const down = await runCli(['doctor', '--json'], cleanEnv({ ...(await baseEnv()), DATABASE_URL: databaseUrl, NIGHTSHIFT_UI_URL: url }));
  expect((JSON.parse(down.stdout) as DoctorReport).services.ui).toMatchObject({ address: url, state: 'warning', fix: expect.stringMatching(/NIGHTSHIFT_UI_URL/) });
});

test('on a dev machine without the time-skipping test server (a Go-only install), the Tools line is a warning: only `npm test` needs it', async () => {
  const env = await baseEnv();
  delete (env as Record<string, string | undefined>).TEMPORAL_ADDRESS; // the dev stack's own Temporal: where a missing CLI is an error
  const r = await runCli(
    ['doctor', '--json'],
    cleanEnv({ ...env, DATABASE_URL: databaseUrl, NIGHTSHIFT_TEMPORAL_PORT: String(await freePort()), TEMPORAL_TEST_SERVER: path.join(tempDir('nots'), 'temporal-test-server') }),
  );
  const s = (JSON.parse(r.stdout) as DoctorReport).services;
  expect(s.tools.state).toBe('warning');
  expect(s.tools.message).toContain('is missing (only `npm test` needs it)');
  expect(s.tools.fix).toMatch(/python3-venv/);
});

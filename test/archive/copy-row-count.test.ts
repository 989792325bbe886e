import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { backupDossierArchive } from '../../archive/engine';
import { scratchRestoreCompare } from '../../archive/scratch-restore';
import { ident } from '../../db/ident';
import { generateDemoDossiers } from '../../registry/demo';
import { copyTableOut } from '../../store/catalog/copy-statements';
import { createTestStack, tempDir, type TestStack } from '../helpers/env';

/**
 * A COPY's row count when the server's CopyDone and CommandComplete arrive in separate reads of the socket, as on a
 * busy machine (drill R, 2026-12-04: a verification found a sound archive "corrupt": "table ecriture: 0 rows restored,
 * the archive says 19159"). pg-copy-streams ends the stream at CopyDone and learns the count at CommandComplete; the
 * engine read it at the stream's end. A relay in front of the real PostgreSQL splits its answer after each CopyDone
 * and holds the rest 300 ms: the count the engine and the verification use must still be the server's.
 */

const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]); // 'c', length 4

let stack: TestStack;
let relay: net.Server;
let viaRelay: pg.Pool;
let splits = 0;

beforeAll(async () => {
  stack = await createTestStack();
  const target = new URL(stack.databaseUrl);
  relay = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port), target.hostname);
    inbound.pipe(outbound);
    // server → client in order, each CopyDone's rest of the read delivered 300 ms later (the stream has ended by then)
    let queue = Promise.resolve();
    outbound.on('data', (chunk: Buffer) => {
      queue = queue.then(async () => {
        let rest = chunk;
        for (let at = rest.indexOf(COPY_DONE); at >= 0; at = rest.indexOf(COPY_DONE)) {
          inbound.write(rest.subarray(0, at + COPY_DONE.length));
          rest = rest.subarray(at + COPY_DONE.length);
          splits++;
          await new Promise((r) => setTimeout(r, 300));
        }
        if (rest.length && !inbound.destroyed) inbound.write(rest);
      });
    });
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close).on('close', close);
    outbound.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const url = new URL(stack.databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((relay.address() as net.AddressInfo).port);
  viaRelay = new pg.Pool({ connectionString: url.toString(), max: 2 });
  viaRelay.on('error', () => {}); // an idle client of it, cut when the test database is dropped
});

afterAll(async () => {
  await viaRelay?.end();
  relay?.close();
  await stack?.close();
});

test("the COPY's row count is the server's, also when CommandComplete comes in a later read than CopyDone", async () => {
  const [code] = (await generateDemoDossiers(stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 30, prefix: 'RCNT' })) as [string];
  const schema = `d_${code}`;
  const { rows } = await stack.pools.get('main').query<{ n: string }>(`SELECT count(*) AS n FROM ${ident(schema)}.ligne`);
  const client = await viaRelay.connect();
  try {
    const out = copyTableOut(client, schema, 'ligne', ['ecriture_id', 'n', 'compte', 'debit', 'credit']);
    let bytes = 0;
    for await (const chunk of out as AsyncIterable<Buffer>) bytes += chunk.length;
    expect(bytes).toBeGreaterThan(0);
    // what the engine used to read: the relay made the race happen
    expect(out.rowCount).toBe(0);
    expect(await out.rows).toBe(Number(rows[0]!.n));
  } finally {
    client.release();
  }
  expect(splits).toBeGreaterThan(0);
});

test('R-BK-5, R-BK-13: through that relay, a backup writes every table\'s true count, and its verification restores it equal', async () => {
  const [code] = (await generateDemoDossiers(stack.pools.get('main'), { target: 'main', count: 1, sizeKb: 30, prefix: 'RCNB' })) as [string];
  const before = splits;
  const backup = await backupDossierArchive({ pool: viaRelay, target: 'main', code, destinationDir: path.join(tempDir('rcnt'), 'sauve'), plainOnPurpose: true });
  expect(splits - before).toBeGreaterThanOrEqual(5); // each table's COPY was split
  const { rows } = await stack.pools.get('main').query<{ n: string }>(`SELECT count(*) AS n FROM ${ident(`d_${code}`)}.ligne`);
  expect(backup.rows).toBeGreaterThan(Number(rows[0]!.n));
  const compared = await scratchRestoreCompare({ pool: viaRelay, file: backup.file });
  expect(compared.differences).toEqual([]);
  expect(compared.rows).toBe(backup.rows);
});

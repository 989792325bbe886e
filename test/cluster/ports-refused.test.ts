import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { UsageError } from '../../config/config';
import { startCluster } from '../../cluster/cluster';
import { fixedPorts } from '../../cluster/processes';
import { tempDir } from '../helpers/env';

/**
 * `cluster up --ports-from` with a port taken is exit 2, "nothing started", and nothing changed (tester: it still made
 * <dir>/ with logs/, mail/ and temporal/). Refused before any process starts: fast.
 */

async function holdPort(): Promise<{ port: number; close: () => Promise<void> }> {
  for (let tries = 0; ; tries++) {
    const port = 21_000 + Math.floor(Math.random() * 11_000);
    const srv = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return { port, close: () => new Promise((resolve) => srv.close(() => resolve())) };
    if (tries > 20) throw new Error('no free port to hold');
  }
}

test('a taken --ports-from port: UsageError naming the port, and a --dir that did not exist is not made', async () => {
  const held = await holdPort();
  try {
    const dir = path.join(tempDir('ports'), 'c4');
    // the held port is the second of the range (PostgreSQL's)
    const up = startCluster({ dataDir: dir, portsFrom: held.port - 1 });
    await expect(up).rejects.toThrow(UsageError);
    await expect(up).rejects.toThrow(new RegExp(`port ${held.port} \\(PostgreSQL\\) is taken on 127\\.0\\.0\\.1: .*nothing started$`));
    expect(fs.existsSync(dir)).toBe(false);
    // a folder that was there: nothing made in it either
    const there = tempDir('ports');
    await expect(startCluster({ dataDir: there, portsFrom: held.port - 1 })).rejects.toThrow(UsageError);
    expect(fs.readdirSync(there)).toEqual([]);
  } finally {
    await held.close();
  }
});

test('--ports-from: every port of the range at most 32767 (Temporal keeps them in a smallint), said before anything is checked', async () => {
  await expect(fixedPorts(32_760, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'])).rejects.toThrow(
    '--ports-from 32760: its 9 ports would end at 32768, above 32767 (Temporal keeps its ports in a smallint): start at 32759 at most; nothing started',
  );
  // the last range that fits: checked port by port (one may be taken on this machine, not for being too high)
  const last = await fixedPorts(32_759, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']).then((p) => p.join(' '), (err: Error) => err.message);
  expect(last).not.toMatch(/above 32767/);
});

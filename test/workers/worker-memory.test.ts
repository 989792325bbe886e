import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { PROJECT_ROOT } from '../../config/config';
import { workerMemoryNote, workerProcessEnv } from '../../workers/resources';

const TSX = require.resolve('tsx/cjs');

/**
 * Worker memory (issue 11): two malloc arenas instead of one per thread, and V8's young generation capped at 2 x 4 MB.
 * Both are read when the process starts, so whatever starts a worker sets them; a worker started without them says so
 * in its log. The cap replaced `--optimize-for-size`, which cost the worker's JavaScript far more CPU (README, Worker
 * memory).
 */

test('a worker started without the settings says which and how to set them; with them, nothing', () => {
  expect(workerMemoryNote({}, [])).toBe(
    'started without MALLOC_ARENA_MAX=2 (glibc gives each thread its own malloc arena: ~35 MB more) and ' +
      "NODE_OPTIONS=--max-semi-space-size=4 (V8's young generation grows to 2 x 16 MB): set them where the worker is started (README, Worker memory)",
  );
  expect(workerMemoryNote({ MALLOC_ARENA_MAX: '2' }, [])).toMatch(/^started without NODE_OPTIONS=--max-semi-space-size=4 .*: set it where/);
  expect(workerMemoryNote({ MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=4' }, [])).toBeUndefined();
  // on the command line (node --max-semi-space-size=8 bin/nightshift.js worker): the operator's own value counts
  expect(workerMemoryNote({ MALLOC_ARENA_MAX: '2' }, ['--max-semi-space-size=8'])).toBeUndefined();
});

test("the settings keep an operator's own NODE_OPTIONS and values", () => {
  expect(workerProcessEnv({})).toEqual({ MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=4' });
  expect(workerProcessEnv({ NODE_OPTIONS: '--max-old-space-size=512', MALLOC_ARENA_MAX: '4' })).toEqual({
    MALLOC_ARENA_MAX: '4',
    NODE_OPTIONS: '--max-old-space-size=512 --max-semi-space-size=4',
  });
  expect(workerProcessEnv({ NODE_OPTIONS: '--max-semi-space-size=8' }).NODE_OPTIONS).toBe('--max-semi-space-size=8');
});

test('the cap holds in a process started with the settings, and not without them (what the note is about)', () => {
  // a worker's allocation pattern in small: many short-lived buffers and objects; then the young generation's size
  const script = `
    const v8 = require('node:v8');
    let keep = [];
    for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'x'.repeat(64) }); if (keep.length > 20000) keep = []; }
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(young.space_size));`;
  const youngBytes = (env: NodeJS.ProcessEnv) => Number(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }));
  const bare = { PATH: process.env.PATH };
  const capped = youngBytes({ ...bare, ...workerProcessEnv(bare) });
  const grown = youngBytes(bare);
  expect(capped).toBeLessThanOrEqual(2 * 4 * 2 ** 20);
  expect(grown).toBeGreaterThan(capped);
});

test('limitHeapGrowth keeps the old generation close to what is live (it replaced --optimize-for-size at run time)', () => {
  // old-generation garbage: objects that survive scavenges, then die; the largest heap seen
  const script = (limit: boolean) => `
    ${limit ? `require(${JSON.stringify(TSX)}); require(${JSON.stringify(path.join(PROJECT_ROOT, 'workers', 'resources.ts'))}).limitHeapGrowth();` : ''}
    let live = []; let peak = 0;
    for (let r = 0; r < 60; r++) {
      for (let i = 0; i < 20000; i++) live.push({ i, s: 'y'.repeat(200) + i });
      if (live.length > 100000) live = live.slice(50000);
      peak = Math.max(peak, process.memoryUsage().heapTotal);
    }
    process.stdout.write(String(peak));`;
  const peak = (limit: boolean) => Number(execFileSync(process.execPath, ['-e', script(limit)], { env: { PATH: process.env.PATH }, encoding: 'utf8' }));
  const limited = peak(true);
  const free = peak(false);
  expect(limited).toBeLessThan(free * 0.8);
});

test('the image, the cluster and the bench start their workers with them', () => {
  const read = (f: string) => fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8');
  expect(read('Dockerfile')).toMatch(/^ENV MALLOC_ARENA_MAX=2$/m);
  expect(read('Dockerfile')).toMatch(/^ENV NODE_OPTIONS=--max-semi-space-size=4$/m);
  // the worker's own variables (its restart script sets them too: drill K) start with the settings
  expect(read('cluster/cluster.ts')).toMatch(/const own = \{ \.\.\.workerProcessEnv\(inherited\),[\s\S]{0,300}name: `worker-\$\{i \+ 1\}`[\s\S]{0,200}env: childEnv\(own\),\s+restartEnv: own,/);
  expect(read('bench/backup-batch-harness.ts')).toContain('env: { ...process.env, ...workerProcessEnv(), DATABASE_URL');
});

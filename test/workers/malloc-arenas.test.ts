import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { mallocArenaNote, WORKER_MALLOC_ENV } from '../../workers/resources';

/**
 * Worker memory (issue 11): two malloc arenas instead of one per thread, ~35 MB less RSS. glibc reads
 * MALLOC_ARENA_MAX when the process starts, so whatever starts a worker sets it; a worker started without it
 * says so in its log.
 */

test('a worker started without MALLOC_ARENA_MAX says how to set it; with it, nothing', () => {
  expect(mallocArenaNote({})).toMatch(/^MALLOC_ARENA_MAX is not set: .*MALLOC_ARENA_MAX=2/);
  expect(mallocArenaNote({ MALLOC_ARENA_MAX: '2' })).toBeUndefined();
  expect(WORKER_MALLOC_ENV).toEqual({ MALLOC_ARENA_MAX: '2' });
});

test('the image, the cluster and the bench start their workers with it', () => {
  const read = (f: string) => fs.readFileSync(path.join(PROJECT_ROOT, f), 'utf8');
  expect(read('Dockerfile')).toMatch(/^ENV MALLOC_ARENA_MAX=2$/m);
  // the worker's own variables (its restart script sets them too: drill K) start with the malloc setting
  expect(read('cluster/cluster.ts')).toMatch(/const own = \{ \.\.\.WORKER_MALLOC_ENV,[\s\S]{0,300}name: `worker-\$\{i \+ 1\}`[\s\S]{0,200}env: childEnv\(own\),\s+restartEnv: own,/);
  expect(read('bench/backup-batch-harness.ts')).toContain('env: { ...WORKER_MALLOC_ENV, ...process.env');
});

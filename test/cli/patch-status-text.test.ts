import { levelSummary, progressText } from '../../cli/commands/patch';
import type { PatchProgress } from '../../workflows/patch-integration.api';

/** `patch status` at thousands of dossiers and `patch integrate --wait`'s progress (R-PI-9, R-OP-1). */

test('R-PI-9: above 50 dossiers, patch status counts them per level, highest first, the few behind named', () => {
  const dossiers = [
    ...Array.from({ length: 2100 }, (_, i) => ({ code: `BIG${String(i).padStart(4, '0')}`, level: 4 })),
    { code: 'BIG9998', level: 3 },
    { code: 'BIG9999', level: 2 },
    ...Array.from({ length: 6 }, (_, i) => ({ code: `OLD${i}`, level: 1 })),
  ];
  expect(levelSummary(dossiers)).toEqual([
    '  level     4: 2100 dossier(s)',
    '  level     3: 1 dossier(s) (BIG9998)',
    '  level     2: 1 dossier(s) (BIG9999)',
    '  level     1: 6 dossier(s)',
    '  (2108 dossiers: one line each with --dossiers, or --json)',
  ]);
});

test('R-PI-3: --wait progress names the supervisor\'s part in words', () => {
  const p = { runId: 4, done: 120, total: 2512, failed: 2, phase: 'running', supervisor: { code: 'DEMO0001', status: 'not-in-list', level: 3 } } as unknown as PatchProgress;
  expect(progressText(p)).toBe("patch run 4: 120 / 2512 dossier(s), 2 failed, supervisor DEMO0001 not among this run's dossiers (running)");
});

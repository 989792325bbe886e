import { MockActivityEnvironment } from '@temporalio/testing';
import { type DossierOutcome, dossiersInFlight, endedPerHeartbeat, runChunk } from '../../activities/fan-out';
import type { FanOutHeartbeat } from '../../domain/run-details';

/** The fan-out engine's chunk runner (issue 11.2, issue 12.2): bounded concurrency, heartbeat per dossier, resume, capped failures. */

const codes = (n: number) => Array.from({ length: n }, (_, i) => `D${String(i).padStart(3, '0')}`);
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** runChunk inside a mock activity context, typed */
const inActivity = <R>(env: MockActivityEnvironment, fn: () => Promise<R>): Promise<R> => env.run(fn) as Promise<R>;

test('runs every code once with at most `concurrency` at a time; counts by status, failures as {code, status, error}', async () => {
  let running = 0;
  let most = 0;
  const seen: string[] = [];
  const env = new MockActivityEnvironment();
  const r = await inActivity(env, () =>
    runChunk({
      codes: codes(12),
      concurrency: 3,
      perDossier: async (code): Promise<DossierOutcome> => {
        running++;
        most = Math.max(most, running);
        await tick(5);
        running--;
        seen.push(code);
        return code.endsWith('4') ? { status: 'failed', error: 'cannot back up\nrelation v_oops' } : code.endsWith('7') ? { status: 'in_use', error: 'in use' } : { status: 'ok' };
      },
    }),
  );
  expect(seen.sort()).toEqual(codes(12));
  expect(most).toBe(3);
  expect(r).toMatchObject({ ok: 10, failed: 2, skipped: 0, remaining: [], failuresTotal: 2, counts: { ok: 10, failed: 1, in_use: 1 } });
  expect([...r.failures].sort((a, b) => a.code.localeCompare(b.code))).toEqual([
    { code: 'D004', status: 'failed', error: 'cannot back up relation v_oops' },
    { code: 'D007', status: 'in_use', error: 'in use' },
  ]);
});

test('issue 12: heartbeat details are {current, done, of, resumeAt}, one when each dossier starts and ends; the dossier in flight is known with its age', async () => {
  const beats: FanOutHeartbeat[] = [];
  const env = new MockActivityEnvironment();
  env.on('heartbeat', (d: FanOutHeartbeat) => beats.push(structuredClone(d)));
  let inFlightSeen: { code: string; seconds: number }[] = [];
  await inActivity(env, () =>
    runChunk({
      codes: ['A1', 'A2'],
      concurrency: 1,
      perDossier: async (code) => {
        inFlightSeen = dossiersInFlight(env.context.info.workflowExecution!.workflowId);
        expect(inFlightSeen.map((f) => f.code)).toEqual([code]);
        return { status: 'ok' };
      },
    }),
  );
  expect(beats[0]).toEqual({ current: [], done: 0, of: 2, resumeAt: 0 });
  expect(beats[1]).toMatchObject({ current: [{ code: 'A1', since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }], done: 0, of: 2, resumeAt: 0 });
  expect(beats[2]).toEqual({ current: [], done: 1, of: 2, resumeAt: 1 });
  expect(beats[beats.length - 1]).toEqual({ current: [], done: 2, of: 2, resumeAt: 2 });
  expect(dossiersInFlight(env.context.info.workflowExecution!.workflowId)).toEqual([]);
});

test('a retried attempt resumes from its heartbeat (resumeAt) and from the ledger (alreadyDone); the older {done: [codes]} shape is read too', async () => {
  const all = codes(6);
  const ran: string[] = [];
  const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: { current: [{ code: 'D002', since: new Date().toISOString() }], done: 2, of: 6, resumeAt: 2 } });
  const r = await inActivity(env, () =>
    runChunk({
      codes: all,
      concurrency: 2,
      alreadyDone: async (todo) => todo.filter((c) => c === 'D004'),
      perDossier: async (code) => {
        ran.push(code);
        return { status: 'ok' };
      },
    }),
  );
  expect(ran.sort()).toEqual(['D002', 'D003', 'D005']);
  expect(r).toMatchObject({ ok: 3, skipped: 3 });
  expect(endedPerHeartbeat(all, { done: ['D001', 'D003'] })).toEqual(['D001', 'D003']);
  expect(endedPerHeartbeat(all, { resumeAt: 99 })).toEqual(all);
  expect(endedPerHeartbeat(all, 7)).toEqual([]);
});

test('time budget and shouldStop hand the codes not started back in `remaining`; an unrecorded outcome stops the lanes', async () => {
  const env = new MockActivityEnvironment();
  const budget = await inActivity(env, () =>
    runChunk({ codes: codes(5), concurrency: 1, timeBudgetMs: 30, perDossier: async () => (await tick(20), { status: 'ok' }) }),
  );
  expect(budget.ok + budget.remaining.length).toBe(5);
  expect(budget.remaining.length).toBeGreaterThan(0);
  let n = 0;
  const stop = await inActivity(new MockActivityEnvironment(), () => runChunk({ codes: codes(5), concurrency: 1, shouldStop: () => n >= 2, perDossier: async () => (n++, { status: 'ok' }) }));
  expect(stop).toMatchObject({ ok: 2, stopped: true, remaining: ['D002', 'D003', 'D004'] });
  const closed = await inActivity(new MockActivityEnvironment(), () => runChunk({ codes: codes(3), concurrency: 1, perDossier: async (c) => (c === 'D001' ? undefined : { status: 'ok' }) }));
  expect(closed).toMatchObject({ ok: 1, stopped: true, remaining: ['D002'] });
});

test('failures are capped at the newest 20 while failuresTotal counts them all; a throw ends the chunk with that error', async () => {
  const r = await inActivity(new MockActivityEnvironment(), () => runChunk({ codes: codes(50), concurrency: 4, perDossier: async () => ({ status: 'failed', error: 'x'.repeat(500) }) }));
  expect(r.failuresTotal).toBe(50);
  expect(r.failures).toHaveLength(20);
  expect(r.failures.every((f) => f.error.length <= 200)).toBe(true);
  await expect(
    inActivity(new MockActivityEnvironment(), () =>
      runChunk({ codes: codes(4), concurrency: 2, perDossier: async (c) => {
        if (c === 'D001') throw new Error('database gone');
        return { status: 'ok' };
      } }),
    ),
  ).rejects.toThrow('database gone');
});

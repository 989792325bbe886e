import {
  backupDossiers,
  describeCluster,
  expectBatchComplete,
  report,
  sleep,
  slowWorker,
  startBatch,
  untilBatchDone,
  useCluster,
  workersHolding,
} from './helpers';

/**
 * Infrastructure faults during a backup batch on the production-like cluster (issue 10): two workers,
 * the Temporal server's four services as separate processes on PostgreSQL. Each scenario: start a
 * batch, wait until some dossiers are done, inject the fault, undo it as an operator (or orchestrator)
 * would, then R-BK-1: the batch completes by itself, each dossier once with one verified archive, no
 * temporary file. Each prints what it cost: stall_s (from the fault to the next dossier done), max_gap_s
 * (the longest time without a dossier done) and extra_s (run time beyond the unfaulted batch's).
 */

const DOSSIERS = 36;
/** per dossier, so that a fault lands mid-batch (36 dossiers on 4 slots: ~4 s of work) */
const DELAY_MS = 400;

describeCluster('backup batch on the cluster, under faults', () => {
  const ctx = useCluster({ workerCommand: slowWorker(DELAY_MS) });
  let n = 0;
  const dossiers = async () => backupDossiers(ctx.stack, `F${++n}X`, DOSSIERS);
  /** the unfaulted batch's duration: a fault's cost is the time a faulted batch takes beyond it */
  let baselineS = 0;
  const extra = (totalS: number) => Math.round((totalS - baselineS) * 10) / 10;

  test('R-BK-1 baseline: a batch on two workers and the four-process Temporal server completes, one verified archive per dossier', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    const figures = await expectBatchComplete(ctx, batch, codes);
    baselineS = figures.totalS;
    report('none (baseline)', { dossiers: codes.length, total_s: figures.totalS, max_gap_s: figures.maxGapS });
  }, 180_000);

  test('R-BK-1 SIGKILL of the worker holding a chunk mid-batch, restarted: the other worker takes the chunk over', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    await untilBatchDone(ctx, batch, 6);
    const holders = await workersHolding(ctx, batch.workflowId);
    const victim = holders[0] ?? ctx.cluster.workers[0]!;
    const faultAt = Date.now();
    await ctx.cluster.proc(victim).kill();
    await ctx.cluster.proc(victim).start();
    const figures = await expectBatchComplete(ctx, batch, codes, faultAt);
    report(`SIGKILL ${victim} mid-batch (held work: ${holders.join(', ') || 'none seen'})`, { stall_s: figures.stallS, max_gap_s: figures.maxGapS, total_s: figures.totalS, extra_s: extra(figures.totalS) });
  }, 300_000);

  test('R-BK-1 SIGKILL of every Temporal server process mid-batch, restarted 5 s later', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    await untilBatchDone(ctx, batch, 6);
    const faultAt = Date.now();
    await Promise.all(ctx.cluster.temporalServices.map((s) => ctx.cluster.proc(s).kill()));
    await sleep(5_000);
    const restarted = Date.now();
    for (const s of ctx.cluster.temporalServices) await ctx.cluster.proc(s).start();
    const figures = await expectBatchComplete(ctx, batch, codes, faultAt);
    report('SIGKILL temporal-{history,matching,frontend,worker} mid-batch, down 5 s', {
      restart_s: Math.round((Date.now() - restarted) / 100) / 10,
      stall_s: figures.stallS,
      max_gap_s: figures.maxGapS,
      total_s: figures.totalS,
      extra_s: extra(figures.totalS),
    });
  }, 300_000);

  test('R-BK-1 the history service alone restarted mid-batch', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    await untilBatchDone(ctx, batch, 6);
    const faultAt = Date.now();
    await ctx.cluster.proc('temporal-history').restart();
    const figures = await expectBatchComplete(ctx, batch, codes, faultAt);
    report('temporal-history restarted (SIGTERM, start) mid-batch', { stall_s: figures.stallS, max_gap_s: figures.maxGapS, total_s: figures.totalS, extra_s: extra(figures.totalS) });
  }, 300_000);

  test('R-BK-1 PostgreSQL (the target and Temporal\'s stores) restarted mid-batch', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    await untilBatchDone(ctx, batch, 6);
    const faultAt = Date.now();
    await ctx.cluster.postgres.restart();
    const figures = await expectBatchComplete(ctx, batch, codes, faultAt);
    report('PostgreSQL restarted (fast shutdown, start) mid-batch', { stall_s: figures.stallS, max_gap_s: figures.maxGapS, total_s: figures.totalS, extra_s: extra(figures.totalS) });
  }, 300_000);

  test('R-BK-1 PostgreSQL killed (SIGKILL) mid-batch and started again 10 s later', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    await untilBatchDone(ctx, batch, 6);
    const faultAt = Date.now();
    await ctx.cluster.postgres.kill();
    await sleep(10_000);
    await ctx.cluster.postgres.start();
    const figures = await expectBatchComplete(ctx, batch, codes, faultAt);
    report('PostgreSQL SIGKILLed mid-batch, down 10 s', { stall_s: figures.stallS, max_gap_s: figures.maxGapS, total_s: figures.totalS, extra_s: extra(figures.totalS) });
  }, 300_000);

  test('R-BK-1 a worker holding a chunk cut off from Temporal for 30 s (SIGSTOP, SIGCONT)', async () => {
    const codes = await dossiers();
    const batch = await startBatch(ctx, codes);
    await untilBatchDone(ctx, batch, 6);
    const holders = await workersHolding(ctx, batch.workflowId);
    const victim = holders[0] ?? ctx.cluster.workers[0]!;
    const faultAt = Date.now();
    ctx.cluster.proc(victim).signal('SIGSTOP');
    try {
      await sleep(30_000);
    } finally {
      ctx.cluster.proc(victim).signal('SIGCONT');
    }
    const figures = await expectBatchComplete(ctx, batch, codes, faultAt);
    report(`${victim} frozen 30 s mid-batch (held work: ${holders.join(', ') || 'none seen'})`, { stall_s: figures.stallS, max_gap_s: figures.maxGapS, total_s: figures.totalS, extra_s: extra(figures.totalS) });
  }, 300_000);
});

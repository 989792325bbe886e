import type pg from 'pg';
import { CLOSE_ACK_SECONDS } from '../domain/maintenance';
import type { ActiveWindow } from './notices';
import { heartbeatKey, heartbeatSessions, type HeartbeatCall } from '../store/gate/heartbeat-sessions';

/**
 * Heartbeats coalesced per target (issue 9's speed goal): the heartbeats that arrive in one turn of the
 * event loop go to the database as one statement (store/gate/heartbeat-sessions.ts), at most
 * `maxInFlight` statements at a time per target; the next batch gathers while they run. Each answer
 * still comes from a statement that ran after its request arrived, on the database's rows and clock:
 * liveness, close orders and the window are exactly as with one update statement per heartbeat, whichever gate
 * process or workflow changed them, and no state is kept here between batches.
 */

export interface HeartbeatOutcome {
  now: Date;
  window?: ActiveWindow;
  closeRequestedAt: Date | null;
  closeBy: Date | null;
}

interface Waiting extends HeartbeatCall {
  resolve(outcome: HeartbeatOutcome | undefined): void;
  reject(err: unknown): void;
}

interface Lane {
  queue: Waiting[];
  inFlight: number;
  scheduled: boolean;
}

export interface HeartbeatBatcherOptions {
  /** statements in flight per target (each holds one pooled connection) */
  maxInFlight?: number;
  /** calls per statement at most */
  maxBatch?: number;
}

/** A batch never waits holding locks (SKIP LOCKED) and a lone call holds one: kept as a safety net only. */
const RETRYABLE = new Set(['40P01', '40001']);

export class HeartbeatBatcher {
  private readonly lanes = new Map<pg.Pool, Lane>();
  private readonly maxInFlight: number;
  private readonly maxBatch: number;
  /** statements run, heartbeats they carried, statements run again after a deadlock (for the bench and the tests) */
  readonly stats = { statements: 0, calls: 0, retries: 0 };

  constructor(
    private readonly timeoutSeconds: number,
    { maxInFlight = 2, maxBatch = 1000 }: HeartbeatBatcherOptions = {},
  ) {
    this.maxInFlight = maxInFlight;
    this.maxBatch = maxBatch;
  }

  /** The session's close order and the window when the session is live and the token its own; undefined otherwise. */
  beat(pool: pg.Pool, id: string, tokenHash: string): Promise<HeartbeatOutcome | undefined> {
    let lane = this.lanes.get(pool);
    if (!lane) this.lanes.set(pool, (lane = { queue: [], inFlight: 0, scheduled: false }));
    const l = lane;
    return new Promise((resolve, reject) => {
      l.queue.push({ id, tokenHash, resolve, reject });
      this.schedule(pool, l);
    });
  }

  /** After the I/O of this turn: every heartbeat read in it joins the batch. */
  private schedule(pool: pg.Pool, lane: Lane): void {
    if (lane.scheduled || lane.inFlight >= this.maxInFlight || lane.queue.length === 0) return;
    lane.scheduled = true;
    setImmediate(() => {
      lane.scheduled = false;
      while (lane.inFlight < this.maxInFlight && lane.queue.length > 0) {
        const batch = lane.queue.splice(0, this.maxBatch);
        lane.inFlight++;
        void this.run(pool, batch).finally(() => {
          lane.inFlight--;
          this.schedule(pool, lane);
        });
      }
    });
  }

  private async run(pool: pg.Pool, batch: Waiting[]): Promise<void> {
    try {
      const result = await this.statement(pool, batch);
      const alone: Waiting[] = [];
      for (const w of batch) {
        const order = result.live.get(heartbeatKey(w.id, w.tokenHash));
        if (order) w.resolve({ now: result.now, window: result.window, ...order });
        // skipped (its row was locked) or not live: asked again alone, which waits for the lock
        else if (batch.length > 1) alone.push(w);
        else w.resolve(undefined);
      }
      await Promise.all(alone.map((w) => this.run(pool, [w])));
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }

  private async statement(pool: pg.Pool, batch: Waiting[]): ReturnType<typeof heartbeatSessions> {
    this.stats.statements++;
    this.stats.calls += batch.length;
    const skipLocked = batch.length > 1;
    try {
      return await heartbeatSessions(pool, batch, this.timeoutSeconds, CLOSE_ACK_SECONDS, { skipLocked });
    } catch (err) {
      if (!RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
      this.stats.retries++;
      return heartbeatSessions(pool, batch, this.timeoutSeconds, CLOSE_ACK_SECONDS, { skipLocked });
    }
  }
}

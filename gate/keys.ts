import crypto from 'node:crypto';
import type pg from 'pg';
import type { TargetPools } from '../workers/resources';
import { createKey } from '../store/gate/create-key';
import type { GateKey } from '../store/gate/key-row';
import { markKeysUsed } from '../store/gate/mark-keys-used';
import { readKeyHashes } from '../store/gate/read-key-hashes';

/**
 * API keys of the business application (R-SE-4). A key belongs to one target (its row lives in that
 * target's database) and names one application instance. The secret is `nsk_` + 32 random bytes in
 * base64url: only its SHA-256 is stored, and only its first characters (the prefix) are ever shown again.
 */

/** The request header that carries the key; Authorization stays the end-user's session token. */
export const KEY_HEADER = 'x-nightshift-key';

const SECRET = /^nsk_[A-Za-z0-9_-]{43}$/;
export const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,59}$/;
const PREFIX_LENGTH = 12;

export function hashSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Creates a key of the pool's target; the secret is returned here once and never again. */
export async function issueKey(pool: pg.Pool, name: string): Promise<{ key: GateKey; secret: string }> {
  if (!KEY_NAME.test(name)) throw new Error('a key name has 1-60 letters, digits, spaces, dots, _ or -, starting with a letter or digit');
  const secret = `nsk_${crypto.randomBytes(32).toString('base64url')}`;
  const key = await createKey(pool, { id: crypto.randomUUID(), name, prefix: secret.slice(0, PREFIX_LENGTH), secretHash: hashSecret(secret) });
  return { key, secret };
}

export type KeyCheck =
  | { ok: true; target: string; keyId: string }
  | { ok: false; outcome: 'missing' | 'malformed' | 'unknown' | 'revoked' | 'unverifiable'; keyId?: string; target?: string };

interface Entry {
  target: string;
  keyId: string;
  revoked: boolean;
}

/** Requests an unknown key may hold waiting for a fresh read of the keys, in all (KeyRing). */
export const MAX_PARKED_FOR_KEYS = 16;

/**
 * Every target's key hashes in memory, re-read every refreshMs (and at most once a second on a miss, so
 * that a key created a moment ago works at once while a flood of wrong keys costs one read a second; at most
 * MAX_PARKED_FOR_KEYS requests wait so, the others are refused at once).
 * A revocation therefore takes effect within refreshMs. Uses are recorded per key and written as
 * last_used_at at each refresh, not per request.
 */
export class KeyRing {
  private entries = new Map<string, Entry>();
  private used = new Map<string, Set<string>>();
  private loading: Promise<void> | undefined;
  private lastLoad = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  /** requests waiting for a fresh read of the keys (an unknown key) */
  private parked = 0;
  /** targets whose keys the latest read could not read (their database did not answer) */
  private unread = new Set<string>();

  constructor(
    private readonly targets: readonly string[],
    private readonly pools: TargetPools,
    private readonly refreshMs: number,
    private readonly onError: (err: unknown, target: string) => void = () => {},
    private readonly missRefreshMs = Math.min(1000, refreshMs),
    /**
     * at most this many requests wait for a fresh read at once; past it an unknown key is refused at once (drill G: a
     * flood of random keys, each held ~1 s, filled the gate's connection cap and locked the application out)
     */
    private readonly maxParked = MAX_PARKED_FOR_KEYS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.refresh(), this.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.loading?.catch(() => undefined);
    await this.flushUses();
  }

  /** Reads every target's keys (one read at a time; a target that fails keeps its previous keys). */
  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    this.lastLoad = performance.now();
    const next = new Map<string, Entry>();
    for (const [hash, e] of this.entries) next.set(hash, e);
    const unread = new Set<string>();
    for (const target of this.targets) {
      try {
        const rows = await readKeyHashes(this.pools.get(target));
        for (const [hash, e] of next) if (e.target === target) next.delete(hash);
        for (const r of rows) next.set(r.secretHash, { target, keyId: r.id, revoked: r.revoked });
      } catch (err) {
        unread.add(target);
        // once per outage: a read is tried at most every second while callers wait (drill, session 38: 49 lines a minute)
        if (!this.unread.has(target)) this.onError(err, target);
      }
    }
    this.entries = next;
    this.unread = unread;
    await this.flushUses();
  }

  private async flushUses(): Promise<void> {
    const used = this.used;
    this.used = new Map();
    for (const [target, ids] of used) {
      try {
        await markKeysUsed(this.pools.get(target), [...ids]);
      } catch (err) {
        this.onError(err, target);
      }
    }
  }

  private lookup(secret: string): KeyCheck | undefined {
    const e = this.entries.get(hashSecret(secret));
    if (!e) return undefined;
    if (e.revoked) return { ok: false, outcome: 'revoked', keyId: e.keyId, target: e.target };
    let ids = this.used.get(e.target);
    if (!ids) this.used.set(e.target, (ids = new Set()));
    ids.add(e.keyId);
    return { ok: true, target: e.target, keyId: e.keyId };
  }

  /** The key of a request header value: which target and key it is, or why it is refused. */
  async check(header: string | string[] | undefined): Promise<KeyCheck> {
    if (header === undefined || header === '') return { ok: false, outcome: 'missing' };
    if (typeof header !== 'string' || !SECRET.test(header)) return { ok: false, outcome: 'malformed' };
    const hit = this.lookup(header);
    if (hit) return hit;
    if (this.parked >= this.maxParked) return { ok: false, outcome: 'unknown' };
    this.parked++;
    try {
      await this.loadStartedAfter(performance.now());
    } finally {
      this.parked--;
    }
    // a key not found while a target's keys could not be read may be one of that target's (a gate started, or a key
    // issued, while its database was down): it cannot be said unknown, 503 rather than 401 (the caller retries)
    return this.lookup(header) ?? (this.unread.size > 0 ? { ok: false, outcome: 'unverifiable' } : { ok: false, outcome: 'unknown' });
  }

  /**
   * Waits for a read of the keys that started at or after `since` (a key created before the request is
   * then seen), starting one at most every missRefreshMs: unknown keys wait up to that long, and a flood of
   * them costs one read per interval.
   */
  private async loadStartedAfter(since: number): Promise<void> {
    while (this.lastLoad < since) {
      if (this.loading) {
        await this.loading;
        continue;
      }
      const wait = this.lastLoad + this.missRefreshMs - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      else await this.refresh();
    }
    await this.loading;
  }
}

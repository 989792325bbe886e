import type { Queryable } from '../queryable';

export interface RestoreItem {
  status: string;
  runState: string;
  at: Date;
  kind: string | null;
  replace: boolean;
  source: 'auto' | 'local' | 'offsite';
}

/** One dossier of a restore run with what its run asks (the instant, the kind, replace, the source); undefined: no such item. */
export async function restoreItem(db: Queryable, runId: number, code: string): Promise<RestoreItem | undefined> {
  const { rows } = await db.query<{ status: string; state: string; restore_at: Date; kind: string | null; replace: boolean; source: RestoreItem['source'] }>(
    `SELECT i.status, r.state, r.restore_at, r.kind, r.replace, r.source
       FROM nightshift.restore_run_item i JOIN nightshift.restore_run r ON r.id = i.run_id WHERE i.run_id = $1 AND i.code = $2`,
    [runId, code],
  );
  const r = rows[0];
  return r && { status: r.status, runState: r.state, at: r.restore_at, kind: r.kind, replace: r.replace, source: r.source };
}

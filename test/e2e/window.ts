import type pg from 'pg';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { maintenanceWindowInputSchema } from '../../domain/maintenance-input';
import { startMaintenanceWindow } from '../../starts';
import { sessions } from '../workflows/maintenance-helpers';
import type { MaintenanceWindowInput, MaintenanceWindowResult } from '../../workflows/maintenance-window.api';

/** Scheduling a window as `nightshift maintenance schedule` does, and reading what it did to the sessions. */

export type MaintenanceHandle = WorkflowHandle<(input: MaintenanceWindowInput) => Promise<MaintenanceWindowResult>>;

export interface WindowPlan {
  target: string;
  startMs: number;
  endMs: number;
  graceSeconds: number;
  notify?: string[];
  timeZone: string;
}

export function windowInputFor(p: WindowPlan): MaintenanceWindowInput {
  const input: MaintenanceWindowInput = {
    target: p.target,
    type: 'database',
    startsAt: new Date(p.startMs).toISOString(),
    endsAt: new Date(p.endMs).toISOString(),
    payload: { kind: 'none' },
    graceSeconds: p.graceSeconds,
    startWhenDrained: false,
    dbDrain: false,
    notify: p.notify ?? [],
    displayTimeZone: p.timeZone,
  };
  const parsed = maintenanceWindowInputSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid window input: ${parsed.error.message}`);
  return input;
}

/** Same start options and search attributes as the CLI. */
export async function scheduleWindow(client: Client, taskQueue: string, input: MaintenanceWindowInput): Promise<MaintenanceHandle> {
  return (await startMaintenanceWindow(client, input, { taskQueue, summary: `maintenance ${input.type} on ${input.target} (e2e)` })) as MaintenanceHandle;
}

export type { SessionRow } from '../workflows/maintenance-helpers';

/** Every session row keyed by id. */
export const sessionRows = (pool: pg.Pool) => sessions(pool, 'id');

export async function windowRow(pool: pg.Pool): Promise<{ state: string; phase: string; finished_at: Date | null }> {
  const r = await pool.query<{ state: string; phase: string; finished_at: Date | null }>(
    'SELECT state, phase, finished_at FROM nightshift.maintenance_window ORDER BY created_at DESC LIMIT 1',
  );
  if (!r.rows[0]) throw new Error('no maintenance window row');
  return r.rows[0];
}

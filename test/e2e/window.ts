import type pg from 'pg';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { maintenanceWindowInputSchema } from '../../domain/maintenance-input';
import { NightshiftKind, NightshiftPhase, NightshiftTarget } from '../../workflows/search-attributes';
import { sessions } from '../workflows/maintenance-helpers';
import {
  MAINTENANCE_WORKFLOW_TYPE,
  maintenanceStartOptions,
  type MaintenanceWindowInput,
  type MaintenanceWindowResult,
} from '../../workflows/maintenance-window.api';

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
  return (await client.workflow.start(MAINTENANCE_WORKFLOW_TYPE, {
    ...maintenanceStartOptions(input, taskQueue, `maintenance ${input.type} on ${input.target} (e2e)`),
    typedSearchAttributes: new TypedSearchAttributes([
      { key: NightshiftTarget, value: input.target },
      { key: NightshiftKind, value: 'maintenance' },
      { key: NightshiftPhase, value: 'scheduled' },
    ]),
  })) as MaintenanceHandle;
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

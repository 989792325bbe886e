import * as wf from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { NightshiftActivities } from '../workers/activities';

/**
 * `call(name, summary, options, ...args)`: an activity with a summary shown in the Temporal UI. The
 * options are deep-merged over `base` (the SDK's executeWithOptions), so each workflow keeps its own base.
 */
export function activityCaller(base: ActivityOptions) {
  const acts = wf.proxyActivities<NightshiftActivities>(base);
  return function call<K extends keyof typeof acts>(name: K, summary: string, options: ActivityOptions, ...args: Parameters<NightshiftActivities[K]>) {
    return (acts[name] as unknown as { executeWithOptions(o: ActivityOptions, a: unknown[]): Promise<Awaited<ReturnType<NightshiftActivities[K]>>> }).executeWithOptions(
      { ...options, summary },
      args,
    );
  };
}

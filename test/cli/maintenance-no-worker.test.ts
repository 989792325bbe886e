import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { registerMaintenanceCommands } from '../../cli/commands/maintenance';
import { NoAnswer, windowCalls } from '../../cli/window-calls';
import { startMaintenanceWindow } from '../../starts';
import { cancelMaintenanceUpdate, maintenanceStatusQuery } from '../../workflows/maintenance-window.api';
import { maintenanceStack, quietRuntime, requireEnv, uniqueName, windowInput, windowRows, windowCliEnv, windowWorker, type MaintenanceStack } from '../workflows/maintenance-helpers';
import { inProcessCli } from '../helpers/cli';

/**
 * The window's commands with no worker to answer them (the tester's drills of bug 1 and 2): refused within seconds,
 * nothing sent, saying what stands and what to do; a window `schedule` withdrew does not block the next one.
 */

jest.setTimeout(120_000);

let stack: MaintenanceStack;
let connection: Connection;
let client: Client;
const cli = inProcessCli(registerMaintenanceCommands, 'maintenance');

beforeAll(async () => {
  quietRuntime();
  stack = await maintenanceStack({ TEMPORAL_ADDRESS: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  Object.assign(process.env, windowCliEnv(stack));
  connection = await Connection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await stack?.close();
});

const workflowId = () => `maintenance/${stack.target}`;
const t = () => ['--target', stack.target];
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

/** A window's workflow on a task queue no worker ever polled (`pickupWithinSeconds`: as `schedule` starts one). */
async function windowOnDeadQueue(queue: string, pickupWithinSeconds?: number) {
  const input = { ...windowInput(stack.target, Date.now(), { inMinutes: 180, minutes: 60 }), ...(pickupWithinSeconds !== undefined && { pickupWithinSeconds }) };
  return startMaintenanceWindow(client, input, { taskQueue: queue });
}

async function timed<T>(run: () => Promise<T>): Promise<T & { ms: number }> {
  const at = Date.now();
  const r = await run();
  return { ...r, ms: Date.now() - at };
}

const commands: [string[], string][] = [
  [['cancel'], 'cancelled'],
  [['extend', '--by', '30m'], 'extended'],
  [['complete'], 'completed'],
  [['reopen'], 'reopened'],
  [['edit', '--message', 'later'], 'edited'],
];

test('bug 1: with no worker polling the window\'s task queue, cancel, extend, complete, reopen and edit refuse at once, send nothing, say what stands and what to do (exit 1)', async () => {
  const queue = uniqueName('drill-q');
  const handle = await windowOnDeadQueue(queue);
  try {
    for (const [args, verb] of commands) {
      const r = await timed(() => cli(...args, ...t()));
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.ms).toBeLessThan(5_000);
      expect(r.stderr).toContain(`no worker polls task queue ${queue}, which the window's workflow ${workflowId()} runs on: nothing sent, the window is not ${verb}. `);
      expect(r.stderr).toContain(`Start a worker on that queue (\`nightshift worker\` or \`npm run dev\`, with TEMPORAL_TASK_QUEUE=${queue}), then run 'nightshift maintenance ${args[0]} --target ${stack.target}' again`);
    }
    // the shared helper's own bounds: an Update no worker accepts, a query no worker answers
    const calls = windowCalls(client, client.workflow.getHandle(workflowId()), { acceptMs: 1_500, queryMs: 1_000 });
    const update = await timed(() => calls.update(cancelMaintenanceUpdate).then(() => ({ error: undefined }), (error: unknown) => ({ error })));
    expect(update.error).toBeInstanceOf(NoAnswer);
    expect(update.error).toMatchObject({ sent: true });
    expect(update.ms).toBeLessThan(5_000);
    await expect(calls.status()).rejects.toMatchObject({ sent: false });
  } finally {
    await handle.terminate('test over');
  }
});

test('bug 1, the tester\'s drill: the worker stopped a moment ago (still listed): cancel says within seconds that no worker answered, sends nothing; a worker back finds the window scheduled', async () => {
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  try {
    const scheduled = await windowWorker(native, stack).then((w) => w.runUntil(cli('schedule', ...t(), '--start', later(180), '--duration', '1h', '--type', 'database')));
    expect(scheduled.code).toBe(0);
    const r = await timed(() => cli('cancel', ...t()));
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toMatch(
      new RegExp(
        `no worker answered the window's workflow ${workflowId()} within 5 s \\(task queue ${stack.config.temporal.taskQueue}, workers listed: .*\\): nothing sent, the window is not cancelled\\. ` +
          'the window stands: the gate refuses logins from \\d\\d/\\d\\d/\\d{4} \\d\\d:\\d\\d as scheduled',
      ),
    );
    // a cancel sent would be taken by the next worker: none was
    await windowWorker(native, stack).then((w) =>
      w.runUntil(async () => {
        const handle = client.workflow.getHandle(workflowId());
        await new Promise((res) => setTimeout(res, 2_000));
        expect(await handle.query(maintenanceStatusQuery)).toMatchObject({ state: 'scheduled' });
        expect((await windowRows(stack.pool)).at(-1)).toMatchObject({ state: 'scheduled' });
        expect((await cli('cancel', ...t())).code).toBe(0);
      }),
    );
  } finally {
    await native.close();
  }
});

test('bug 2: a window withdrawn at scheduling whose workflow still waits: extend names it; schedule replaces it at once; cancel ends it', async () => {
  const queue = uniqueName('drill-none');
  const first = await windowOnDeadQueue(queue, 1);
  await new Promise((res) => setTimeout(res, 1_500));
  const status = await cli('status', ...t());
  expect(status.stdout).toContain('no scheduled or in-progress maintenance window');
  const extend = await cli('extend', ...t(), '--by', '30m');
  expect(extend.code).toBe(1);
  expect(extend.stderr).toContain(`${workflowId()} is a window withdrawn when it was scheduled (no worker picked it up: nothing was done); 'nightshift maintenance cancel --target ${stack.target}' ends it`);

  // schedule on the right queue: the withdrawn one ended (terminated, the reason saying why), this one started
  const native = await NativeConnection.connect({ address: requireEnv('NS_TEST_TEMPORAL_ADDRESS') });
  try {
    await windowWorker(native, stack).then((w) =>
      w.runUntil(async () => {
        const r = await cli('schedule', ...t(), '--start', later(180), '--duration', '1h', '--type', 'database');
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
        expect(r.stdout).toMatch(/^scheduled: /);
        expect((await client.workflow.getHandle(workflowId(), first.firstExecutionRunId).describe()).status.name).toBe('TERMINATED');
        const ended = (await client.workflow.getHandle(workflowId(), first.firstExecutionRunId).fetchHistory()).events?.at(-1);
        expect(ended?.workflowExecutionTerminatedEventAttributes?.reason).toMatch(/^withdrawn: no worker picked this window up within 1 s of its scheduling .*ended by a new 'nightshift maintenance schedule'$/);
        expect((await cli('cancel', ...t())).code).toBe(0);
      }),
    );
  } finally {
    await native.close();
  }

  // cancel ends one too, with no worker at all
  const second = await windowOnDeadQueue(queue, 1);
  await new Promise((res) => setTimeout(res, 1_500));
  const cancelled = await cli('cancel', ...t());
  expect(cancelled).toMatchObject({ code: 0, stdout: `cancelled: ${workflowId()}, a window withdrawn when it was scheduled (no worker picked it up: nothing was done), is ended\n` });
  expect((await second.describe()).status.name).toBe('TERMINATED');
});

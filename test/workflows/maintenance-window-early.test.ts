import { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import { gateStateAt } from '../../domain/maintenance';
import { createActivities } from '../../workers/activities';
import { createRegistryActivities } from '../../activities/registry';
import { ALL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { startMaintenanceWindow } from '../../starts';
import {
  cancelMaintenanceUpdate,
  completeMaintenanceUpdate,
  maintenanceStatusQuery,
  type MaintenancePhase,
  type MaintenanceWindowInput,
  type MaintenanceWindowResult,
} from '../../workflows/maintenance-window.api';
import { freePort } from '../helpers/net';
import { startSmtp as startLateSmtp } from './backup-batch-helpers';
import { statusText } from '../../cli/commands/maintenance';
import { bodyOf, eventually, insertSession, maintenanceStack, onlyWindow, quietRuntime, requireEnv, sessions, startSmtp, subjectOf, windowInput, workflowBundle, type MaintenanceStack } from './maintenance-helpers';

/**
 * Tester A's findings on the window's end (time-skipping server, real activities, database and SMTP): a `complete`
 * said while the sessions are being closed (R-MW-7), a failed window then cancelled (R-MW-12 after R-MW-10), and a
 * planned end passed during the session drain (the overrun).
 */

jest.setTimeout(120_000);

let env: TestWorkflowEnvironment;
let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  quietRuntime();
  smtp = await startSmtp();
});
afterAll(async () => {
  await smtp?.close();
});

type Handle = WorkflowHandle<(input: MaintenanceWindowInput) => Promise<MaintenanceWindowResult>>;

/** A time-skipping server, one stack and one worker of its own for `fn` (a payload's real seconds skip at once on a fresh server). */
async function withWindowWorker(fn: (s: MaintenanceStack, start: (input: MaintenanceWindowInput) => Promise<Handle>) => Promise<void>, smtpPort = smtp.port): Promise<void> {
  env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: requireEnv('NS_TEST_TEMPORAL_TEST_SERVER') } } });
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(ALL_SEARCH_ATTRIBUTES.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!])),
  });
  const stack = await maintenanceStack({ NIGHTSHIFT_SMTP_PORT: String(smtpPort) });
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: stack.config.temporal.taskQueue,
    workflowBundle: workflowBundle(),
    activities: createActivities({ config: stack.config, pools: stack.pools, mail: stack.mail }),
  });
  const handles: Handle[] = [];
  const start = async (input: MaintenanceWindowInput) => {
    const h = (await startMaintenanceWindow(env.client, input, { taskQueue: stack.config.temporal.taskQueue, summary: 'test window', searchAttributes: false })) as Handle;
    handles.push(h);
    return h;
  };
  try {
    await worker.runUntil(fn(stack, start));
  } finally {
    for (const h of handles) await h.terminate('test over').catch(() => {});
    await stack.close();
    await env.teardown();
  }
}

const status = (h: Handle) => h.query(maintenanceStatusQuery);
const details = async (h: WorkflowHandle) => (await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails ?? '';
const phaseIs = (h: Handle, ...phases: MaintenancePhase[]) => eventually(() => status(h), (s) => phases.includes(s.phase), `phase ${phases.join('|')}`);
const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address));
/** A window of work by hand (payload none) mailing `to`, started a minute on, whose work is said complete once it runs. */
async function completedWork(stack: MaintenanceStack, start: (input: MaintenanceWindowInput) => Promise<Handle>, to: string): Promise<Handle> {
  const input = windowInput(stack.target, await env.currentTimeMs(), { inMinutes: 1, graceSeconds: 0, notify: [to] });
  const h = await start(input);
  await phaseIs(h, 'scheduled');
  await env.sleep(Date.parse(input.startsAt) - (await env.currentTimeMs()) + 500);
  await phaseIs(h, 'working');
  await h.executeUpdate(completeMaintenanceUpdate);
  return h;
}
const rowOutcome = async (stack: MaintenanceStack) => (await stack.pool.query<{ state: string; outcome: string | null }>('SELECT state, outcome FROM nightshift.maintenance_window')).rows[0]!;

// tester A bug 3: the session was closed by force at once ("1 forced"), its heartbeats got 404 before its closeBy
test('R-MW-7: "complete" said while the sessions are being closed gives access back as a cancel does: close orders withdrawn, nobody forced; the status, list, details and mail say it was completed early', async () => {
  await withWindowWorker(async (stack, start) => {
    await insertSession(stack.pool, 'frank');
    const to = 'ops-early@example.com';
    const input = windowInput(stack.target, await env.currentTimeMs(), { inMinutes: 1, minutes: 10, graceSeconds: 120, notify: [to] });
    const h = await start(input);
    await phaseIs(h, 'scheduled');
    await env.sleep(Date.parse(input.startsAt) - (await env.currentTimeMs()) + 500);
    await phaseIs(h, 'closing_sessions');
    expect((await sessions(stack.pool)).get('frank')!.close_by).not.toBeNull();
    const answered = await h.executeUpdate(completeMaintenanceUpdate);
    expect(answered.state).toBe('completed');
    const result = await h.result();
    expect(result.status).toMatchObject({ state: 'completed', completedEarly: true, forcedSessions: 0 });
    expect(result.status.phases.map((p) => p.phase)).not.toContain('working');
    expect(result.status.phases.map((p) => p.phase)).not.toContain('checking');
    // the session told to close goes back to normal (its next heartbeat says continue), never forced
    expect((await sessions(stack.pool)).get('frank')).toMatchObject({ closed_at: null, close_requested_at: null, close_by: null });
    expect(gateStateAt(await onlyWindow(stack.pool), new Date())).toBe('open');
    expect(await rowOutcome(stack)).toEqual({ state: 'completed', outcome: 'completed early, before its work began: close orders withdrawn, no session closed by force' });
    expect(await details(h)).toContain('Completed early, before its work began: close orders withdrawn, no session closed by force');
    await eventually(async () => mailsTo(to).length, (n) => n === 1, 'the completion mail');
    const body = bodyOf(mailsTo(to)[0]!.raw);
    expect(subjectOf(mailsTo(to)[0]!.raw)).toContain('Maintenance terminée');
    expect(body).toContain("Terminée avant le début des travaux (nightshift maintenance complete pendant la fermeture des sessions) : aucune session n'a été fermée de force");
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await h.fetchHistory(), h.workflowId);
  });
});

// tester A bug 2: the mail said « a été interrompue » (payload none) and never named the failure
test('R-MW-12 after R-MW-10: a window failed at its post-checks, then cancelled, mails "annulée après un échec" with the failure, as status and list say "cancelled after a failure"', async () => {
  await withWindowWorker(async (stack, start) => {
    await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('BROKEN', 'Broken', 'd_broken')`);
    const to = 'ops-fail-cancel@example.com';
    const h = await completedWork(stack, start, to);
    await phaseIs(h, 'failed');
    await eventually(async () => mailsTo(to).length, (n) => n === 1, 'the failure alert');
    await h.executeUpdate(cancelMaintenanceUpdate);
    await h.result();
    expect(await rowOutcome(stack)).toEqual({ state: 'cancelled', outcome: 'cancelled after a failure: post-checks: dossier BROKEN: schema d_broken is missing' });
    await eventually(async () => mailsTo(to).length, (n) => n === 2, 'the cancel mail');
    const raw = mailsTo(to)[1]!.raw;
    expect(subjectOf(raw)).toContain('Maintenance annulée après un échec');
    const body = bodyOf(raw);
    expect(body).toContain('La maintenance de la base de données a été annulée après un échec : post-checks: dossier BROKEN: schema d_broken is missing.');
    expect(body).toContain("L'accès est rendu sans que cet échec soit résolu");
    expect(body).toContain('est à nouveau disponible depuis');
    expect(body).not.toContain('interrompue');
  });
});

// tester A bug 5: mailed at the payload's start, without its line, `at` the payload's start, "while the payload ran"
test('R-MW-10 overrun: the planned end passing while the sessions are being closed is mailed then, at the planned end, saying the sessions were being closed', async () => {
  await withWindowWorker(async (stack, start) => {
    const registry = createRegistryActivities({ config: stack.config, pools: stack.pools });
    await registry.createDossier(stack.target, { code: 'K1', label: 'Dossier K1', copyStatus: 'original', flags: { test: false, specific: false, template: false, transferable: true } });
    await insertSession(stack.pool, 'frank');
    const to = 'ops-over-drain@example.com';
    // 5 s long, no grace: the open session's 15 s to acknowledge outlast the planned end
    const input = windowInput(stack.target, await env.currentTimeMs(), { inMinutes: 1, minutes: 5 / 60, graceSeconds: 0, payload: { kind: 'backup', dossiers: ['K1'] }, notify: [to] });
    const h = await start(input);
    await phaseIs(h, 'scheduled');
    await env.sleep(Date.parse(input.startsAt) - (await env.currentTimeMs()) + 500);
    const result = await h.result();
    expect(result.status.state).toBe('completed');
    expect(result.status.overrun).toEqual({ at: input.endsAt, mailed: true, during: 'closing_sessions' });
    // mailed before the payload started (not at its start)
    const events = (await h.fetchHistory()).events ?? [];
    const mailAt = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'sendMaintenanceMail');
    const childAt = events.findIndex((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
    expect(mailAt).toBeGreaterThan(0);
    expect(mailAt).toBeLessThan(childAt);
    expect(await details(h)).toMatch(/Overran its planned end \(.*\) while its sessions were being closed; --notify told/);
    await eventually(async () => mailsTo(to).length, (n) => n === 2, 'the overrun and completion mails');
    const [over] = mailsTo(to);
    expect(subjectOf(over!.raw)).toContain('Maintenance en dépassement');
    expect(bodyOf(over!.raw)).toMatch(/dépasse sa fin prévue du .* : la fermeture des sessions des utilisateurs est toujours en cours ; le traitement \(sauvegarde\) n'a pas encore commencé\./);
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, await h.fetchHistory(), h.workflowId);
  });
});

// drill K2 bug 3: the SMTP server away for a minute, the completion mail was dropped, and nothing said so
test('R-MW-10: a --notify mail the window cannot send in its own attempts is handed to a workflow of its own that retries it; status and details name it; the mail arrives once the SMTP server is back', async () => {
  const port = await freePort();
  await withWindowWorker(async (stack, start) => {
    const to = 'ops-smtp-away@example.com';
    const h = await completedWork(stack, start, to);
    const result = await h.result();
    expect(result).toMatchObject({ mailSent: false, status: { state: 'completed' } });
    const [retrying] = result.status.mailsRetrying!;
    expect(retrying).toMatchObject({ kind: 'completed', workflowId: expect.stringMatching(new RegExp(`^${h.workflowId}/mail/completed-1/`)) as string });
    expect(retrying!.error).toMatch(/ECONNREFUSED/);
    expect(statusText(result.status)).toContain(`  the completed mail was not sent (${retrying!.error}): retried for up to a day by workflow ${retrying!.workflowId}`);
    expect(await details(h)).toContain('**Mail not sent**: the completed mail was not sent');
    // the SMTP server back: the mail workflow delivers it, once
    const late = await startLateSmtp(port);
    try {
      const mail = env.client.workflow.getHandle(retrying!.workflowId);
      expect(await mail.result()).toEqual({ sent: true });
      expect(late.received.filter((m) => m.to.includes(to))).toHaveLength(1);
    } finally {
      await late.close();
    }
  }, port);
});

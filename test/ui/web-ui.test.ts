import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { BrowserContext, Page } from 'playwright-core';
import { DOSSIER_IN_USE_MESSAGE, failureTypeOf } from '../../domain/failures';
import { escapeMarkdown } from '../../domain/run-details';
import type { BackupBatchResult } from '../../workflows/backup-batch.api';
import { maintenanceStatusQuery, type MaintenanceStatus } from '../../workflows/maintenance-window.api';
import { createTestStack, createTestWorker, type TestStack } from '../helpers/env';
import { runCli, type CliResult } from '../helpers/cli';
import { openSession } from '../workflows/backup-batch-helpers';
import { describeWithBrowser, keepScreenshot, openBrowser, startDevServerWithUi, workflowListUrl, workflowPageUrl, type UiServer } from './helpers/web-ui';
import { listStatus, markdownFrame, readMarkdown, readUntil, resultBoxText, workflowStatus } from './helpers/pages';

/**
 * Issue 12: what an operator reads in the Temporal Web UI, in a real browser (Debian's chromium through
 * playwright-core) on the dev server's own UI. The night is made through the CLI, as an operator makes
 * it: demo dossiers, a backup batch in which one dossier is in use (R-BK-3), then a maintenance window
 * held in its drain (R-MW-7, R-MW-8). Every page is kept as a screenshot under test-artifacts/ui/;
 * NIGHTSHIFT_UPDATE_DOCS_SCREENSHOTS=1 also refreshes docs/web-ui-list.png and docs/web-ui-batch.png.
 */

jest.setTimeout(120_000);

const TARGET = 'main';
/** The demo generator is deterministic: of DEMO0001..6, the batch selects 0001, 0003, 0005 and 0006 (0002 template, 0004 test). */
const IN_USE = 'DEMO0005';

interface Outcome {
  type?: string;
  result: BackupBatchResult;
}

/** The batch's end: its result, or (a run with failed dossiers fails, issue 12.3) the result its typed failure carries. */
async function outcomeOf(handle: WorkflowHandle): Promise<Outcome> {
  try {
    return { result: (await handle.result()) as BackupBatchResult };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    const cause = err.cause as { details?: unknown[] } | undefined;
    const result = cause?.details?.[0] as BackupBatchResult | undefined;
    if (!result) throw err;
    return { type: failureTypeOf(err), result };
  }
}

function json<T>(r: CliResult, what: string): T {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

describeWithBrowser('watching the night in the Web UI (issue 12)', () => {
  let ui: UiServer;
  let stack: TestStack;
  let connection: Connection;
  let native: NativeConnection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  let browser: BrowserContext;
  let page: Page;
  let batch: { workflowId: string; runId: string; outcome: Outcome };
  /** DEMO0005's user logs out */
  let leave: () => Promise<void>;
  let window: { workflowId: string; runId: string };

  const cli = (args: string[]) =>
    runCli(args, {
      ...process.env,
      TEMPORAL_ADDRESS: ui.address,
      TEMPORAL_TASK_QUEUE: stack.config.temporal.taskQueue,
      DATABASE_URL: stack.databaseUrl,
      NIGHTSHIFT_DATA_DIR: stack.dataDir,
    });

  beforeAll(async () => {
    ui = await startDevServerWithUi();
    stack = await createTestStack({ TEMPORAL_ADDRESS: ui.address });
    connection = await Connection.connect({ address: ui.address });
    native = await NativeConnection.connect({ address: ui.address });
    client = new Client({ connection });
    worker = await createTestWorker(stack, native);
    running = worker.run();
    const browserReady = openBrowser();

    json(await cli(['dossiers', 'demo', '--count', '6', '--size-kb', '5', '--json']), 'dossiers demo');
    // a user holds DEMO0005 open: the batch skips it (R-BK-3); the window will then have a session to close (R-MW-7)
    leave = await openSession(stack.pools.get(TARGET), IN_USE);
    const started = json<{ workflowId: string; runId: string }>(await cli(['backup', 'run', '--target', TARGET, '--json']), 'backup run');
    batch = { ...started, outcome: await outcomeOf(client.workflow.getHandle(started.workflowId, started.runId)) };

    const scheduled = json<MaintenanceStatus>(
      await cli(['maintenance', 'schedule', '--target', TARGET, '--type', 'database', '--start', 'now', '--duration', '30m', '--grace', '10m', '-y', '--json']),
      'maintenance schedule',
    );
    window = { workflowId: scheduled.workflowId, runId: (await client.workflow.getHandle(scheduled.workflowId).describe()).runId };

    browser = await browserReady;
    page = await browser.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    if (window) await client.workflow.getHandle(window.workflowId).terminate('test over').catch(() => undefined);
    worker?.shutdown();
    await running;
    await connection?.close();
    await native?.close();
    await stack?.close();
    await ui?.stop();
  });

  test('the setup: the batch ends partial, DEMO0005 in use, and fails with BackupBatchPartial carrying its result (issue 12.3, R-BK-3)', () => {
    expect(batch.outcome.result).toMatchObject({ target: TARGET, state: 'partial', total: 4, ok: 3, failed: 1 });
    expect(batch.outcome.type).toBe('BackupBatchPartial');
  });

  test('the batch page: Failed, the dossier as `CODE: reason` and the copyable retry command in its current details (R-BK-3)', async () => {
    await page.goto(workflowPageUrl(ui.uiUrl, batch.workflowId, batch.runId));
    const status = await workflowStatus(page, batch.workflowId);
    const failure = await readUntil(page, 'the failure box with its type', () => resultBoxText(page), (t) => t.includes('BackupBatchPartial'));
    await keepScreenshot(page, 'batch-history');
    expect(status).toMatch(/^failed$/i);
    // the failure box names its type and the dossier (the failure carries the result: failures [{code, status, error}])
    expect(failure).toContain('BackupBatchPartial');
    expect(failure).toContain(IN_USE);

    await page.goto(workflowPageUrl(ui.uiUrl, batch.workflowId, batch.runId, 'user-metadata'));
    const details = await readMarkdown(markdownFrame(page, 'current-details'));
    const summary = await readMarkdown(markdownFrame(page, 'summary'));
    await keepScreenshot(page, 'batch', 'web-ui-batch');
    // a line `- CODE: reason`, the reason being the seed's own text (R-BK-3); the next step a code
    // span, copied as it reads (`--` never turned into a dash, no curly quote)
    expect(details).toMatchObject({
      lines: expect.arrayContaining([`${IN_USE}: ${DOSSIER_IN_USE_MESSAGE}`]),
      code: expect.arrayContaining([`nightshift backup retry --target ${TARGET} --run ${batch.outcome.result.runId}`]),
    });
    expect(details.text).not.toMatch(/[–—]target|[“”]/);
    expect(summary.text).toContain(TARGET);
  });

  test('the window held in its drain: Running, phase draining in its current details, a summary that tells it apart (R-MW-7, R-MW-8)', async () => {
    const h = client.workflow.getHandle(window.workflowId);
    const deadline = Date.now() + 40_000;
    while ((await h.query(maintenanceStatusQuery)).phase !== 'draining') {
      if (Date.now() > deadline) throw new Error(`the window never reached draining: ${JSON.stringify(await h.query(maintenanceStatusQuery))}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.goto(workflowPageUrl(ui.uiUrl, window.workflowId, window.runId));
    const status = await workflowStatus(page, window.workflowId);
    await keepScreenshot(page, 'window-history');
    expect(status).toMatch(/^running$/i);

    await page.goto(workflowPageUrl(ui.uiUrl, window.workflowId, window.runId, 'user-metadata'));
    // the phase reached, as the UI shows it once it asks the workflow again (a reload)
    const details = await readUntil(page, 'the window in its drain phase', () => readMarkdown(markdownFrame(page, 'current-details')), (d) => /phase\s+draining/i.test(d.text));
    const summary = await readMarkdown(markdownFrame(page, 'summary'));
    await keepScreenshot(page, 'window');
    expect(details.text).toContain(TARGET);
    // the next step is a command in a code span, for this target
    expect(details.code.find((c) => c.startsWith('nightshift maintenance '))).toMatch(new RegExp(`--target ${TARGET}\\b`));
    expect(summary.text).toContain(TARGET);
    expect(summary.text).toMatch(/\d{2}:\d{2}/);
  });

  test('the list shows outcomes without configuring a column: the batch Failed, the window Running (issue 12.3)', async () => {
    await page.goto(workflowListUrl(ui.uiUrl));
    const listed = await readUntil(
      page,
      'both workflows in the list',
      async () => ({ batch: await listStatus(page, batch.workflowId), window: await listStatus(page, window.workflowId) }),
      (l) => l.batch !== '' && l.window !== '',
    );
    await keepScreenshot(page, 'list', 'web-ui-list');
    expect(listed.batch).toMatch(/^failed$/i);
    expect(listed.window).toMatch(/^running$/i);

    // a list query for "failed tonight" finds the batch and not the window
    await page.goto(workflowListUrl(ui.uiUrl, `ExecutionStatus = 'Failed'`));
    const failed = await readUntil(page, 'the failed batch', () => listStatus(page, batch.workflowId), (s) => s !== '');
    await keepScreenshot(page, 'list-failed');
    expect(failed).toMatch(/^failed$/i);
    expect(await listStatus(page, window.workflowId)).toBe('');
  });

  test('the retry command copied from the page runs as it reads and backs the dossier up once it is free (R-BK-3, R-BK-4)', async () => {
    await page.goto(workflowPageUrl(ui.uiUrl, batch.workflowId, batch.runId, 'user-metadata'));
    const copied = (await readMarkdown(markdownFrame(page, 'current-details'))).code.find((c) => c.startsWith('nightshift backup retry'));
    expect(copied).toBeDefined();
    // DEMO0005's user quits, as the window told (R-MW-7: a session that never heartbeats, as this one, is forced only an
    // interval and 15 s after the start, drill G), the window ends; then the pasted command
    await leave();
    expect((await cli(['maintenance', 'cancel', '--target', TARGET])).code).toBe(0);
    const [program, ...args] = copied!.split(/\s+/);
    expect(program).toBe('nightshift');
    const run = await cli(args);
    expect(run.code).toBe(0);
    const retryId = /started (\S+)/.exec(run.stdout)?.[1];
    expect(retryId).toBeDefined();
    const retried = await outcomeOf(client.workflow.getHandle(retryId!));
    expect(retried.result).toMatchObject({ state: 'completed', total: 1, ok: 1, failed: 0 });
  });

  test('R-OP-1: a reason escaped for the details reads as written in the Web UI\'s own renderer: an arrow, HTML, a link, emphasis (session 40: `-&gt;` was shown)', async () => {
    // the page the UI frames every summary and details in (its markdown renderer); the quotes aside: its typographer curls them
    const reason = "Echec du traitement. EPERM: operation not permitted, copyfile /srv/.BX.tmp -> /srv/gen/X_1.SVG <b>x</b> <script>alert(1)</script> [x](javascript:alert(1)) *v* a|b ~c~ & \\ `t`";
    await page.goto(`${ui.uiUrl}/render?content=${encodeURIComponent(`- X: ${escapeMarkdown(reason)}`)}&theme=light`);
    const shown = await readUntil(page, 'the rendered reason', () => page.locator('body').innerText(), (t) => t.includes('X:'));
    expect(shown.trim()).toBe(`X: ${reason}`);
  });
});

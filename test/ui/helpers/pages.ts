import type { FrameLocator, Page } from 'playwright-core';

/**
 * What an operator reads on the Temporal Web UI (2.54) pages, as text. On a workflow's page the status
 * is the `status` badge of its header; on its "User Metadata" tab the summary and the current details
 * are markdown rendered in frames of their own (ids user-metadata-summary, user-metadata-current-details).
 */

const STATUSES = /^(running|completed|failed|canceled|terminated|timed ?out|continued ?as ?new)$/i;

/** Polls `read` (reloading the page between tries) until `ok` accepts it; the last value in the error. */
export async function readUntil<T>(page: Page, what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`the Web UI never showed ${what}; last read: ${JSON.stringify(last)}${lastError ? ` (${String(lastError)})` : ''}`);
    }
    await page.waitForTimeout(500);
    await page.reload();
  }
}

/** The status shown in the list for one workflow id (Running, Completed, Failed…), '' when it is not listed. */
export async function listStatus(page: Page, workflowId: string): Promise<string> {
  await page.getByRole('table', { name: 'Workflows' }).waitFor();
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: workflowId, exact: true }) });
  if ((await row.count()) === 0) return '';
  const cells = (await row.first().getByRole('cell').allInnerTexts()).map((t) => t.trim());
  return cells.find((c) => STATUSES.test(c)) ?? `(no status among ${JSON.stringify(cells)})`;
}

/** The status badge at the top of a workflow's page: Running, Completed, Failed… */
export async function workflowStatus(page: Page, workflowId: string): Promise<string> {
  const main = page.getByRole('main');
  await main.getByRole('heading', { level: 1, name: workflowId }).waitFor();
  return (await main.getByRole('status').first().innerText()).trim();
}

/** The text of the Result (or Failure) box of a closed workflow's history tab. */
export async function resultBoxText(page: Page): Promise<string> {
  const box = page.getByRole('main').getByRole('textbox', { name: /^(result|failure)/i }).first();
  await box.waitFor();
  // the box (CodeMirror) draws only the lines in its visible height (long lines wrap): read it at the top, then with
  // its own scroller at the end (the page scrolled so that the box is in view, or nothing more is drawn)
  await box.scrollIntoViewIfNeeded();
  const top = await box.innerText();
  await box.evaluate((el) => {
    // runs in the browser (no DOM types in this project): the few members used
    type Scroller = { scrollTop: number; scrollHeight: number };
    const scroller = (el as unknown as { closest(s: string): Scroller | null }).closest('.cm-scroller');
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
  });
  await page.waitForTimeout(500);
  const end = await box.innerText();
  return end === top ? top : `${top}\n${end}`;
}

export function markdownFrame(page: Page, name: 'summary' | 'details' | 'current-details'): FrameLocator {
  return page.frameLocator(`iframe#user-metadata-${name}`);
}

interface RenderedNode {
  innerText: string;
}

/**
 * One rendered markdown frame: its text, its lines (as shown: list items and the lines of a paragraph,
 * a list's "- " dropped), and its code spans, as an operator sees and copies them. Read in one go, once
 * the frame has its content: the UI replaces the frame each time it fetches the details again.
 */
export async function readMarkdown(frame: FrameLocator, timeoutMs = 10_000): Promise<RenderedMarkdown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const read = await frame.locator('main').evaluate((el) => {
        // runs in the browser (no DOM types in this project): the few members used
        const main = el as unknown as RenderedNode & { querySelectorAll(selector: string): ArrayLike<RenderedNode> };
        const texts = (selector: string) => Array.from(main.querySelectorAll(selector), (e) => e.innerText.trim());
        return { text: main.innerText.trim(), items: texts('li'), code: texts('code') };
      });
      if (read.text !== '' || Date.now() > deadline) {
        const lines = read.text.split('\n').map((l) => l.trim().replace(/^[-*]\s+/, '')).filter((l) => l !== '');
        return { ...read, lines };
      }
    } catch (err) {
      if (Date.now() > deadline || !/detached|destroyed/i.test(String(err))) throw err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface RenderedMarkdown {
  text: string;
  lines: string[];
  items: string[];
  code: string[];
}

import fs from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ALL_SEARCH_ATTRIBUTES } from '../../../workflows/search-attributes';
import { quietRuntime, requireEnv, tempDir } from '../../helpers/env';
import { freePort } from '../../helpers/net';

/**
 * The Web UI test's servers and browser: a Temporal dev server WITH its Web UI (the suite's shared one
 * runs headless, and its list holds every other test's workflows), Debian's chromium driven by
 * playwright-core (never a downloaded browser), and the screenshots kept as artifacts.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
export const ARTIFACTS_DIR = path.join(ROOT, 'test-artifacts', 'ui');
export const DOCS_DIR = path.join(ROOT, 'docs');
/** Set to 1 to refresh the README's screenshots (docs/web-ui-*.png) from this run. */
export const UPDATE_DOCS_VARIABLE = 'NIGHTSHIFT_UPDATE_DOCS_SCREENSHOTS';

const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** NIGHTSHIFT_CHROMIUM when given (as scripts/install-browser.sh takes it), else Debian's chromium. */
export function chromiumPath(): string | undefined {
  const given = process.env.NIGHTSHIFT_CHROMIUM;
  if (given) return isExecutable(given) ? given : undefined;
  return CHROMIUM_CANDIDATES.find(isExecutable);
}

/** Why the browser test cannot run here, or undefined. scripts/install-browser.sh (in `npm test`) installs it as root. */
export function browserUnavailable(): string | undefined {
  const given = process.env.NIGHTSHIFT_CHROMIUM;
  if (given && !isExecutable(given)) return `NIGHTSHIFT_CHROMIUM=${given} is not executable`;
  if (!chromiumPath()) return 'chromium is not installed (scripts/install-browser.sh installs it as root: apt-get install chromium)';
  return undefined;
}

export const describeWithBrowser = (name: string, fn: () => void): void => {
  const why = browserUnavailable();
  if (why) {
    console.warn(`Web UI test skipped: ${why}`);
    describe.skip(name, fn);
  } else describe(name, fn);
};

export interface UiServer {
  /** gRPC address of the dev server */
  address: string;
  /** the Web UI, e.g. http://127.0.0.1:41234 */
  uiUrl: string;
  stop(): Promise<void>;
}

/** A Temporal dev server with the Web UI on a free port, the project's search attributes registered. */
export async function startDevServerWithUi(): Promise<UiServer> {
  quietRuntime();
  const uiPort = await freePort();
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: requireEnv('NS_TEST_TEMPORAL_CLI') },
      ip: '127.0.0.1',
      ui: true,
      uiPort,
      searchAttributes: ALL_SEARCH_ATTRIBUTES,
      // no news feed from temporal.io: nothing leaves the machine
      extraArgs: ['--log-level', 'error', '--ui-ip', '127.0.0.1', '--ui-disable-news-fetch'],
    },
  });
  return { address: env.address, uiUrl: `http://127.0.0.1:${uiPort}`, stop: () => env.teardown() };
}

/**
 * Headless chromium on a new empty profile. The background-networking flags matter: on a closed
 * network Chromium's own connections (updates, sync, QUIC probes) are refused and slow every page.
 */
export async function openBrowser(): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(tempDir('chromium-profile'), {
    executablePath: chromiumPath(),
    headless: true,
    viewport: { width: 1600, height: 1000 },
    locale: 'en-US',
    timezoneId: 'UTC',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  context.setDefaultTimeout(20_000);
  return context;
}

/**
 * The UI's page of one workflow execution, on one of its tabs: `history` (input, result or failure,
 * events) or `user-metadata` (summary, details, current details). Ids hold slashes: encoded.
 */
export function workflowPageUrl(uiUrl: string, workflowId: string, runId: string, tab: 'history' | 'user-metadata' = 'history', namespace = 'default'): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/${tab}`;
}

export function workflowListUrl(uiUrl: string, query?: string, namespace = 'default'): string {
  const base = `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows`;
  return query ? `${base}?query=${encodeURIComponent(query)}` : base;
}

/**
 * Saves a full-page screenshot as a test artifact (test-artifacts/ui/<name>.png, git-ignored); with
 * NIGHTSHIFT_UPDATE_DOCS_SCREENSHOTS=1 and `docs` given, also as docs/<docs>.png for the README.
 */
export async function keepScreenshot(page: Page, name: string, docs?: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (docs && process.env[UPDATE_DOCS_VARIABLE] === '1') {
    fs.mkdirSync(DOCS_DIR, { recursive: true });
    fs.copyFileSync(file, path.join(DOCS_DIR, `${docs}.png`));
  }
  return file;
}

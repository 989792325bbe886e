/**
 * What an operator reads of a dossier fan-out run (backup batch, patch integration, the window's payload):
 * the shared types of the fan-out engine (workflows/fan-out.ts, activities/fan-out.ts) and the pure
 * renderer of a workflow's current details (markdown, as the Temporal Web UI renders it). No I/O.
 *
 *   setCurrentDetails(renderRunDetails({ kind: 'backup batch', target, phase, run, done, total, failed,
 *     rate, etaSeconds, stalledSeconds, inFlight, failures, failuresTotal, nextStep }))
 *
 * gives, for example:
 *
 *   **backup batch** on **main**: phase **running** (run 3)
 *
 *   **202 / 249** dossiers, **2 failed** · 4.1 dossiers/s · ETA unknown (nothing ended for 2 min 05 s)
 *
 *   In flight: DEMO0030 for 2 min 05 s
 *
 *   Latest failures:
 *
 *   - DEMO0029: cannot back up relation v\_oops (kind v)
 *   - and 1 more
 *
 *   Next: `nightshift backup retry --target main --run 3`
 */

/** One dossier that did not end ok, as results and details carry it. */
export interface DossierFailure {
  code: string;
  /** the ledger's status: failed, in_use, not_done, ... */
  status: string;
  /** one line, at most REASON_MAX characters */
  error: string;
}

/** Failures a result carries (the newest kept); the rest are counted and stay in the ledger. */
export const FAILURES_CAP = 20;
/** Failures shown in the details; "and N more" for the rest. */
export const DETAILS_FAILURES_SHOWN = 10;
export const REASON_MAX = 200;

/** What one chunk of the fan-out engine returns (activities/fan-out.ts runChunk). */
export interface FanOutChunkResult {
  /** dossiers ended in this chunk, by status ('ok' is success, every other status a failure) */
  counts: Record<string, number>;
  ok: number;
  failed: number;
  /** ended before this attempt (the ledger, or an earlier attempt's heartbeat) */
  skipped: number;
  /** not started (time budget, stop): the workflow hands them to a new chunk */
  remaining: string[];
  /** the newest FAILURES_CAP failures of this chunk */
  failures: DossierFailure[];
  failuresTotal: number;
  /** the run's failures passed its limit (`--max-failures`): the chunk started no more, `remaining` are not to be started */
  overFailures?: true;
}

/** The heartbeat details of a chunk: shown by the Web UI under pending activities, read back by a retry. */
export interface FanOutHeartbeat {
  /** the dossiers in flight, each with its start (ISO) */
  current: { code: string; since: string }[];
  /** dossiers of the chunk ended (skipped ones included) */
  done: number;
  of: number;
  /** every code of the chunk before this index ended: a retried attempt starts there */
  resumeAt: number;
}

/** A dossier in flight and for how long. */
export interface FanOutInFlight {
  code: string;
  seconds: number;
}

/** What the ledger says of a run right now (a kind's ledger-reading local activity returns it). */
export interface FanOutLedgerView {
  done: number;
  failed: number;
  /** the newest failures, at most DETAILS_FAILURES_SHOWN */
  failures: DossierFailure[];
  failuresTotal: number;
  /** seconds since the last dossier ended; null before the first */
  sinceLastEndSeconds: number | null;
  inFlight: FanOutInFlight[];
  /** R-PI-11: a patch run with restore points */
  restorePoints?: RestorePointTally;
}

/** R-PI-11: restore points a patch run took, reused (unmodified since a verified generation) and could not take. */
export interface RestorePointTally {
  taken: number;
  reused: number;
  failed: number;
}

/** One line, control characters out, cut to `max` characters. */
export function oneLine(text: string, max = REASON_MAX): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\s]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Markdown-escaped: the UI shows the text as written, never as emphasis, a link or HTML. Backslash escapes only (any
 * ASCII punctuation may be escaped, CommonMark): the Web UI's renderer shows `&gt;` as those four characters (session
 * 40: `copyfile 'a' -&gt; 'b'`); test/ui/web-ui.test.ts reads the rendering back. (Its typographer still curls quotes.)
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]|~<>&]/g, (c) => `\\${c}`);
}

/**
 * The static details a run starts with (the Web UI's Details pane; fixed at the start, read with no worker): the current
 * details come from a worker (a query), so with every worker down or stuck the page says where the database tells the
 * same, as a command copied as is.
 */
export function followWithoutWorker(command: string): string {
  return `The current details come from a worker (the page asks the workflow). When none answers ("No Current Details", a query that timed out), the database says where this run is: ${codeSpan(command)}`;
}

/** A command as a code span: copyable as is (ASCII `--`, straight quotes, no backtick inside). */
export function codeSpan(command: string): string {
  return `\`${command.replace(/`/g, "'")}\``;
}

/** The newest `cap` failures, each with a one-line reason of at most `max` characters. */
export function capFailures(failures: DossierFailure[], cap = FAILURES_CAP, max = REASON_MAX): DossierFailure[] {
  return failures.slice(-cap).map((f) => ({ code: f.code, status: f.status, error: oneLine(f.error ?? '', max) }));
}

/** Appends the newer failures to the older, keeping the newest `cap`. */
export function mergeFailures(older: DossierFailure[], newer: DossierFailure[], cap = FAILURES_CAP): DossierFailure[] {
  return capFailures([...older, ...newer], cap);
}

/** "45 s", "2 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Nothing ended for this long while dossiers are still to do: the ETA says unknown. */
export const STALLED_AFTER_SECONDS = 30;

export interface RunDetails {
  /** 'backup batch', 'patch integrate', ... */
  kind: string;
  target: string;
  phase: string;
  run?: number | string | null;
  done: number;
  total: number;
  failed: number;
  /** what done / total count: 'dossiers' unless said ('generations' for the verification) */
  unit?: string;
  /** what the failed count says after its number: 'failed' unless said ('with a problem') */
  failedWord?: string;
  /** units per second */
  rate?: number | null;
  etaSeconds?: number | null;
  /** seconds since a dossier last ended (>= STALLED_AFTER_SECONDS with work left: stalled) */
  sinceLastEndSeconds?: number | null;
  /** false once the run ended: no rate, ETA nor in-flight line */
  running?: boolean;
  inFlight?: FanOutInFlight[];
  /** newest last */
  failures?: DossierFailure[];
  /** all the failures of the run (>= failures.length) */
  failuresTotal?: number;
  nextStep?: { text: string; command: string } | null;
  notes?: string[];
  restorePoints?: RestorePointTally | null;
}

/** The ETA text: "about 12 s left", or "ETA unknown" when stalled or before any rate. */
export function etaText(d: Pick<RunDetails, 'etaSeconds' | 'sinceLastEndSeconds' | 'done' | 'total'>): string {
  const stalled = d.sinceLastEndSeconds !== null && d.sinceLastEndSeconds !== undefined && d.sinceLastEndSeconds >= STALLED_AFTER_SECONDS;
  if (stalled) return `ETA unknown (nothing ended for ${formatDuration(d.sinceLastEndSeconds!)})`;
  if (d.etaSeconds === null || d.etaSeconds === undefined || d.done === 0) return 'ETA unknown';
  return `about ${formatDuration(d.etaSeconds)} left`;
}

/**
 * The failures the details list: the newest DETAILS_FAILURES_SHOWN, those a batch attempted (failed, in use) before
 * those it never attempted, which only say it stopped (drill R, session 40: past 10 dossiers, a stopped batch's details
 * listed 10 not attempted and hid the ones that failed, and why).
 */
function shownFailures(all: DossierFailure[]): DossierFailure[] {
  const attempted = all.filter((f) => f.status !== 'not_done').slice(-DETAILS_FAILURES_SHOWN);
  return [...attempted, ...all.filter((f) => f.status === 'not_done').slice(0, DETAILS_FAILURES_SHOWN - attempted.length)];
}

/**
 * A dossier's failure as the English screens list it (the Web UI's details, `backup status`, `backup run --wait`): its
 * own error (a backup's is the seed's French « Echec du traitement. … », R-BK-7), or, a dossier a stopped batch never
 * attempted (not_done), that alone: the run's account says once why it stopped.
 */
export function failureText(status: string, error: string | null | undefined): string {
  return status === 'not_done' ? 'not attempted (the batch stopped before it)' : error || status;
}

/**
 * `Latest failures:` then one list item `- CODE: reason` each (and `- and N more`): a blank line after the
 * heading, so that the Web UI's markdown renders a list rather than one paragraph.
 */
export function failuresBlock(failures: DossierFailure[], total: number, extra: string[] = []): string {
  const items = [...failures.map((f) => `- ${escapeMarkdown(f.code)}: ${escapeMarkdown(oneLine(failureText(f.status, f.error)))}`), ...extra.map((e) => `- ${e}`)];
  if (total > failures.length) items.push(`- and ${total - failures.length} more`);
  return ['Latest failures:', '', ...items].join('\n');
}

export function renderRunDetails(d: RunDetails): string {
  const running = d.running ?? true;
  const blocks: string[] = [];
  blocks.push(`**${escapeMarkdown(d.kind)}** on **${escapeMarkdown(d.target)}**: phase **${escapeMarkdown(d.phase)}**${d.run !== null && d.run !== undefined ? ` (run ${escapeMarkdown(String(d.run))})` : ''}`);
  const unit = escapeMarkdown(d.unit ?? 'dossiers');
  const failedWord = escapeMarkdown(d.failedWord ?? 'failed');
  const progress = [`**${d.done} / ${d.total}** ${unit}`, d.failed ? `**${d.failed} ${failedWord}**` : `0 ${failedWord}`];
  if (running && d.rate !== null && d.rate !== undefined) progress.push(`${d.rate} ${unit}/s`);
  if (running && d.done < d.total) progress.push(etaText(d));
  blocks.push(progress.join(' · '));
  if (running && d.inFlight?.length) {
    const shown = d.inFlight.slice(0, 5).map((f) => `${escapeMarkdown(f.code)} for ${formatDuration(f.seconds)}`);
    blocks.push(`In flight: ${shown.join(', ')}${d.inFlight.length > 5 ? `, and ${d.inFlight.length - 5} more` : ''}`);
  }
  const rp = d.restorePoints;
  if (rp) blocks.push(`Restore points: ${rp.taken} taken · ${rp.reused} reused${rp.failed ? ` · **${rp.failed} failed**` : ''}`);
  const failures = shownFailures(d.failures ?? []);
  if (failures.length) {
    const total = Math.max(d.failuresTotal ?? failures.length, failures.length, d.failed);
    blocks.push(failuresBlock(failures, total));
  }
  for (const n of d.notes ?? []) blocks.push(escapeMarkdown(oneLine(n, 500)));
  if (d.nextStep) blocks.push(`${escapeMarkdown(d.nextStep.text)}: ${codeSpan(d.nextStep.command)}`);
  return blocks.join('\n\n');
}

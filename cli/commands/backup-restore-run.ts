import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { UsageError } from '../../config/config';
import { caseTwinMessage, schemaNameFor } from '../../domain/dossier';
import { onlyCodesSchema } from '../../domain/backup-batch';
import { namedWithCaseHints } from '../code-hints';
import { operatorDateTime, parseRestoreAt } from '../../domain/retention';
import { restoreRunInputSchema } from '../../domain/restore-run-input';
import { startRestoreRun } from '../../starts';
import { newestGenerationsAt } from '../../store/generations/newest-at';
import { schemaExists } from '../../store/catalog/schema-exists';
import { chooseRestoreGeneration, olderRestoreCandidates, type RestoreChoiceSource } from '../../store/generations/restore-choice';
import { type Generation, offsiteCopyOf } from '../../domain/generation';
import { loadBackupSettings } from '../../store/settings/backup-settings';
import { closeAbandonedRestoreRun } from '../../store/restore/close-abandoned-run';
import { codesWithGenerationAt } from '../../store/restore/codes-with-generation';
import { codesUnknownToCatalog } from '../../store/restore/codes-unknown';
import { dossiersLeftAbove, dossiersReplaced } from '../../store/restore/replace-risks';
import { supervisorRow } from '../../store/patch/supervisor-row';
import { oldestKeptGeneration, registeredWithoutSchema } from '../../store/restore/catalog-gaps';
import { loadBackupKeyring } from '../../archive/keys';
import { restoreCodesByStatus } from '../../store/restore/codes-by-status';
import { restoreItemCounts } from '../../store/restore/item-counts';
import { restorePrerequisites } from '../../store/restore/prerequisites';
import { restoreRunFailures } from '../../store/restore/run-failures';
import { stillFailedCount } from '../../store/restore/still-failed-count';
import { restoreRunView } from '../../store/restore/run-view';
import { restoreRunByWorkflow } from '../../store/restore/run-by-workflow';
import { type ReadFromCopy, restoreItemsReadFromCopy } from '../../store/restore/read-from-copy';
import { runningRestoreRuns } from '../../store/restore/running-runs';
import { restoreScopeFacts } from '../../store/restore/scope-facts';
import {
  RestoreRunFailure,
  partialRestoreRunResult,
  restoreRetryCommand,
  restoreRunProgressQuery,
  restoreScopeText,
  type RestoreRunInput,
  type RestoreRunProgress,
  type RestoreRunResult,
} from '../../workflows/backup-restore-run.api';
import { kindFlag } from '../code-hints';
import { EXIT_FAILED, config, followProgress, lastingResult, output, parseFlag, runIdSchemaFor, sayOnInterrupt, target, withPools, withTemporal, wordFlag } from '../context';
import { webUiLink } from './backup';
import { mayStillRun, workflowStatus } from './backup-batch';

/**
 * `nightshift backup restore --all|--codes A,B --at DATE [--kind K] [--replace] [--from local|offsite] [--wait] [--dry-run]`,
 * `--run ID` and `--retry ID`: the bulk restore run (workflows/backup-restore-run.ts) of a lost database, its state from
 * its ledger, and its failed dossiers again.
 */

export interface RestoreRunFlags {
  target?: string;
  at?: string;
  as?: string;
  kind?: string;
  replace?: boolean;
  from?: string;
  verifyOnly?: boolean;
  all?: boolean;
  codes?: string;
  run?: string;
  retry?: string;
  dryRun?: boolean;
  wait?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** Whether the flags ask for a bulk restore run (or its state), not one archive or one dossier. */
export const isRestoreRun = (f: RestoreRunFlags): boolean => Boolean(f.all) || f.codes !== undefined || f.run !== undefined || f.retry !== undefined;

const refused = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });
const zone = () => config().operatorTimeZone;
/** Dossiers named in a dry run and a run's state: the rest counted. */
const SHOWN = 20;

const PLACES = ['local', 'offsite'] as const;
/** a restore run's id: its start and `--wait` print it, and the Web UI's details */
const runIdSchema = runIdSchemaFor("the restore run's start; or its workflow id, backup-restore-run/…");

/**
 * `--run`: the run's number, or its workflow id as the Web UI shows it (`backup-restore-run/T/…`: the page's details
 * name it, drill W, session 40, where they said `--run ID`).
 */
async function runIdOf(targetName: string, given: string): Promise<number> {
  const workflowId = given.trim();
  if (!workflowId.startsWith('backup-restore-run/')) return parseFlag('--run', runIdSchema, given);
  const run = await withPools(targetName, (pool) => restoreRunByWorkflow(pool, workflowId));
  if (!run) throw new UsageError(`--run: no restore run of ${targetName} has the workflow id ${workflowId.slice(0, 120)}`);
  return run.id;
}

export async function restoreRunCommand(fileArg: string | undefined, flags: RestoreRunFlags): Promise<number | void> {
  const scopes = [flags.all && '--all', flags.codes !== undefined && '--codes', flags.run !== undefined && '--run', flags.retry !== undefined && '--retry'].filter(Boolean);
  if (scopes.length > 1) throw new UsageError(`${scopes.join(' and ')}: give one of them`);
  if (fileArg !== undefined) throw new UsageError(`${scopes[0]} restores dossiers of the generations catalog: give no FILE or CODE (${fileArg})`);
  if (flags.as !== undefined) throw new UsageError(`--as is for one dossier: ${scopes[0]} restores each dossier under its own code`);
  if (flags.verifyOnly) throw new UsageError(`--verify-only is for one FILE: verify generations with 'nightshift backup verify'`);
  const t = target(flags.target);
  if (flags.run !== undefined) {
    for (const [given, flag] of [[flags.at, '--at'], [flags.kind, '--kind'], [flags.replace, '--replace'], [flags.from, '--from'], [flags.dryRun, '--dry-run'], [flags.wait, '--wait']] as const) {
      if (given !== undefined && given !== false) throw new UsageError(`--run shows a restore run from its ledger: ${flag} does not go with it`);
    }
    return showRun(t.name, await runIdOf(t.name, flags.run), flags.json);
  }
  if (flags.retry !== undefined) {
    const id = parseFlag('--retry', runIdSchema, flags.retry);
    for (const [given, flag] of [[flags.at, '--at'], [flags.kind, '--kind'], [flags.replace, '--replace'], [flags.from, '--from'], [flags.dryRun, '--dry-run']] as const) {
      if (given !== undefined && given !== false) throw new UsageError(`--retry restores the failed dossiers of run ${id} as that run was asked (its --at, --kind, --replace, --from): ${flag} does not go with it`);
    }
    return retryRun(t.name, id, flags);
  }
  if (flags.at === undefined) throw new UsageError(`${scopes[0]} needs --at DATE: each dossier's generation taken at or just before DATE is restored`);
  const at = parseRestoreAt(flags.at, zone());
  if (at.problem !== undefined) throw new UsageError(`--at: ${at.problem}`);
  const codes = flags.codes === undefined ? undefined : parseFlag('--codes', onlyCodesSchema, flags.codes);
  const input: RestoreRunInput = {
    target: t.name,
    at: at.at.toISOString(),
    ...(flags.kind === undefined ? {} : { kind: kindFlag(flags.kind) }),
    replace: Boolean(flags.replace),
    from: flags.from === undefined ? 'auto' : wordFlag('--from', PLACES, flags.from),
    ...(codes ? { codes } : { all: true as const }),
  };
  const checked = restoreRunInputSchema.safeParse(input);
  if (!checked.success) throw new UsageError(checked.error.issues.map((i) => i.message).join('; '));
  if (flags.dryRun) return dryRun(input, flags.json);
  return startRun(input, flags);
}

/**
 * `--codes` that name nothing, neither a registered dossier nor one the generations catalog holds a backup of (a typo): bad
 * usage (exit 2), nothing started. A dossier lost with its database is in the catalog only, so the registry alone cannot say.
 */
async function refuseCodesUnknown(pool: pg.Pool, input: RestoreRunInput): Promise<void> {
  if (!input.codes) return;
  const unknown = await codesUnknownToCatalog(pool, input.codes);
  if (!unknown.length) return;
  // a code in the wrong case is named with the one meant (codes are case-sensitive)
  const shown = await namedWithCaseHints(pool, unknown.slice(0, SHOWN));
  throw new UsageError(
    `--codes: no dossier and no backup of ${shown.join(', ')}${unknown.length > shown.length ? ` and ${unknown.length - shown.length} more` : ''} on target ${input.target}; ` +
      `nothing started (see 'nightshift dossiers list' and 'nightshift backup list CODE')`,
  );
}

/**
 * What a restore run would do beyond bringing back what was lost, each in words (drill D2): `--replace` over dossiers that
 * are there (what was written since is lost), the supervisor restored below dossiers the run leaves as they are (R-PI-4:
 * `patch rollback` asks the same). `restore ... --yes` goes ahead; the dry run lists them.
 */
async function restoreAsks(pool: pg.Pool, input: RestoreRunInput): Promise<string[]> {
  const at = new Date(input.at);
  const atText = `${operatorDateTime(at, zone())} (${zone()})`;
  const scope = { codes: input.codes ?? null, at, kind: input.kind ?? null };
  const named = (codes: string[], total: number) => `${codes.join(' ')}${total > codes.length ? ` and ${total - codes.length} more` : ''}`;
  const asks: string[] = [];
  if (input.replace) {
    const replaced = await dossiersReplaced(pool, { ...scope, shown: SHOWN });
    if (replaced.total) asks.push(`--replace would put ${replaced.total} dossier(s) that are there back as they were at ${atText}, losing what was written there since: ${named(replaced.codes, replaced.total)}`);
  }
  const sup = await supervisorRow(pool);
  // with --all the supervisor is in the run when it has a generation at or before the date: the choice below says so
  const inScope = sup && (input.codes ? input.codes.includes(sup.code) : true);
  if (sup && inScope && (input.replace || !(await schemaExists(pool, schemaNameFor(sup.code))))) {
    const choice = await chooseRestoreGeneration(pool, sup.code, at, { kind: input.kind ?? null, place: input.from === 'auto' ? undefined : input.from, zone: zone() });
    const level = choice.g?.patchLevel ?? 0;
    const above = choice.g ? await dossiersLeftAbove(pool, level, input.replace ? scope : null, SHOWN) : { total: 0, codes: [], highest: 0 };
    if (above.total) {
      asks.push(
        `the supervisor ${sup.code} would go back to patch level ${level}, below ${above.total} dossier(s) the run leaves as they are (up to level ${above.highest}: ` +
          `${named(above.codes, above.total)}) (R-PI-4: bring it up inside a window after, 'nightshift patch integrate DIR')`,
      );
    }
  }
  return asks;
}

/** Runs whose row says running while Temporal knows their workflow closed are closed as abandoned: they no longer hold a restore back. */
async function closeAbandonedRestores(pool: pg.Pool, client: Client): Promise<void> {
  for (const r of await runningRestoreRuns(pool)) {
    const status = await workflowStatus(client, r.workflowId);
    if (!mayStillRun(status)) await closeAbandonedRestoreRun(pool, r.id, status);
  }
}

async function startRun(input: RestoreRunInput, flags: RestoreRunFlags): Promise<number | void> {
  return withTemporal(async (client) => {
    // refused before anything starts (the claim checks again under its locks)
    await withPools(input.target, async (pool) => {
      // what it would undo beyond what was lost: asked for (exit 2) before anything, unless --yes (a retry was asked already)
      if (!flags.yes && input.retryOf === undefined) {
        const asks = await restoreAsks(pool, input);
        if (asks.length) throw new UsageError(`${asks.join('; ')}. Add --yes to go ahead (--dry-run shows the whole run); nothing started`);
      }
      await closeAbandonedRestores(pool, client);
      const unmet = (await restorePrerequisites(pool, input.target)).filter((q) => !q.ok);
      if (unmet.length) throw refused(RestoreRunFailure.PrerequisiteFailed, [`restore refused on ${input.target}, nothing started:`, ...unmet.map((q) => `  ${q.name}: ${q.detail}`)].join('\n'));
      await refuseCodesUnknown(pool, input);
      if (input.all && !(await codesWithGenerationAt(pool, new Date(input.at), input.kind ?? null)).length) {
        throw refused(RestoreRunFailure.InvalidInput, `no dossier has a kept ${input.kind ? `${input.kind} ` : ''}generation at or before ${operatorDateTime(new Date(input.at), zone())} (${zone()}); nothing started`);
      }
    });
    return startAndFollow(client, input, flags);
  });
}

async function startAndFollow(client: Client, input: RestoreRunInput, flags: RestoreRunFlags): Promise<number | void> {
  // R-OP-1: the Web UI's summary gives the instant as the command does, in the operator's zone (drill S, session 39: UTC)
  const summary = `Restore ${restoreScopeText(input)} of target ${input.target} as at ${operatorDateTime(new Date(input.at), zone())} (${zone()})${input.replace ? ' (replace)' : ''}`;
  const handle = await startRestoreRun(client, input, { taskQueue: config().temporal.taskQueue, summary });
  const started = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, url: webUiLink(handle.workflowId, handle.firstExecutionRunId) };
  const startedText = `started ${started.workflowId}: restore ${restoreScopeText(input)} of ${input.target} as at ${operatorDateTime(new Date(input.at), zone())} (${zone()})\nfollow it in the Temporal Web UI: ${started.url}`;
  if (!flags.wait) return output(flags.json, started, () => startedText);
  const unsay = sayOnInterrupt('restore run', `follow it in the Temporal Web UI: ${started.url}`);
  if (!flags.json) process.stdout.write(`${startedText}\n`);
  const stop = followProgress(() => handle.query(restoreRunProgressQuery), progressLine, { json: flags.json });
  // a run with failed dossiers FAILS (RestoreRunPartial): its result rides in the failure
  const result = await lastingResult(() => handle.result(), 'the restore run')
    .catch((err: unknown) => partialRestoreRunResult(err) ?? Promise.reject(err))
    .finally(() => {
      stop();
      unsay();
    });
  // --json: the dossiers read from their off-site copy, from the ledger (the text says them in the run's notes)
  const readFromCopy = flags.json && result.runId !== null ? await withPools(input.target, (pool) => readFromCopyOf(pool, result.runId!)) : undefined;
  output(flags.json, { ...started, result: { ...result, ...(readFromCopy && { readFromCopy }) } }, (v) => resultText(v.result));
  return result.state === 'completed' ? undefined : EXIT_FAILED;
}

/** R-BK-14: the run's dossiers restored from their generation's off-site copy, not its local file (the first SHOWN, and how many). */
async function readFromCopyOf(pool: pg.Pool, runId: number): Promise<{ total: number; dossiers: ReadFromCopy[] }> {
  const r = await restoreItemsReadFromCopy(pool, runId, SHOWN);
  return { total: r.total, dossiers: r.shown };
}

/** `--wait`'s progress line. */
export function progressLine(p: RestoreRunProgress): string {
  const run = p.runId === null ? '' : ` (restore run ${p.runId})`;
  if (p.phase !== 'dossiers') return `${p.phase}${run}`;
  return `dossiers${run}: ${p.done} / ${p.total} done: ${p.restored} restored, ${p.kept} kept (already there), ${p.failed} failed`;
}

/** The summary `--wait` prints and `--run ID` repeats. */
export function resultText(r: { state: string } & Pick<RestoreRunResult, 'target' | 'runId' | 'scope' | 'total' | 'restored' | 'kept' | 'restoredCodes' | 'keptCodes' | 'failures' | 'failuresTotal' | 'retryCommand' | 'notes'>): string {
  const lines = [`backup restore on ${r.target} (restore run ${r.runId}): ${r.state}`, `scope: ${r.scope}`];
  lines.push(`${r.restored} / ${r.total} dossier(s) restored, ${r.kept} kept (already there), ${r.failuresTotal} failed`);
  const named = (codes: string[], n: number) => `${codes.slice(0, SHOWN).join(' ')}${n > Math.min(codes.length, SHOWN) ? ` and ${n - Math.min(codes.length, SHOWN)} more` : ''}`;
  if (r.restored) lines.push(`restored: ${named(r.restoredCodes, r.restored)}`);
  if (r.kept) lines.push(`kept (already there, not replaced without --replace): ${named(r.keptCodes, r.kept)}`);
  for (const f of r.failures) lines.push(`  ${f.code}: ${f.error}`);
  if (r.failuresTotal > r.failures.length) lines.push(`  and ${r.failuresTotal - r.failures.length} more`);
  if (r.retryCommand) lines.push(`fix them, then: ${r.retryCommand}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

/** Where a run reads each generation, in words (`auto` is no place: the file, else its off-site copy). */
const fromText = (from: string): string =>
  from === 'local' ? 'read from the files only (--from local)' : from === 'offsite' ? 'read from the off-site copies (--from offsite)' : "read from each file, or its off-site copy when the file is not on the worker";

/** One restore run read back from its ledger (`--run ID`); a run id that names nothing is bad usage (exit 2). */
async function showRun(targetName: string, id: number, json: boolean | undefined): Promise<void> {
  const value = await withPools(targetName, (pool) => runState(pool, targetName, id));
  if (!value) throw new UsageError(`no restore run ${id} on ${targetName}`);
  output(json, value, (v) => {
    const zoneName = zone();
    const head = [
      `as at ${operatorDateTime(v.at, zoneName)} (${zoneName})${v.kind ? `, ${v.kind} generations` : ''}, ${v.replace ? 'replacing dossiers there' : 'keeping dossiers there'}, ${fromText(v.from)}`,
      `started ${operatorDateTime(v.startedAt, zoneName)}${v.finishedAt ? `, ended ${operatorDateTime(v.finishedAt, zoneName)}` : ', running'} (${v.workflowId})`,
    ];
    if (v.error) head.push(`error: ${v.error}`);
    const [first, ...rest] = resultText(v).split('\n');
    return [first, ...head, ...rest].join('\n');
  });
}

async function runState(pool: pg.Pool, targetName: string, id: number) {
  const run = await restoreRunView(pool, id);
  if (!run) return undefined;
  const counts = await restoreItemCounts(pool, id);
  const failed = await restoreRunFailures(pool, id, 1000);
  return {
    target: targetName,
    runId: run.id,
    workflowId: run.workflowId,
    state: run.state as RestoreRunResult['state'] | 'running',
    scope: restoreScopeText({ codes: run.requested ?? undefined, all: run.requested === null && run.retryOf === null ? true : undefined, retryOf: run.retryOf ?? undefined }),
    at: run.at,
    kind: run.kind,
    replace: run.replace,
    from: run.source,
    total: counts.total,
    done: counts.done,
    restored: counts.restored,
    kept: counts.kept,
    restoredCodes: await restoreCodesByStatus(pool, id, 'ok', SHOWN),
    keptCodes: await restoreCodesByStatus(pool, id, 'kept', SHOWN),
    failures: failed.failures.map((f) => ({ ...f, status: 'failed' })),
    failuresTotal: failed.total,
    ...(run.state !== 'running' && failed.total ? { retryCommand: restoreRetryCommand(targetName, id) } : {}),
    notes: run.notes,
    readFromCopy: await readFromCopyOf(pool, id),
    error: run.error,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

/** `--retry ID`: the failed dossiers of run ID, as that run was asked; a run still running, or with none failed, starts nothing. */
async function retryRun(targetName: string, id: number, flags: RestoreRunFlags): Promise<number | void> {
  const run = await withPools(targetName, (pool) => restoreRunView(pool, id));
  if (!run) throw new UsageError(`no restore run ${id} on ${targetName}; nothing started`);
  if (run.state === 'running') throw refused(RestoreRunFailure.PrerequisiteFailed, `restore run ${id} is still running (${run.workflowId}): retry it once it has ended; nothing started`);
  const { stillFailed, failed } = await withPools(targetName, (pool) => stillFailedCount(pool, id));
  if (!stillFailed) {
    // a dossier a later run (a first retry) restored is not restored again: over what users wrote since (drill D2)
    const text = failed ? `restore run ${id}: its ${failed} failed dossier(s) were restored or kept by later restore runs since: nothing to retry` : `restore run ${id} has no failed dossier: nothing to retry`;
    output(flags.json, { runId: id, failed, stillFailed }, () => text);
    return;
  }
  const input: RestoreRunInput = { target: targetName, at: run.at.toISOString(), ...(run.kind ? { kind: kindFlag(run.kind) } : {}), replace: run.replace, from: run.source, retryOf: id };
  return startRun(input, flags);
}

/** False only when nothing is there (ENOENT, a folder gone): what the run's worker finds the same way. */
async function isThere(file: string): Promise<boolean> {
  return fs.promises.stat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== 'ENOENT' && err.code !== 'ENOTDIR',
  );
}

/** Archives looked for at once (100,000 dossiers: a stat each, not one after another). */
const STATS_AT_ONCE = 64;

/**
 * The generations of `chosen` the run would not find to read (activities/restore-run.ts): read locally (not `place`
 * offsite, nor from its copy), under `folder` (this host sees no other), their file and its other names (B{code}.SVG,
 * which the restore puts it back from) not there, and no copy it would read (`place` local reads none).
 */
async function archivesAway(chosen: { g: Generation; from: RestoreChoiceSource }[], folder: string, place: 'local' | 'offsite' | undefined): Promise<Set<number>> {
  const away = new Set<number>();
  const under = (file: string) => !path.relative(folder, file).startsWith('..') && path.isAbsolute(file);
  const asked = chosen.filter(({ g, from }) => place !== 'offsite' && from !== 'offsite' && under(g.file) && (place === 'local' || !offsiteCopyOf(g)));
  for (let i = 0; i < asked.length; i += STATS_AT_ONCE) {
    await Promise.all(
      asked.slice(i, i + STATS_AT_ONCE).map(async ({ g }) => {
        for (const f of [g.file, ...g.links]) if (await isThere(f)) return;
        away.add(g.id);
      }),
    );
  }
  return away;
}

/**
 * `--dry-run`: what the run would do now, dossier by dossier as it would (the same choice of generation): how many it
 * would restore, keep (already there) and which have no generation at or before DATE; and whether it may start now.
 */
async function dryRun(input: RestoreRunInput, json: boolean | undefined): Promise<void> {
  const at = new Date(input.at);
  const value = await withPools(input.target, async (pool) => {
    await refuseCodesUnknown(pool, input);
    const codes = input.codes ?? (await codesWithGenerationAt(pool, at, input.kind ?? null));
    const restore: string[] = [];
    const kept: string[] = [];
    const failing: { code: string; why: string }[] = [];
    const keyLacking: { code: string; why: string }[] = [];
    const older: { code: string; why: string }[] = [];
    const chosen: { code: string; choice: { g: Generation; from: RestoreChoiceSource; skipped?: { g: Generation; why: string } } }[] = [];
    const keys = loadBackupKeyring(config().backupKeys);
    const place = input.from === 'auto' ? undefined : input.from;
    // two statements for the whole scope (100,000 dossiers: seconds, not a minute); a dossier whose newest generation
    // cannot be restored as it is reads again for an older one, as the run would
    const facts = await restoreScopeFacts(pool, codes, codes.map(schemaNameFor));
    const newest = await newestGenerationsAt(pool, codes, at, input.kind ?? null);
    for (const code of codes) {
      const { registered, there } = facts.get(code) ?? { there: false };
      if (registered !== undefined && registered !== code) {
        failing.push({ code, why: caseTwinMessage(registered, code, 'restored') });
        continue;
      }
      if (there && !input.replace) {
        kept.push(code);
        continue;
      }
      const choice = await chooseRestoreGeneration(pool, code, at, { kind: input.kind ?? null, place, zone: zone(), newest: newest.get(code) ?? null });
      if (choice.g) chosen.push({ code, choice });
      else failing.push({ code, why: choice.problem ?? `no kept ${input.kind ? `${input.kind} ` : ''}generation at or before ${operatorDateTime(at, zone())} (${zone()})` });
    }
    // as the run does: a chosen generation whose archive is not there (deleted by hand) and has no copy to read gives way
    // to the next older one that is; checked only where this host sees the backup folder (else as the catalog says)
    const { settings } = await loadBackupSettings(pool, config(), input.target);
    const folder = (await isThere(settings.folder)) ? settings.folder : undefined;
    const away = folder ? await archivesAway(chosen.map((c) => c.choice), folder, place) : new Set<number>();
    for (const { code, choice } of chosen) {
      let { g } = choice;
      // the newer generations passed over, and why (as the run says at its end, with both times)
      const passed = choice.skipped ? [`${choice.skipped.g.id} ${choice.skipped.why}`] : [];
      if (away.has(g.id)) {
        const notHere = (x: Generation) => `${x.id}'s archive is not on this host (${x.file})${offsiteCopyOf(x) ? ', its off-site copy not read with --from local' : ', with no off-site copy'}`;
        const gone = [notHere(g)];
        let next: Generation | undefined;
        for (const c of await olderRestoreCandidates(pool, code, at, g.id, { kind: input.kind ?? null, place })) {
          if (c.from === undefined) gone.push(`${c.g.id} is ${c.passedOver}`);
          else if (c.from === 'offsite' || !(await archivesAway([c], folder!, place)).size) {
            next = c.g;
            break;
          } else gone.push(notHere(c.g));
        }
        if (!next) {
          failing.push({ code, why: `no generation at or before ${operatorDateTime(at, zone())} (${zone()}) can be read: generation ${gone.join('; generation ')}` });
          continue;
        }
        passed.push(...gone);
        g = next;
      }
      restore.push(code);
      // the catalog knows each archive's key: one this host lacks is said (a worker that lacks it too fails the dossier)
      if (g.keyId && !keys.key(g.keyId)) keyLacking.push({ code, why: `its generation ${g.id} is encrypted with key ${g.keyId}, which this host does not give` });
      if (passed.length) older.push({ code, why: `generation ${g.id} of ${operatorDateTime(g.snapshotAt, zone())}: the newer ${passed.join('; ')}` });
    }
    const unmet = (await restorePrerequisites(pool, input.target)).filter((q) => !q.ok);
    if (!codes.length) {
      const oldest = await oldestKeptGeneration(pool, input.kind ?? null);
      unmet.push({
        name: 'dossiers to restore',
        ok: false,
        detail: `no dossier has a kept ${input.kind ? `${input.kind} ` : ''}generation at or before the date${oldest ? ` (the oldest kept is of ${operatorDateTime(oldest, zone())})` : ' (the catalog holds none)'}`,
      });
    }
    // registered dossiers a whole-catalog run cannot bring back: no schema, no backup at or before the date (drill D2)
    const missing = input.all ? await registeredWithoutSchema(pool, new Set(codes), at, SHOWN) : { total: 0, codes: [] };
    return {
      target: input.target,
      scope: restoreScopeText(input),
      at: input.at,
      total: codes.length,
      restore: { count: restore.length, codes: restore.slice(0, SHOWN) },
      kept: { count: kept.length, codes: kept.slice(0, SHOWN) },
      failing: { count: failing.length, dossiers: failing.slice(0, SHOWN) },
      olderGeneration: { count: older.length, dossiers: older.slice(0, SHOWN) },
      keyLacking: { count: keyLacking.length, dossiers: keyLacking.slice(0, SHOWN) },
      notInCatalog: { count: missing.total, codes: missing.codes },
      // where this host does not see the backup folder, a file deleted by hand is found by the run, not here
      archivesChecked: folder !== undefined,
      backupFolder: settings.folder,
      asksYes: await restoreAsks(pool, input),
      refusedNow: unmet,
    };
  });
  output(json, value, (v) => {
    const named = (codes: string[], n: number) => (n ? `: ${codes.join(' ')}${n > codes.length ? ` and ${n - codes.length} more` : ''}` : '');
    const listed = (what: string, l: { count: number; dossiers: { code: string; why: string }[] }) =>
      l.count ? [`  would restore ${what}:`, ...l.dossiers.map((d) => `    ${d.code}: ${d.why}`), ...(l.count > l.dossiers.length ? [`    and ${l.count - l.dossiers.length} more`] : [])] : [];
    const lines = [
      `backup restore of ${v.scope} on ${v.target} as at ${operatorDateTime(at, zone())} (${zone()}) (--dry-run: nothing started):`,
      `  would restore ${v.restore.count} dossier(s)${named(v.restore.codes, v.restore.count)}`,
      `  would keep ${v.kept.count} dossier(s) already there${input.replace ? '' : ' (--replace restores over them)'}${named(v.kept.codes, v.kept.count)}`,
      `  cannot restore ${v.failing.count} dossier(s)${v.failing.count ? ' (no generation at or before DATE it can read: the run would fail them)' : ''}`,
      ...v.failing.dossiers.map((d) => `    ${d.code}: ${d.why}`),
      ...(v.failing.count > v.failing.dossiers.length ? [`    and ${v.failing.count - v.failing.dossiers.length} more`] : []),
      ...listed(`from an older generation than the newest at or before DATE (${v.olderGeneration.count})`, v.olderGeneration),
      ...listed(`with a key this host does not give: if the workers lack it too, the run fails them (${v.keyLacking.count})`, v.keyLacking),
      ...(v.notInCatalog.count
        ? [`  registered but not restorable (no schema, no backup at or before DATE: backed up only later, or never, R-BK-2) ${v.notInCatalog.count} dossier(s)${named(v.notInCatalog.codes, v.notInCatalog.count)}`]
        : []),
      ...(v.archivesChecked ? [] : [`  archives not looked for: this host does not see ${v.backupFolder} (the run passes over one not on its worker, with no copy, for an older one)`]),
      ...(v.asksYes.length ? ['it would ask --yes for:', ...v.asksYes.map((a) => `  ${a}`)] : []),
      v.refusedNow.length ? ['started now, it would be refused:', ...v.refusedNow.map((q) => `  ${q.name}: ${q.detail}`)].join('\n') : // drill S, session 39: "nothing holds it back" read as a promise for each dossier (one in use then failed)
        'started now, the run would not be refused; each dossier is still checked as it is restored (one in use fails, R-BK-3), and a dry run asks no off-site storage',
    ];
    return lines.join('\n');
  });
}

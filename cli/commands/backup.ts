import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Client, Workflow, WorkflowHandleWithFirstExecutionRunId as WorkflowHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { z } from 'zod';
import { UsageError } from '../../config/config';
import { backupDossierInputSchema, restoreDossierInputSchema } from '../../domain/backup';
import { settingText } from '../../domain/backup-batch';
import { BACKUP_EVENT_RULES, backupEventSchema } from '../../domain/backup-trigger';
import { caseTwinMessage, dossierCodeSchema } from '../../domain/dossier';
import { DOSSIER_IN_USE_MESSAGE, FailureType, permanentFailure } from '../../domain/failures';
import { checkBackupTrigger, disabledAnswer, startTriggeredBackup, triggeredAnswer } from '../../gate/backup-trigger';
import { readBackupTriggerState } from '../../store/gate/read-backup-trigger-state';
import { readArchiveHeader } from '../../archive/reader';
import { verifyArchive } from '../../archive/verify';
import { loadBackupKeyring } from '../../archive/keys';
import {
  BACKUP_EVENTS,
  BACKUP_REASONS,
  backupDossierWorkflowId,
  restoreDossierWorkflowId,
  type BackupDossierInput,
  type BackupDossierResult,
  type RestoreDossierInput,
  type VerifyArchiveResult,
} from '../../workflows/backup-dossier.api';
import { startBackupDossier, startBackupPrune, startRestoreDossier } from '../../starts';
import { deletionReason, isRestorable, isValidGeneration, keptByLeaseOnly, operatorDateTime, parseRestoreAt, retentionText } from '../../domain/retention';
import { loadRetention, planDossierPrune } from '../../store/generations/retention-plan';
import { findUnrecordedFiles, generationsDirsOf, keepFilesFoundAgain } from '../../archive/generations';
import { loadBackupSettings } from '../../store/settings/backup-settings';
import { dossierGenerations } from '../../store/generations/dossier-generations';
import { latestKeyProblems } from '../../store/verify/latest-key-problems';
import { unknownCodes } from '../../store/patch/unknown-codes';
import { caseHint, kindFlag } from '../code-hints';
import { generationAt } from '../../store/generations/prune-generation-at';
import { copiesByBucket } from '../../store/offsite/copies-by-bucket';
import { chooseRestoreGeneration } from '../../store/generations/restore-choice';
import { codeInAnyCase } from '../../store/dossiers/code-in-any-case';
import { pruneDossierPage } from '../../store/generations/prune-dossier-page';
import { backupPruneProgressQuery, backupPruneWorkflowId, heldText, pruneResult, unrecordedText } from '../../workflows/backup-prune.api';
import { workflowIdTimestamp } from '../../domain/workflow-id';
import { sizeText } from '../../domain/text';
import { foundBy, GENERATION_KINDS, type Generation, type OffsiteState, type VerifyState, offsiteCopyOf } from '../../domain/generation';
import { restoreRealignedText } from '../../domain/patch-repair';
import { isRestoreRun, restoreRunCommand, type RestoreRunFlags } from './backup-restore-run';
import { registerForgetCommand } from './backup-forget';
import { action, config, EXIT_FAILED, EXIT_OK, followProgress, jsonOption, lastingResult, output, parseFlag, sayOnInterrupt, target, targetOption, waitSayingRetries, withPools, withTemporal, wordFlag } from '../context';
import { lastPruneOutcome, pruneResultLines } from '../prune-outcome';

/** nightshift backup dossier|trigger|restore: starts the single-dossier workflows (R-BK-5, R-BK-9 events); verify-only runs locally. */

function usage(error: z.ZodError, flags: Record<string, string>): UsageError {
  return new UsageError(error.issues.map((i) => `${flags[String(i.path[0])] ?? String(i.path[0] ?? 'value')}: ${i.message}`).join('; '));
}

/** The run's page in the Temporal Web UI. */
export function webUiLink(workflowId: string, runId: string): string {
  const c = config();
  // NIGHTSHIFT_UI_URL=none (the cluster runs no Web UI): no link that would open another stack's UI, or nothing
  if (c.temporal.uiUrl === null) return `(no Web UI in this deployment: the workflow is ${workflowId}, run ${runId})`;
  return `${c.temporal.uiUrl}/namespaces/${encodeURIComponent(c.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

interface Started {
  workflowId: string;
  runId: string;
  url: string;
}

/** Runs a typed start (starts/); a second start while one runs under the same id is a clear failure. */
async function start<W extends Workflow>(
  client: Client,
  workflowId: string,
  begin: () => Promise<WorkflowHandle<W>>,
): Promise<{ started: Started; handle: WorkflowHandle<W> }> {
  let handle: WorkflowHandle<W>;
  try {
    handle = await begin();
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = client.workflow.getHandle(workflowId);
      const { runId } = await running.describe();
      // no cause: the CLI prints the innermost message, and this one says more than the SDK's
      // eslint-disable-next-line preserve-caught-error
      throw new Error(`${workflowId} is already running: wait for it or follow it at ${webUiLink(workflowId, runId)}`);
    }
    throw err;
  }
  const started = { workflowId, runId: handle.firstExecutionRunId, url: webUiLink(workflowId, handle.firstExecutionRunId) };
  return { started, handle };
}

const startedText = (s: Started) => `started ${s.workflowId} (run ${s.runId})\nfollow it in the Temporal Web UI: ${s.url}`;

interface BackupFlags {
  target?: string;
  reason: string;
  dateSubfolder?: boolean;
  documents?: boolean;
  wait?: boolean;
  json?: boolean;
}

interface TriggerFlags {
  target?: string;
  event: string;
  wait?: boolean;
  json?: boolean;
}

interface RestoreFlags {
  target?: string;
  at?: string;
  as?: string;
  replace?: boolean;
  verifyOnly?: boolean;
  from?: string;
  kind?: string;
  wait?: boolean;
  json?: boolean;
}

function backupResultText(r: BackupDossierResult): string {
  return `wrote ${r.file}: ${r.tables} tables, ${r.rows} rows, ${r.documents} documents, ${r.bytes} bytes in ${r.durationMs} ms (snapshot ${operatorDateTime(new Date(r.snapshotAt), zone())}, ${zone()})` + offsiteCopyText(r);
}

/** R-BK-14: the archive's off-site copy, when the worker copies off-site; a failed one leaves the backup done (exit 0) */
function offsiteCopyText(r: BackupDossierResult): string {
  if (!r.offsite) return '';
  if (r.offsite.state === 'copied') return `\ncopied off-site to ${r.offsite.bucket}/${r.offsite.key}`;
  return `\n${r.offsite.error}\nthe backup is kept, its copy recorded failed: the next backup batch copies it first (nightshift backup list ${r.code} --target ${r.target})`;
}

function verifyText(v: VerifyArchiveResult & { keyId?: string }): string {
  return [
    `${v.file}: valid archive of dossier ${v.code} (${v.label}), patch level ${v.patchLevel}`,
    // in the operator's zone as `backup list` prints them (drill R, session 39), the snapshot's UTC instant beside it (what --at takes to the millisecond)
    `snapshot ${operatorDateTime(new Date(v.snapshotAt), zone())} (${zone()}; ${v.snapshotAt}), written ${operatorDateTime(new Date(v.createdAt), zone())}, ` +
      `${v.codec}, ${v.keyId === undefined ? 'not encrypted' : `encrypted with key ${v.keyId}`}`,
    ...v.tables.map((t) => `  ${t.name.padEnd(24)} ${t.rows} rows`),
    `${v.documents} documents, ${v.parts} parts, every checksum verified`,
  ].join('\n');
}

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('back up and restore dossiers');

  backup
    .command('dossier')
    .description('back up one dossier into B{code}.SVG (starts the backup-dossier workflow)')
    .argument('<code>', 'dossier code')
    .addOption(new Option('--reason <reason>', `why: the folder follows (EchangePrest/, Cloture/): ${BACKUP_REASONS.join(', ')}`).default('manual'))
    .option('--date-subfolder', 'write into a sub-folder named from the date (YYYYMMDD)')
    .option('--documents', "include the dossier's documents folder")
    .option('--wait', 'wait for the backup to finish and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (code: string, flags: BackupFlags) => {
        const t = target(flags.target);
        const parsed = backupDossierInputSchema.safeParse({
          target: t.name,
          code,
          // any case (MANUAL), said in one line when it is none of them (commander's choices printed two)
          reason: wordFlag('--reason', BACKUP_REASONS, flags.reason),
          dateSubfolder: Boolean(flags.dateSubfolder),
          includeDocuments: Boolean(flags.documents),
        });
        if (!parsed.success) throw usage(parsed.error, { code: 'CODE', reason: '--reason' });
        const input: BackupDossierInput = parsed.data;
        // an unknown code is a slip (exit 2, the one meant named), refused before Temporal is reached (drill X, session 40:
        // Temporal away said that first, after 6 s) and before a workflow starts
        await withPools(t.name, async (pool) => {
          if ((await unknownCodes(pool, [input.code])).length) throw new UsageError(`unknown dossier ${input.code} in target ${t.name}${await caseHint(pool, input.code)}; nothing started`);
          // R-BK-3, as `backup trigger` says it: a dossier open in a session would fail the backup once started
          const { inUse } = await readBackupTriggerState(pool, input.code);
          if (inUse > 0) throw permanentFailure(FailureType.DossierInUse, `dossier ${input.code} is open in ${inUse} session(s): ${DOSSIER_IN_USE_MESSAGE}; nothing started`);
        });
        await withTemporal(async (client) => {
          const { started, handle } = await start(client, backupDossierWorkflowId(input.target, input.code), () =>
            startBackupDossier(client, input, { taskQueue: config().temporal.taskQueue, summary: `Back up dossier ${input.code} (${input.reason})` }),
          );
          if (!flags.wait) return output(flags.json, started, startedText);
          if (!flags.json) process.stdout.write(`${startedText(started)}\n`);
          const result = await waitSayingRetries(handle, flags.json);
          output(flags.json, { ...started, result }, (v) => backupResultText(v.result));
        });
      }),
    );

  backup
    .command('trigger')
    .description('back up one dossier on an event (R-BK-9) if its setting says so: before-exchange, before-closing, on-exit')
    .argument('<code>', 'dossier code')
    .requiredOption('--event <event>', 'provider-exchange (EchangePrest/), closing (Cloture/) or exit (the backup folder), in any case')
    .option('--wait', 'wait for the backup to finish and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (codeArg: string, flags: TriggerFlags) => {
        const code = parseFlag('CODE', dossierCodeSchema, codeArg);
        // any case (EXIT), as the other fixed words; commander's choices were case-sensitive
        const event = parseFlag('--event', backupEventSchema, wordFlag('--event', BACKUP_EVENTS, flags.event));
        const t = target(flags.target);
        const { state, plan, hint } = await withPools(t.name, async (pool) => {
          const checked = await checkBackupTrigger(pool, config(), t.name, code, event);
          return { ...checked, hint: checked.state.dossier ? '' : await caseHint(pool, code) };
        });
        if (!state.dossier) throw new UsageError(`unknown dossier "${code}" in target ${t.name}${hint}`);
        if (!plan.triggered) {
          output(flags.json, disabledAnswer(plan), (v) => v.message);
          return EXIT_OK;
        }
        if (state.inUse > 0) throw permanentFailure(FailureType.DossierInUse, `dossier ${code} is open in ${state.inUse} session(s): ${DOSSIER_IN_USE_MESSAGE}`);
        await withTemporal(async (client) => {
          const s = await startTriggeredBackup(client, config().temporal.taskQueue, plan);
          const info = { ...triggeredAnswer(plan, s), url: webUiLink(s.workflowId, s.runId) };
          const text = (v: typeof info) =>
            `${v.alreadyRunning ? 'already running' : 'started'} ${v.workflowId} (run ${v.runId}): backup of dossier ${code} ${BACKUP_EVENT_RULES[event].label} ` +
            `into ${v.folder ? `${v.folder}/` : 'the backup folder'} (${v.setting.key} = ${settingText(v.setting.value)}, ${v.setting.source})\n` +
            `follow it in the Temporal Web UI: ${v.url}`;
          if (!flags.wait) return output(flags.json, info, text);
          if (!flags.json) process.stdout.write(`${text(info)}\n`);
          const result = (await waitSayingRetries(client.workflow.getHandle(s.workflowId, s.runId), flags.json)) as BackupDossierResult;
          output(flags.json, { ...info, result }, (v) => backupResultText(v.result));
        });
      }),
    );

  backup
    .command('restore')
    .description(
      'restore ("remonter") an archive into a dossier, or only verify it; with --at, the generation of dossier CODE taken at or just before DATE; ' +
        'with --all or --codes, those of many dossiers (a lost database) in one durable run',
    )
    .argument('[file]', 'the B{code}.SVG archive (the worker reads it: give a path it can open), or with --at a dossier code; none with --all, --codes, --run, --retry')
    .option('--at <date>', "restore the dossier's generation taken at or just before DATE (2026-12-01: that day's last; 2026-12-01T13:00; the operator's time zone)")
    .option('--as <code>', 'restore under another dossier code')
    .option('--replace', 'replace an existing dossier of that code (refused otherwise)')
    .option('--verify-only', 'read and check the whole archive here, without Temporal or any database change')
    .option('--from <place>', "with --at: where the generation is read: local (its file only) or offsite (its off-site copy); default: the file, or its off-site copy when the file is not on the worker")
    .option('--kind <kind>', `with --at: only generations of that folder kind (${GENERATION_KINDS.join(', ')}); default: any kind, the newest`)
    .option('--all', 'with --at: every dossier with a generation at or before DATE in the generations catalog (a lost database), in one restore run; dossiers there are kept without --replace')
    .option('--codes <codes>', 'with --at: these dossiers (A,B,C), in one restore run')
    .option('--run <id>', "a restore run's state from its ledger (its number, or its workflow id): restored, kept, failed with why")
    .option('--retry <id>', 'the dossiers restore run ID could not restore, again (as it was asked)')
    .option('--dry-run', 'with --all or --codes: how many dossiers the run would restore, keep, and which it cannot (no generation); starts nothing')
    .option('--yes', 'with --all or --codes: go ahead when --replace would put dossiers that are there back as they were, or the supervisor below other dossiers (R-PI-4)')
    .option('--wait', 'wait for the restore to finish and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (fileArg: string | undefined, flags: RestoreFlags & RestoreRunFlags) => {
        if (isRestoreRun(flags)) return restoreRunCommand(fileArg, flags);
        if (flags.dryRun) throw new UsageError('--dry-run goes with --all or --codes (a restore run)');
        if (fileArg === undefined) throw new UsageError('FILE: missing; expected an archive file, or with --at a dossier code (or --all / --codes for many dossiers)');
        // '' would resolve to the current folder (then "not a regular file", exit 1): a slip of the shell, bad usage
        if (!fileArg.trim()) throw new UsageError(`FILE: empty; expected an archive file, or with --at a dossier code`);
        if (flags.at !== undefined) return restoreAt(fileArg, flags);
        if (flags.from !== undefined) throw new UsageError('--from is for a generation: give a dossier code and --at DATE (a FILE is read where it is)');
        if (flags.kind !== undefined) throw new UsageError('--kind is for a generation: give a dossier code and --at DATE (a FILE is restored whatever its kind)');
        const file = path.resolve(fileArg);
        if (flags.as !== undefined) parseFlag('--as', dossierCodeSchema, flags.as);
        if (flags.verifyOnly) {
          // read here, without any database: a dossier code given for a file is only guessed from its shape (drill C)
          if (!fs.existsSync(file) && !fileArg.includes('/') && dossierCodeSchema.safeParse(fileArg).success) {
            throw new UsageError(
              `no archive file ${file}; if ${fileArg} is a dossier: verify its generations with 'nightshift backup verify --codes ${fileArg} --wait' (each one's file: 'nightshift backup list ${fileArg} --json')`,
            );
          }
          const verified = await verifyArchive(file, loadBackupKeyring(config().backupKeys));
          return output(flags.json, verified, verifyText);
        }
        const t = target(flags.target);
        // a FILE that is not here where its folder is: a typo, or a dossier code without --at (refused, nothing started);
        // missing with its folder too, it may be a path only the worker hosts see
        if (!fs.existsSync(file) && fs.existsSync(path.dirname(file))) {
          const code = dossierCodeSchema.safeParse(fileArg).success && !(await withPools(t.name, (pool) => unknownCodes(pool, [fileArg]))).length ? fileArg : undefined;
          throw new UsageError(
            code
              ? `${code} is a dossier, not an archive file here: restore one of its generations with --at DATE (see 'nightshift backup list ${code}'); nothing started`
              : `no archive file ${file} (its folder ${path.dirname(file)} is here, without it); nothing started`,
          );
        }
        // the workflow is named after the dossier it writes: the archive's code unless --as
        const code = flags.as ?? (await readArchiveHeader(file, loadBackupKeyring(config().backupKeys))).code;
        const parsed = restoreDossierInputSchema.safeParse({ target: t.name, file, as: code, replace: Boolean(flags.replace) });
        if (!parsed.success) throw usage(parsed.error, { file: 'FILE', as: '--as' });
        const input: RestoreDossierInput = parsed.data;
        // refused before anything starts, as with --at (the worker would refuse it after reading the archive)
        await withPools(t.name, (pool) => refuseExistingCode(pool, code, input.replace, flags.as !== undefined));
        await withTemporal(async (client) => {
          const { started, handle } = await start(client, restoreDossierWorkflowId(input.target, code), () =>
            startRestoreDossier(client, { ...input, as: code }, { taskQueue: config().temporal.taskQueue, summary: `Restore ${path.basename(file)} as dossier ${code}${input.replace ? ' (replace)' : ''}` }),
          );
          if (!flags.wait) return output(flags.json, started, startedText);
          if (!flags.json) process.stdout.write(`${startedText(started)}\n`);
          const result = await waitSayingRetries(handle, flags.json);
          output(flags.json, { ...started, result }, (v) => `restored dossier ${v.result.code}: ${v.result.tables} tables, ${v.result.rows} rows, ${v.result.documents} documents in ${v.result.durationMs} ms${restoreRealignedText(v.result.ledgerRealigned)}`);
        });
      }),
    );

  registerGenerationCommands(backup);
}

const zone = () => config().operatorTimeZone;

/** `backup restore CODE --at DATE`: the generation at or just before DATE, restored by the one restore workflow under a lease. */
async function restoreAt(codeArg: string, flags: RestoreFlags): Promise<void> {
  const code = parseFlag('CODE', dossierCodeSchema, codeArg);
  if (flags.verifyOnly) {
    throw new UsageError(
      `--at and --verify-only: verify a dossier's generations with 'nightshift backup verify --codes ${code}' (--full restores each into a scratch schema), ` +
        `or one file with 'nightshift backup restore FILE --verify-only' (each generation's file: 'nightshift backup list ${code} --json')`,
    );
  }
  if (flags.as !== undefined) parseFlag('--as', dossierCodeSchema, flags.as);
  const place = flags.from === undefined ? undefined : wordFlag('--from', RESTORE_PLACES, flags.from);
  const kind = flags.kind === undefined ? null : kindFlag(flags.kind);
  const at = parseRestoreAt(flags.at!, zone());
  if (at.problem !== undefined) throw new UsageError(`--at: ${at.problem}`);
  const when = at.at;
  const t = target(flags.target);
  const as = flags.as ?? code;
  const { g, skipped, from } = await withPools(t.name, async (pool) => {
    const chosen = await chooseGeneration(pool);
    // refused before anything starts (the worker would read the archive, maybe from the bucket, to refuse it then)
    await refuseExistingCode(pool, as, Boolean(flags.replace), flags.as !== undefined);
    return chosen;
  });
  async function chooseGeneration(pool: Parameters<typeof generationAt>[0]) {
    // the one choice of a restore --at (store/generations/restore-choice.ts), the bulk restore run's too
    const choice = await chooseRestoreGeneration(pool, code, when, { kind, place, zone: zone() });
    if (choice.g) return { g: choice.g, skipped: choice.skipped, from: choice.from };
    if (choice.problem !== undefined) throw new UsageError(choice.problem);
    const kept = (await dossierGenerations(pool, code)).filter((g) => kind === null || g.kind === kind);
    const oldest = kept[kept.length - 1];
    // none kept, and no such dossier: a code typed wrong, said as such (a deleted dossier's generations are still restorable)
    if (!oldest && (await unknownCodes(pool, [code])).length) throw new UsageError(`unknown dossier ${code} in target ${t.name}${await caseHint(pool, code)}`);
    // in the same second as the time asked (`--at …:36,000` for a generation of …:36.412): the milliseconds tell them apart
    const sameSecond = oldest !== undefined && operatorDateTime(when, zone()) === operatorDateTime(oldest.snapshotAt, zone());
    const shown = (d: Date) => `${operatorDateTime(d, zone())}${sameSecond ? `.${String(d.getTime() % 1000).padStart(3, '0')}` : ''}`;
    throw new UsageError(
      `no kept ${kind === null ? '' : `${kind} `}generation of dossier ${code} at or before ${shown(when)} (${zone()})` +
        (oldest ? `: the oldest kept is of ${shown(oldest.snapshotAt)}; see 'nightshift backup list ${code}'` : `: it has none${await caseHint(pool, code)}`),
    );
  }
  const parsed = restoreDossierInputSchema.safeParse({ target: t.name, file: g.file, as, replace: Boolean(flags.replace), generationId: g.id, from });
  if (!parsed.success) throw usage(parsed.error, { file: 'FILE', as: '--as' });
  const input: RestoreDossierInput = parsed.data;
  const copy = `${g.offsiteBucket}/${g.offsiteKey}`;
  // a date past today is most likely a typo (a year): what it means is said before anything starts
  const future = when.getTime() > Date.now() + 24 * 3600_000 ? `${flags.at!.trim()} is in the future: the newest generation before it is the newest of all\n` : '';
  const notes =
    future +
    (skipped ? `generation ${skipped.g.id}, taken ${operatorDateTime(skipped.g.snapshotAt, zone())}, ${skipped.why}: an older one is restored\n` : '') +
    (from === 'offsite' && !isValidGeneration(g) && place === undefined ? `generation ${g.id}'s file is ${g.verifyState} ${foundBy(g)}: its off-site copy is restored\n` : '');
  const restored =
    `generation ${g.id} of dossier ${code}, taken ${operatorDateTime(g.snapshotAt, zone())} (${zone()}), ${g.kind}, ${sizeText(g.size)}` +
    (from === 'offsite' ? `, read from its off-site copy ${copy}` : from === 'auto' && hasOffsiteCopy(g) ? ` (its off-site copy ${copy} if the file is not on the worker)` : '');
  const chosen = notes + restored;
  // the Web UI's summary leads with the generation restored, then why (drill W, session 40: it began with the one passed over)
  const summary = `Restore ${restored} as dossier ${as}${input.replace ? ' (replace)' : ''}${notes ? `\n${notes.trimEnd()}` : ''}`;
  await withTemporal(async (client) => {
    const { started, handle } = await start(client, restoreDossierWorkflowId(input.target, as), () =>
      startRestoreDossier(client, { ...input, as }, { taskQueue: config().temporal.taskQueue, summary }),
    );
    const info = {
      ...started,
      generation: { id: g.id, code, snapshotAt: g.snapshotAt.toISOString(), kind: g.kind, file: g.file, size: g.size, ...(hasOffsiteCopy(g) && { offsiteCopy: { bucket: g.offsiteBucket!, key: g.offsiteKey! } }) },
      from,
      ...(skipped && { passedOver: { id: skipped.g.id, snapshotAt: skipped.g.snapshotAt.toISOString(), verifyState: skipped.g.verifyState, offsiteState: skipped.g.offsiteState } }),
    };
    const text = (v: typeof info) => `${chosen}\n${startedText(v)}`;
    if (!flags.wait) return output(flags.json, info, text);
    if (!flags.json) process.stdout.write(`${text(info)}\n`);
    const result = await waitSayingRetries(handle, flags.json);
    output(
      flags.json,
      { ...info, result },
      (v) =>
        `restored dossier ${v.result.code} from generation ${g.id}${v.result.offsiteCopy ? ` (its off-site copy ${v.result.offsiteCopy.bucket}/${v.result.offsiteCopy.key})` : ''}: ` +
        `${v.result.tables} tables, ${v.result.rows} rows, ${v.result.documents} documents in ${v.result.durationMs} ms${restoreRealignedText(v.result.ledgerRealigned)}`,
    );
  });
}

/**
 * A restore's code checked before anything starts (the worker refuses the same, after reading the archive): an existing
 * dossier of that code without --replace, or one whose code differs from it only by case, with or without --replace
 * (codes are case-sensitive, and the registry keeps them unique in any case: `--as demo0006 --replace` replaced
 * DEMO0006). `asFlag`: the code came from --as.
 */
async function refuseExistingCode(pool: Parameters<typeof codeInAnyCase>[0], code: string, replace: boolean, asFlag: boolean): Promise<void> {
  const existing = await codeInAnyCase(pool, code);
  if (existing === undefined) return;
  if (existing !== code) throw new UsageError(`${asFlag ? '--as: ' : ''}${caseTwinMessage(existing, code, 'started')}`);
  if (!replace) throw new UsageError(`dossier ${code} already exists: restore beside it with --as NEWCODE, or over it with --replace`);
}

/**
 * `backup list`'s last lines: the restore of the newest generation that can be restored (its file, or its copy), or
 * that none can. One whose key the last verification lacked (its own key problem, or another's with the same key id)
 * would fail the same way: the newest one without is proposed, saying why it is not the newest.
 */
function restoreHint(
  code: string,
  generations: { date: string; prunedAt: string | null; keyId: string | null; keyProblem: unknown; verifyState: VerifyState; offsiteState: OffsiteState }[],
  registered: boolean,
): string[] {
  const restorable = generations.filter((g) => !g.prunedAt && isRestorable(g));
  const keysLacking = new Set(generations.filter((g) => g.keyProblem && g.keyId !== null).map((g) => g.keyId));
  const readable = restorable.find((g) => !g.keyProblem && (g.keyId === null || !keysLacking.has(g.keyId)));
  const newest = restorable[0];
  if (newest === undefined) {
    return [
      registered
        ? `restore: no kept generation of ${code} can be restored (files found corrupt or missing, no off-site copy): back it up again`
        : `restore: no kept generation of ${code} can be restored (files found corrupt or missing, no off-site copy)`,
    ];
  }
  if (readable === undefined) return [`restore: every kept generation of ${code} that can be restored needs a key the last verification lacked (${[...keysLacking].join(', ')}): give the workers that key first`];
  const keyNote = readable !== newest ? [`  (not the newest, ${newest.date}: its key ${newest.keyId} was lacking at the last verification)`] : [];
  // a deleted dossier comes back under its own code (drill Y: --as / --replace were offered for a dossier that is gone)
  if (!registered) return [`restore one: nightshift backup restore ${code} --at '${readable.date}' (dossier ${code} no longer exists: it comes back under its code, or --as NEWCODE)`, ...keyNote];
  // the dossier usually exists: beside it under a new code, or over it
  return [`restore one: nightshift backup restore ${code} --at '${readable.date}' --as NEWCODE (or --replace to overwrite ${code})`, ...keyNote];
}

/** restore --from: the places a generation is read from (default: the file, or its copy when the file is not on the worker) */
const RESTORE_PLACES = ['local', 'offsite'] as const;

const hasOffsiteCopy = (g: Generation): boolean => offsiteCopyOf(g) !== undefined;

interface ListFlags {
  target?: string;
  all?: boolean;
  json?: boolean;
}

interface PruneFlags {
  target?: string;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
}

function registerGenerationCommands(backup: Command): void {
  registerForgetCommand(backup);
  backup
    .command('list')
    .description("a dossier's generations (R-BK-11), newest first: date, kind, size, verification, off-site copy, why kept")
    .argument('<code>', 'dossier code')
    .option('--all', 'the pruned generations too')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (codeArg: string, flags: ListFlags) => {
        const code = parseFlag('CODE', dossierCodeSchema, codeArg);
        const t = target(flags.target);
        const { rows, policies, registered } = await withPools(t.name, async (pool) => {
          const retention = await loadRetention(pool, config());
          const registered = !(await unknownCodes(pool, [code])).length;
          const plan = await planDossierPrune(pool, code, retention.policies, config().timeZone, { offsiteConfigured: config().offsite !== undefined });
          await keepFilesFoundAgain(plan.generations);
          const why = new Map(plan.generations.map((g) => [g.id, g.decision]));
          const all = flags.all ? await dossierGenerations(pool, code, { deleted: true }) : plan.generations;
          // no generation: a dossier that is not registered and never had one is a code typed wrong (a deleted
          // dossier's generations are still listed)
          if (!all.length && !registered && (flags.all || !(await dossierGenerations(pool, code, { deleted: true })).length)) {
            throw new UsageError(`unknown dossier ${code} in target ${t.name}${await caseHint(pool, code)}`);
          }
          // a later verification that could not read it for want of its key leaves verify_state as it was: said beside it
          const keyProblems = new Map((await latestKeyProblems(pool, all.map((g) => g.id))).map((p) => [p.generationId, p]));
          const keyProblemSince = (g: (typeof all)[number]) => {
            const p = keyProblems.get(g.id);
            return p && (g.verifiedAt === null || p.at > g.verifiedAt) ? { at: operatorDateTime(p.at, zone()), error: p.error } : null;
          };
          return {
            policies: retention.details,
            registered,
            rows: all.map((g) => ({
              id: g.id,
              date: operatorDateTime(g.snapshotAt, zone()),
              snapshotAt: g.snapshotAt.toISOString(),
              kind: g.kind,
              size: g.size,
              reason: g.reason,
              verifyState: g.verifyState,
              verifiedAt: g.verifiedAt && operatorDateTime(g.verifiedAt, zone()),
              keyProblem: keyProblemSince(g),
              offsiteState: g.offsiteState,
              file: g.file,
              kept: g.deletedAt === null ? (why.get(g.id)?.keep ?? true) : false,
              keptBecause: why.get(g.id)?.reasons ?? [],
              // deleted by the next prune: why (R-BK-11)
              deletedBecause: g.deletedAt === null && why.get(g.id)?.keep === false ? deletionReason(why.get(g.id)!, g.kind, retention.policies[g.kind]) : null,
              keyId: g.keyId,
              prunedAt: g.deletedAt && operatorDateTime(g.deletedAt, zone()),
              prunedBy: g.deletedBy,
              // `backup forget` (R-BK-11): when and by whom; the next prune deletes it
              forgottenAt: g.forgottenAt && operatorDateTime(g.forgottenAt, zone()),
              forgottenBy: g.forgottenBy,
            })),
          };
        });
        // a dossier never backed up (or all pruned) is no slip: said, exit 0
        if (!rows.length && !flags.json) {
          process.stdout.write(`dossier ${code} has no ${flags.all ? '' : 'kept '}generation in target ${t.name}: back it up with 'nightshift backup dossier ${code}'\n`);
          return;
        }
        output(flags.json, { code, registered, timeZone: zone(), policies, generations: rows }, (v) =>
          [
            `generations of dossier ${code} (target ${t.name}), newest first; times in ${zone()}`,
            ...v.generations.map((g) => {
              const verified =
                (g.verifyState === 'unverified' ? 'unverified' : `${g.verifyState} ${g.verifiedAt ?? ''}`.trim()) + (g.keyProblem ? `, key problem ${g.keyProblem.at}` : '');
              const fate = g.prunedAt ? `pruned ${g.prunedAt}` : g.kept ? `kept: ${g.keptBecause.join(', ') || 'new'}` : `next prune deletes it: ${g.deletedBecause}`;
              const key = g.keyId ? `key ${g.keyId}` : 'plain';
              return `  ${String(g.id).padStart(6)}  ${g.date}  ${g.kind.padEnd(12)} ${sizeText(g.size).padStart(10)}  ${verified.padEnd(30)} off-site ${g.offsiteState.padEnd(8)} ${key.padEnd(16)} ${g.reason.padEnd(20)} ${fate}`;
            }),
            `retention: ${v.policies.map((p) => `${p.kind} ${retentionText(p.policy)} (${p.source})`).join('; ')}`,
            ...keyProblemHint(code, v.generations),
            ...restoreHint(code, v.generations, registered),
          ].join('\n'),
        );
      }),
    );

  backup
    .command('prune')
    .description('delete the generations the retention policy does not keep (R-BK-11; also after each batch)')
    .option('--dry-run', 'list what it would delete and why, here, changing nothing (no Temporal needed)')
    .option('--wait', 'wait for the prune to finish and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: PruneFlags) => {
        const t = target(flags.target);
        // as `backup run --dry-run --wait` says it (drill X, session 40: the prune took it in silence)
        if (flags.dryRun && flags.wait) throw new UsageError('--dry-run starts nothing: --wait has nothing to follow');
        if (flags.dryRun) return pruneDryRun(t.name, flags);
        return withTemporal(async (client) => {
          const workflowId = backupPruneWorkflowId(t.name, workflowIdTimestamp(new Date()));
          const { started, handle } = await start(client, workflowId, () => startBackupPrune(client, { target: t.name, trigger: 'manual' }, { taskQueue: config().temporal.taskQueue, workflowId }));
          if (!flags.wait) {
            output(flags.json, started, startedText);
            return EXIT_OK;
          }
          const unsay = sayOnInterrupt('prune', `follow it in the Temporal Web UI: ${started.url}`);
          if (!flags.json) process.stdout.write(`${startedText(started)}\n`);
          // progress as the batch's --wait says it (33 s silent over 10,000 dossiers: scale drill)
          const stop = followProgress(
            () => handle.query(backupPruneProgressQuery),
            (p) => `prune: ${p.done} / ${p.total} dossier(s), ${p.failed} failed, ${p.deleted} generation(s) deleted (${p.phase})`,
            { json: flags.json },
          );
          // a prune that failed dossiers fails its workflow (BackupPrunePartial) with the result in its details
          const result = await pruneResult(lastingResult(() => handle.result(), 'the prune')).finally(() => {
            unsay();
            stop();
          });
          output(flags.json, { ...started, result }, (v) => pruneResultLines(v.result).join('\n'));
          // as backup run and backup verify: a prune that did not complete (a dossier failed) is a failure
          return result.state === 'completed' ? EXIT_OK : EXIT_FAILED;
        });
      }),
    );
}

/** Generations a verification could not read for want of their key since it last could: what to do (R-BK-12). */
function keyProblemHint(code: string, generations: { id: number; keyId: string | null; keyProblem: { at: string } | null }[]): string[] {
  const unread = generations.filter((g) => g.keyProblem);
  if (!unread.length) return [];
  const keys = [...new Set(unread.map((g) => g.keyId).filter((k) => k !== null))];
  return [
    `key problem: the last verification of generation(s) ${unread.map((g) => g.id).join(', ')} could not read them without their key` +
      `${keys.length ? ` (${keys.join(', ')})` : ''}; the archives are not known to be at fault: give the workers that key, then 'nightshift backup verify --codes ${code} --wait'`,
  ];
}

/** The dry run, computed here page by page (never every dossier in memory): what the workflow would delete, and why the rest stays. */
async function pruneDryRun(targetName: string, flags: PruneFlags): Promise<void> {
  await withPools(targetName, async (pool) => {
    const retention = await loadRetention(pool, config());
    const doomed: { code: string; id: number; date: string; kind: string; size: number; file: string; why: string; offsiteKey: string | null }[] = [];
    // files left by interrupted backups, as the prune sweeps them (when this host sees the backup folder)
    const unrecorded: { code: string; date: string; size: number; file: string }[] = [];
    const backupFolder = (await loadBackupSettings(pool, config(), targetName)).settings.folder;
    // dossiers: examined; dossiersAffected: with a generation to delete
    const totals = { dossiers: 0, dossiersAffected: 0, deleted: 0, bytesFreed: 0, kept: 0, leased: 0, restorePoints: 0, unrecorded: 0, unrecordedBytes: 0 };
    const say = (line: string) => {
      if (!flags.json) process.stdout.write(`${line}\n`);
    };
    say(`dry run: nothing is changed; retention ${retention.details.map((p) => `${p.kind} ${retentionText(p.policy)} (${p.source})`).join('; ')}; periods in ${config().timeZone}`);
    if (retention.ignored) say(`warning: the common retention value is ignored: ${retention.ignored}`);
    // the real prune runs on a worker, with its own environment (R-BK-9: local > common > default): a value only this
    // host has makes this list another prune's (drill Y: 4 generations listed, the prune deleted none)
    const local = retention.details.filter((p) => p.source === 'local').map((p) => p.kind);
    if (local.length) {
      say(
        `warning: ${local.join(', ')} from this host's NIGHTSHIFT_BACKUP_RETENTION: the real prune runs on a worker and uses that worker's own value, ` +
          "or the common one where it has none ('nightshift backup settings show' on the worker's host says which)",
      );
    }
    // the workers count days, weeks and months in their zone (their last prune's result says which): in another here,
    // this list is another night's prune (drill R2, session 36: typed in UTC, it listed the generation the workers kept)
    const last = flags.json ? null : await lastPruneOutcome(pool, targetName, config().temporal.taskQueue).catch(() => null);
    const workerZone = last?.result?.timeZone;
    if (workerZone && workerZone !== config().timeZone) {
      say(`warning: the workers' last prune (${last!.workflowId}) counted its periods in ${workerZone}, this host in ${config().timeZone}: give NIGHTSHIFT_TIMEZONE=${workerZone} to list what they will delete`);
    }
    for (let after = ''; ; ) {
      const codes = await pruneDossierPage(pool, after, 500);
      for (const code of codes) {
        const plan = await planDossierPrune(pool, code, retention.policies, config().timeZone, { offsiteConfigured: config().offsite !== undefined });
        // as the prune does: a file recorded missing that is there again is kept (when this host sees the backup folder)
        await keepFilesFoundAgain(plan.generations);
        totals.dossiers++;
        if (plan.generations.some((g) => !g.decision.keep)) totals.dossiersAffected++;
        for (const g of plan.generations) {
          if (g.decision.keep) {
            totals.kept++;
            // kept only by a lease: said with what holds it, as the prune says it
            if (keptByLeaseOnly(g.decision)) {
              totals.leased++;
              if (g.decision.restorePoint) totals.restorePoints++;
            }
            continue;
          }
          totals.deleted++;
          // a file recorded missing frees nothing (it is not there: keepFilesFoundAgain above)
          const freed = g.verifyState === 'missing' ? 0 : g.size;
          totals.bytesFreed += freed;
          const why = deletionReason(g.decision, g.kind, retention.policies[g.kind]);
          const row = { code, id: g.id, date: operatorDateTime(g.snapshotAt, zone()), kind: g.kind, size: g.size, file: g.file, why };
          if (flags.json) doomed.push({ ...row, offsiteKey: g.offsiteKey && g.offsiteState !== 'deleted' ? g.offsiteKey : null });
          // its off-site object goes with it (R-BK-14): said, since it is the copy a lost disk would be restored from
          // a copy recorded failed or lost: whatever is left of it under its key
          const object =
            g.offsiteKey && g.offsiteState !== 'deleted'
              ? ` and ${g.offsiteState === 'copied' ? 'its off-site copy' : 'what is left of its off-site copy (recorded failed or lost)'} ${g.offsiteBucket ?? ''}/${g.offsiteKey}`
              : '';
          const size = freed ? sizeText(g.size) : 'its file already gone';
          if (!flags.json) say(`would delete ${code} generation ${g.id} of ${row.date} (${g.kind}, ${size}): ${why}  ${g.file}${object}`);
        }
        const dirs = generationsDirsOf(code, plan.generations.map((g) => g.file), backupFolder);
        for (const f of await findUnrecordedFiles(pool, code, { dirs, newestRecorded: plan.generations[0]?.snapshotAt })) {
          totals.unrecorded++;
          totals.unrecordedBytes += f.size;
          const row = { code, date: operatorDateTime(f.snapshotAt, zone()), size: f.size, file: f.file };
          if (flags.json) unrecorded.push(row);
          else say(`would delete ${code} unrecorded file of ${row.date} (${sizeText(f.size)}): left by an interrupted backup, older than its newest generation  ${f.file}`);
        }
      }
      if (codes.length < 500) break;
      after = codes[codes.length - 1]!;
    }
    const summary = `would delete ${totals.deleted} generation(s) (${sizeText(totals.bytesFreed)}) of ${totals.dossiersAffected} dossier(s) (${totals.dossiers} examined); would keep ${totals.kept}${heldText(totals.leased, totals.restorePoints)}. Prune for real: nightshift backup prune --target ${targetName}`;
    // the off-site objects of generations pruned before, left when the storage refused or was away: the prune deletes
    // them too (drill B, session 35: the dry run said 0, the prune then "finished removing 3 off-site copies")
    const offsiteLeft = (await copiesByBucket(pool)).reduce((n, b) => n + b.pruned, 0);
    if (flags.json) output(true, { dryRun: true, policies: retention.details, ...(local.length ? { localRetention: local } : {}), timeZone: config().timeZone, ...totals, offsiteLeft, generations: doomed, unrecordedFiles: unrecorded }, () => '');
    else {
      if (totals.unrecorded) say(unrecordedText(totals.unrecorded, sizeText(totals.unrecordedBytes), true));
      if (offsiteLeft) say(`would delete ${offsiteLeft} off-site cop${offsiteLeft === 1 ? 'y' : 'ies'} of generations pruned before, left when the storage refused or was away ('nightshift backup info' counts them by bucket)`);
      say(summary);
    }
  });
}


import path from 'node:path';
import { Option, type Command } from 'commander';
import { type Client, type Workflow, WorkflowExecutionAlreadyStartedError, type WorkflowHandleWithFirstExecutionRunId as WorkflowHandle } from '@temporalio/client';
import { z } from 'zod';
import { UsageError } from '../../config/config';
import { backupDossierInputSchema, restoreDossierInputSchema } from '../../domain/backup';
import { settingText } from '../../domain/backup-batch';
import { BACKUP_EVENT_RULES, backupEventSchema } from '../../domain/backup-trigger';
import { dossierCodeSchema } from '../../domain/dossier';
import { DOSSIER_IN_USE_MESSAGE, FailureType, permanentFailure } from '../../domain/failures';
import { checkBackupTrigger, disabledAnswer, startTriggeredBackup, triggeredAnswer } from '../../gate/backup-trigger';
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
import { startBackupDossier, startRestoreDossier } from '../../starts';
import { EXIT_OK, action, config, jsonOption, output, parseFlag, target, targetOption, withPools, withTemporal } from '../context';

/** nightshift backup dossier|trigger|restore: starts the single-dossier workflows (R-BK-5, R-BK-9 events); verify-only runs locally. */

function usage(error: z.ZodError, flags: Record<string, string>): UsageError {
  return new UsageError(error.issues.map((i) => `${flags[String(i.path[0])] ?? String(i.path[0] ?? 'value')}: ${i.message}`).join('; '));
}

/** The run's page in the Temporal Web UI. */
export function webUiLink(workflowId: string, runId: string): string {
  const c = config();
  return `http://localhost:${c.temporal.uiPort}/namespaces/${encodeURIComponent(c.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
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
  as?: string;
  replace?: boolean;
  verifyOnly?: boolean;
  wait?: boolean;
  json?: boolean;
}

function backupResultText(r: BackupDossierResult): string {
  return `wrote ${r.file}: ${r.tables} tables, ${r.rows} rows, ${r.documents} documents, ${r.bytes} bytes in ${r.durationMs} ms (snapshot ${r.snapshotAt})`;
}

function verifyText(v: VerifyArchiveResult & { keyId?: string }): string {
  return [
    `${v.file}: valid archive of dossier ${v.code} (${v.label}), patch level ${v.patchLevel}`,
    `snapshot ${v.snapshotAt}, written ${v.createdAt}, ${v.codec}, ${v.keyId === undefined ? 'not encrypted' : `encrypted with key ${v.keyId}`}`,
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
    .addOption(new Option('--reason <reason>', 'why: the folder follows (EchangePrest/, Cloture/)').choices(BACKUP_REASONS).default('manual'))
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
          reason: flags.reason,
          dateSubfolder: Boolean(flags.dateSubfolder),
          includeDocuments: Boolean(flags.documents),
        });
        if (!parsed.success) throw usage(parsed.error, { code: 'CODE', reason: '--reason' });
        const input: BackupDossierInput = parsed.data;
        await withTemporal(async (client) => {
          const { started, handle } = await start(client, backupDossierWorkflowId(input.target, input.code), () =>
            startBackupDossier(client, input, { taskQueue: config().temporal.taskQueue, summary: `Back up dossier ${input.code} (${input.reason})` }),
          );
          if (!flags.wait) return output(flags.json, started, startedText);
          if (!flags.json) process.stdout.write(`${startedText(started)}\n`);
          const result = await handle.result();
          output(flags.json, { ...started, result }, (v) => backupResultText(v.result));
        });
      }),
    );

  backup
    .command('trigger')
    .description('back up one dossier on an event (R-BK-9) if its setting says so: before-exchange, before-closing, on-exit')
    .argument('<code>', 'dossier code')
    .addOption(new Option('--event <event>', 'provider-exchange (EchangePrest/), closing (Cloture/) or exit (the backup folder)').choices(BACKUP_EVENTS).makeOptionMandatory())
    .option('--wait', 'wait for the backup to finish and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (codeArg: string, flags: TriggerFlags) => {
        const code = parseFlag('CODE', dossierCodeSchema, codeArg);
        const event = parseFlag('--event', backupEventSchema, flags.event);
        const t = target(flags.target);
        const { state, plan } = await withPools(t.name, (pool) => checkBackupTrigger(pool, config(), t.name, code, event));
        if (!state.dossier) throw new UsageError(`unknown dossier "${code}" in target ${t.name}`);
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
          const result = (await client.workflow.getHandle(s.workflowId, s.runId).result()) as BackupDossierResult;
          output(flags.json, { ...info, result }, (v) => backupResultText(v.result));
        });
      }),
    );

  backup
    .command('restore')
    .description('restore ("remonter") an archive into a dossier, or only verify it')
    .argument('<file>', 'the B{code}.SVG archive (the worker reads it: give a path it can open)')
    .option('--as <code>', 'restore under another dossier code')
    .option('--replace', 'replace an existing dossier of that code (refused otherwise)')
    .option('--verify-only', 'read and check the whole archive here, without Temporal or any database change')
    .option('--wait', 'wait for the restore to finish and print its result')
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (fileArg: string, flags: RestoreFlags) => {
        const file = path.resolve(fileArg);
        if (flags.as !== undefined) parseFlag('--as', dossierCodeSchema, flags.as);
        if (flags.verifyOnly) {
          const verified = await verifyArchive(file, loadBackupKeyring(config().backupKeys));
          return output(flags.json, verified, verifyText);
        }
        const t = target(flags.target);
        // the workflow is named after the dossier it writes: the archive's code unless --as
        const code = flags.as ?? (await readArchiveHeader(file, loadBackupKeyring(config().backupKeys))).code;
        const parsed = restoreDossierInputSchema.safeParse({ target: t.name, file, as: code, replace: Boolean(flags.replace) });
        if (!parsed.success) throw usage(parsed.error, { file: 'FILE', as: '--as' });
        const input: RestoreDossierInput = parsed.data;
        await withTemporal(async (client) => {
          const { started, handle } = await start(client, restoreDossierWorkflowId(input.target, code), () =>
            startRestoreDossier(client, { ...input, as: code }, { taskQueue: config().temporal.taskQueue, summary: `Restore ${path.basename(file)} as dossier ${code}${input.replace ? ' (replace)' : ''}` }),
          );
          if (!flags.wait) return output(flags.json, started, startedText);
          if (!flags.json) process.stdout.write(`${startedText(started)}\n`);
          const result = await handle.result();
          output(flags.json, { ...started, result }, (v) => `restored dossier ${v.result.code}: ${v.result.tables} tables, ${v.result.rows} rows, ${v.result.documents} documents in ${v.result.durationMs} ms`);
        });
      }),
    );
}

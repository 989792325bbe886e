import { z } from 'zod';
import { BACKUP_EVENTS, type BackupDossierInput, type BackupEvent, type BackupReason, backupTriggerWorkflowId } from '../workflows/backup-dossier.api';
import { REASON_FOLDERS } from './backup';
import { type BackupSettingKey, type BackupSettings, type ResolvedSetting, type SettingSource, BACKUP_SETTING_LABELS, settingText } from './backup-batch';

/**
 * R-BK-9 single-dossier backups on an event (the gate's backup route, the close of a dossier, `nightshift
 * backup trigger`): which setting decides each event, and the backup it asks for (R-BK-5 folder).
 */

export const backupEventSchema = z.enum(BACKUP_EVENTS, { error: `expected one of ${BACKUP_EVENTS.join(', ')}` });

type EventSettingKey = Extract<BackupSettingKey, 'on-exit' | 'before-exchange' | 'before-closing'>;

export const BACKUP_EVENT_RULES = {
  'provider-exchange': { setting: 'before-exchange', reason: 'echange-prestataire', label: 'before a provider exchange' },
  closing: { setting: 'before-closing', reason: 'cloture', label: 'before closing the dossier' },
  exit: { setting: 'on-exit', reason: 'manual', label: 'on dossier exit' },
} as const satisfies Record<BackupEvent, { setting: EventSettingKey; reason: BackupReason; label: string }>;

/** on-exit is never|always; the two others are yes|no. */
export function eventEnabled(key: EventSettingKey, value: BackupSettings[EventSettingKey]): boolean {
  return key === 'on-exit' ? value === 'always' : value === true;
}

export interface EventSetting {
  key: EventSettingKey;
  value: BackupSettings[EventSettingKey];
  source: SettingSource;
}

interface PlanBase {
  event: BackupEvent;
  target: string;
  code: string;
  setting: EventSetting;
}

export type BackupTriggerPlan =
  | (PlanBase & {
      triggered: true;
      input: BackupDossierInput;
      workflowId: string;
      /** R-BK-5 sub-folder of the backup folder, null for the folder itself */
      folder: string | null;
      summary: string;
    })
  | (PlanBase & { triggered: false; reason: 'disabled'; message: string });

/**
 * What an event asks for, from the effective settings (local > common > default): nothing when its
 * setting is off, else the backup with the event's reason (folder) and the date sub-folder and
 * documents settings, under the event's workflow id.
 */
export function planBackupTrigger(
  event: BackupEvent,
  target: string,
  code: string,
  resolved: { settings: BackupSettings; details: readonly ResolvedSetting[] },
): BackupTriggerPlan {
  const rule = BACKUP_EVENT_RULES[event];
  const value = resolved.settings[rule.setting];
  const source = resolved.details.find((d) => d.key === rule.setting)?.source ?? 'default';
  const setting: EventSetting = { key: rule.setting, value, source };
  const base = { event, target, code, setting };
  if (!eventEnabled(rule.setting, value)) {
    return {
      ...base,
      triggered: false,
      reason: 'disabled',
      message: `no backup ${rule.label}: ${rule.setting} is ${settingText(value)} (${source} value of "${BACKUP_SETTING_LABELS[rule.setting]}", R-BK-9)`,
    };
  }
  return {
    ...base,
    triggered: true,
    input: { target, code, reason: rule.reason, dateSubfolder: resolved.settings['date-subfolder'], includeDocuments: resolved.settings.documents },
    workflowId: backupTriggerWorkflowId(target, code, event),
    folder: REASON_FOLDERS[rule.reason] ?? null,
    summary: `Back up dossier ${code} ${rule.label} (R-BK-9)`,
  };
}

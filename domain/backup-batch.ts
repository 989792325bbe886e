import { z } from 'zod';
import { dossierCodeSchema } from './dossier';
import { emailAddressSchema } from './email';
import { DOSSIER_IN_USE_MESSAGE, FailureType } from './failures';
import { CONTROL_CHARS_PROBLEM, hasControlChars, shownInput } from './text';

/**
 * Pure rules of the backup batch of modified dossiers (seed 003): R-BK-9 settings and their
 * precedence, R-BK-2/R-BK-4 selection order, R-BK-7 report lines, R-BK-8 mail texts.
 */

// ---------------------------------------------------------------------------------------------
// R-BK-9 settings: local value (worker's machine) > common value (database) > default
// ---------------------------------------------------------------------------------------------

export const WHICH_DOSSIERS = ['originals-and-copies', 'originals', 'copies'] as const;
export type WhichDossiers = (typeof WHICH_DOSSIERS)[number];

const yesNo = z.preprocess(
  (v) => (typeof v === 'string' ? { yes: true, oui: true, true: true, '1': true, no: false, non: false, false: false, '0': false }[v.trim().toLowerCase()] ?? v : v),
  z.boolean({ error: (iss) => `expected yes or no, not '${shownInput(String(iss.input))}'` }),
);

/**
 * Addresses separated by commas (or `;`, spaces). An empty entry (`a@b.fr,,c@d.fr`, a trailing comma) is a slip, a list
 * cut short: refused, as `maintenance --notify` refuses it, not dropped. A blank value is nobody.
 */
const recipientSchema = emailAddressSchema((input) => `expected e-mail addresses separated by commas, not '${shownInput(input)}'`);
const recipients = z.preprocess(
  (v, ctx) => {
    if (typeof v !== 'string' || !v.trim()) return typeof v === 'string' ? [] : v;
    const entries = v.split(/[,;]/).map((e) => e.trim());
    if (entries.includes('')) {
      ctx.addIssue({ code: 'custom', input: v, message: "expected e-mail addresses separated by commas, got an empty one (to send to nobody, give '')" });
      return z.NEVER;
    }
    // one address given twice is mailed once, whatever its case (drill X, R, session 40: it was stored twice)
    const seen = new Set<string>();
    return entries.flatMap((e) => e.split(/\s+/)).filter((a) => !seen.has(a.toLowerCase()) && seen.add(a.toLowerCase()));
  },
  z
    .array(z.string())
    .max(50, 'at most 50 recipients')
    // the first address refused, by its value, and how many more (drill C: one line per entry said the same thing thrice)
    .superRefine((list, ctx) => {
      const refused = list.map((a) => recipientSchema.safeParse(a)).filter((r) => !r.success);
      if (refused.length) ctx.addIssue({ code: 'custom', message: `${refused[0]!.error.issues[0]!.message}${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''}` });
    }),
);

/** A word of a fixed lower-case set typed in any case (`ALWAYS`): read as that word, as the yes/no values are. */
const lowerWord = (v: unknown): unknown => (typeof v === 'string' ? v.trim().toLowerCase() : v);

/** One schema per key; values come from the CLI or the environment as text, from the database as JSON. */
export const BACKUP_SETTING_SCHEMAS = {
  folder: z
    .string()
    .trim()
    .min(1, 'expected a folder path')
    .max(4096)
    // the worker writes there and `settings show` prints it: no control character, NUL included (issue 9)
    .refine((p) => !hasControlChars(p), CONTROL_CHARS_PROBLEM)
    .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p), 'expected an absolute folder path (the worker writes there)')
    // stored as typed and compared as text with the shared store's path: one spelling per folder (`/srv/b`, not `/tmp/../srv/b`)
    .refine((p) => !/(^|[\\/])\.{1,2}([\\/]|$)/.test(p) && !/[\\/]{2}/.test(p.replace(/^[\\/]{2}/, '')), "expected a folder path without '.', '..' or empty parts (write it as it is: /srv/backups)")
    // a trailing separator is the same folder: stored without it, one spelling compared with the shared store's (drill C)
    .transform((p) => (/^([\\/]|[A-Za-z]:[\\/])$/.test(p) ? p : p.replace(/[\\/]+$/, ''))),
  'date-subfolder': yesNo,
  dossiers: z.preprocess(lowerWord, z.enum(WHICH_DOSSIERS, { error: `expected one of ${WHICH_DOSSIERS.join(', ')}` })),
  'modified-only': yesNo,
  documents: yesNo,
  'report-recipients': recipients,
  'on-exit': z.preprocess(lowerWord, z.enum(['never', 'always'], { error: 'expected never or always' })),
  'before-exchange': yesNo,
  'before-closing': yesNo,
} as const;

export type BackupSettingKey = keyof typeof BACKUP_SETTING_SCHEMAS;
export const BACKUP_SETTING_KEYS = Object.keys(BACKUP_SETTING_SCHEMAS) as BackupSettingKey[];
export type BackupSettings = { [K in BackupSettingKey]: z.infer<(typeof BACKUP_SETTING_SCHEMAS)[K]> };

export const BACKUP_SETTING_LABELS: Record<BackupSettingKey, string> = {
  folder: 'backup folder',
  'date-subfolder': 'date sub-folder (YYYYMMDD, rotation)',
  dossiers: 'dossiers backed up',
  'modified-only': 'modified since the last backup only',
  documents: 'include associated documents',
  'report-recipients': 'report recipients (e-mail on errors)',
  'on-exit': 'back up a dossier on exit',
  'before-exchange': 'back up before a provider exchange',
  'before-closing': 'back up before closing a dossier',
};

/** The defaults of R-BK-9; the default folder is `<data>/sauve`, known only from the config. */
export function defaultBackupSettings(defaultFolder: string): BackupSettings {
  return {
    folder: defaultFolder,
    'date-subfolder': false,
    dossiers: 'originals-and-copies',
    'modified-only': true,
    documents: false,
    'report-recipients': [],
    'on-exit': 'never',
    'before-exchange': true,
    'before-closing': true,
  };
}

export type SettingSource = 'local' | 'common' | 'default';

export interface ResolvedSetting<K extends BackupSettingKey = BackupSettingKey> {
  key: K;
  value: BackupSettings[K];
  source: SettingSource;
  local?: BackupSettings[K];
  common?: BackupSettings[K];
  default: BackupSettings[K];
}

/** R-BK-9 precedence: local wins over common, common over default. Invalid common values are ignored (reported as such). */
export function resolveBackupSettings(
  local: Partial<BackupSettings>,
  common: Partial<Record<BackupSettingKey, unknown>>,
  defaults: BackupSettings,
): { settings: BackupSettings; details: ResolvedSetting[]; ignored: { key: BackupSettingKey; problem: string }[] } {
  const settings = { ...defaults } as Record<BackupSettingKey, unknown>;
  const details: ResolvedSetting[] = [];
  const ignored: { key: BackupSettingKey; problem: string }[] = [];
  for (const key of BACKUP_SETTING_KEYS) {
    let commonValue: unknown;
    if (common[key] !== undefined) {
      const r = BACKUP_SETTING_SCHEMAS[key].safeParse(common[key]);
      if (r.success) commonValue = r.data;
      else ignored.push({ key, problem: r.error.issues[0]?.message ?? 'invalid value' });
    }
    const localValue = local[key];
    const source: SettingSource = localValue !== undefined ? 'local' : commonValue !== undefined ? 'common' : 'default';
    const value = source === 'local' ? localValue : source === 'common' ? commonValue : defaults[key];
    settings[key] = value;
    details.push({ key, value, source, local: localValue, common: commonValue, default: defaults[key] } as ResolvedSetting);
  }
  return { settings: settings as BackupSettings, details, ignored };
}

/** Parses a `settings set KEY VALUE` pair; throws a message naming the key. */
export function parseBackupSetting(key: string, value: string): { key: BackupSettingKey; value: unknown } {
  if (!(BACKUP_SETTING_KEYS as string[]).includes(key)) {
    throw new Error(`unknown setting "${key.slice(0, 60)}": expected one of ${BACKUP_SETTING_KEYS.join(', ')}`);
  }
  const k = key as BackupSettingKey;
  const r = BACKUP_SETTING_SCHEMAS[k].safeParse(value);
  if (!r.success) throw new Error(`${k}: ${r.error.issues[0]?.message ?? 'invalid value'}`);
  return { key: k, value: r.data };
}

export function settingText(value: unknown): string {
  if (Array.isArray(value)) return value.length ? value.join(', ') : '(none)';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// R-BK-2 / R-BK-4 selection
// ---------------------------------------------------------------------------------------------

/** The copy statuses a "which dossiers" setting selects. */
export function copyStatusesFor(which: WhichDossiers): ('original' | 'copy')[] {
  return which === 'originals' ? ['original'] : which === 'copies' ? ['copy'] : ['original', 'copy'];
}

/**
 * Keyset cursor over the selection. R-BK-4: the dossiers the runs since the last full one left not backed up
 * (failed, in use, not attempted: store/backup/selection-sql.ts leftNotBackedUpSql) come first ('priority', in code order), then every other selected dossier ('rest', in code order).
 * A retry run has only the failures of the run it retries ('retry').
 */
export const SELECTION_PHASES = ['priority', 'rest', 'retry'] as const;
export type SelectionPhase = (typeof SELECTION_PHASES)[number];
export interface SelectionCursor {
  phase: SelectionPhase;
  /** last code handed out in this phase ('' before the first) */
  after: string;
}

export function firstCursor(kind: 'run' | 'retry', previousRun: number | null): SelectionCursor {
  if (kind === 'retry') return { phase: 'retry', after: '' };
  return { phase: previousRun === null ? 'rest' : 'priority', after: '' };
}

/** Where the cursor goes once its phase has no more dossiers; undefined: the selection is exhausted. */
export function nextPhase(phase: SelectionPhase): SelectionCursor | undefined {
  return phase === 'priority' ? { phase: 'rest', after: '' } : undefined;
}

/** `--only A,B`: a comma list of dossier codes, deduplicated. */
export const onlyCodesSchema = z
  .string()
  .transform((s) => s.split(',').map((c) => c.trim()))
  // a blank entry is a slip (a list cut short, a variable left empty: `--codes $A,$B`), not nothing: said, as --notify does
  .refine((codes) => codes.every((c) => c === '') || !codes.includes(''), 'expected dossier codes separated by commas, got an empty entry between two commas or at an end')
  .transform((codes) => codes.filter(Boolean))
  .pipe(z.array(dossierCodeSchema).min(1, 'expected at least one dossier code').max(10_000, 'at most 10,000 codes'))
  .transform((codes) => [...new Set(codes)]);

// ---------------------------------------------------------------------------------------------
// Per-dossier outcome, R-BK-7 report, R-BK-8 mail
// ---------------------------------------------------------------------------------------------

/** not_done: not attempted, the batch stopped (a full or unwritable destination, the backup keys missing, a cancellation): taken first next time, R-BK-4 */
export const ITEM_STATUSES = ['ok', 'in_use', 'failed', 'not_done'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** The seed's errors read "Echec du traitement. <why>": other failures are worded the same way. */
export function itemErrorText(message: string): string {
  const oneLine = message.replace(/[\r\n]+/g, ' ').trim().slice(0, 1000);
  return oneLine.startsWith('Echec du traitement') ? oneLine : `Echec du traitement. ${oneLine || 'Erreur inconnue.'}`;
}
export const IN_USE_ERROR_TEXT = DOSSIER_IN_USE_MESSAGE;

/** Errors of the destination itself: nothing more fits or may be written there, for any dossier. */
export const DESTINATION_ERRNOS = ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM'] as const;
export type DestinationErrno = (typeof DESTINATION_ERRNOS)[number];

/** How every French stop reason ends: what to do once the cause is mended (R-BK-4: the dossiers not done go first). */
const STOPPED_THEN_RETRY = 'puis relancez la sauvegarde (nightshift backup retry) : les dossiers non traités seront sauvegardés en premier.';

/** How every English stop reason the worker writes ends (the French one, STOPPED_THEN_RETRY, is what the report says). */
const THEN_RETRY = "then run the backup again (nightshift backup retry): the dossiers not attempted go first";

/**
 * Why the batch stopped on its destination (R-BK-4). Kept on the run in English, as `backup status` and the Web UI say
 * it; the report and the mail say it in French (reportStopReason, R-BK-7, R-BK-8).
 */
export function destinationStopText(dir: string, errno: DestinationErrno): string {
  const full = errno === 'ENOSPC' || errno === 'EDQUOT';
  const todo = full ? 'free space in it (or choose another backup folder)' : 'let the backup service write in it (or choose another backup folder)';
  return `the backup stopped: the backup folder ${dir} ${full ? 'is full' : 'is not writable'} (${errno}); ${todo}, ${THEN_RETRY}`;
}

/** destinationStopText's line, matched whole, to be said in French (test/domain/report-stop-reason.test.ts). */
const DESTINATION_LINE = new RegExp(
  `^the backup stopped: the backup folder (.+) (?:is full|is not writable) \\((${DESTINATION_ERRNOS.join('|')})\\); (?:free space in it|let the backup service write in it) \\(or choose another backup folder\\), ${THEN_RETRY.replace(/[()]/g, '\\$&')}$`,
);

/** R-BK-7, R-BK-8 wording, in French: the report's and the mail's words for destinationStopText. */
function destinationStopFrench(dir: string, errno: DestinationErrno): string {
  const what = errno === 'ENOSPC' || errno === 'EDQUOT' ? `est plein (${errno})` : `n'est pas accessible en écriture (${errno})`;
  const todo =
    errno === 'ENOSPC' || errno === 'EDQUOT'
      ? 'Libérez de la place dans ce dossier (ou choisissez un autre dossier de sauvegarde)'
      : "Donnez au service de sauvegarde le droit d'écrire dans ce dossier (ou choisissez un autre dossier de sauvegarde)";
  return `La sauvegarde a été arrêtée : le dossier de sauvegarde ${dir} ${what}. ${todo}, ${STOPPED_THEN_RETRY}`;
}

/**
 * The worker's own English lines a run can stop with (the run keeps them as they are: `backup status` and the Web UI
 * are English): the backup keys missing where the target's archives are encrypted (archive/keys.ts), the backup folder
 * not the shared store (shared-store/marker.ts refusalLine). Matched whole, so that a reworded line is left as it is
 * rather than half said (test/domain/report-stop-reason.test.ts runs the real lines through them).
 */
const KEYS_MISSING_LINE =
  /^no backup key is given, and the archives of target (\S+) are encrypted \(generation (\d+): key ([^;\s]+)(?:; the kept archives need (.+))?\): give (?:the keys again \(the key file, NIGHTSHIFT_BACKUP_KEYS_FILE or NIGHTSHIFT_BACKUP_KEYS\)|those keys again \((?:the key file (.+) \(NIGHTSHIFT_BACKUP_KEYS_FILE\)|NIGHTSHIFT_BACKUP_KEYS_FILE), or NIGHTSHIFT_BACKUP_KEYS\)), or set NIGHTSHIFT_BACKUP_PLAIN=1 to write plain archives on purpose$/;
const NOT_THE_STORE_LINE =
  /^this worker's backup folder (.+) is not the shared store of target (\S+) \((marker missing|marker different|marker unreadable|folder missing|not a folder)\): mount the shared folder there \(every worker of a target must see the same backup folder, at the same path\), or, if the store moved, copy \.nightshift-store from the old folder into it(?:; the old folder lost: (?:make this one on the new disk, then )?'nightshift store adopt --target \S+' marks (?:this one|it))?(; something other than a folder \(a file\) stands at that path: move it away first)?$/;
const NOT_THE_STORE_WHY: Record<string, string> = {
  'marker missing': 'marqueur .nightshift-store absent',
  'marker different': 'marqueur .nightshift-store différent',
  'marker unreadable': 'marqueur .nightshift-store illisible',
  'folder missing': 'dossier absent',
  'not a folder': 'autre chose qu\'un dossier à ce chemin',
};

/**
 * R-BK-7, R-BK-8: a stop reason as the French report and mail say it. The worker's English lines above are said in
 * French; the French ones (destinationStopText, ENDED_CANCELLED, ENDED_EARLY) and any other text (an unexpected
 * error, an operator's words) stay verbatim: nothing is guessed.
 */
export function reportStopReason(reason: string): string {
  if (reason === ENDED_CANCELLED) return ENDED_CANCELLED_FR;
  if (reason === ENDED_EARLY) return ENDED_EARLY_FR;
  const destination = DESTINATION_LINE.exec(reason);
  if (destination) return destinationStopFrench(destination[1]!, destination[2] as DestinationErrno);
  const keys = KEYS_MISSING_LINE.exec(reason);
  if (keys) {
    const [, target, generation, key, need, file] = keys;
    const needed = need ? ` ; les sauvegardes gardées demandent ${need.replace(/ generation\(s\)\)/g, ' génération(s))')}` : '';
    const where = file ? `le fichier de clés ${file} (NIGHTSHIFT_BACKUP_KEYS_FILE) ou NIGHTSHIFT_BACKUP_KEYS` : 'le fichier de clés, NIGHTSHIFT_BACKUP_KEYS_FILE ou NIGHTSHIFT_BACKUP_KEYS';
    return (
      `La sauvegarde a été arrêtée : aucune clé de sauvegarde n'est donnée, alors que les sauvegardes de la cible ${target} sont chiffrées ` +
      `(génération ${generation} : clé ${key}${needed}). Redonnez ${need ? 'ces' : 'les'} clés (${where}), ` +
      `ou mettez NIGHTSHIFT_BACKUP_PLAIN=1 pour écrire volontairement des sauvegardes non chiffrées, ${STOPPED_THEN_RETRY}`
    );
  }
  const store = NOT_THE_STORE_LINE.exec(reason);
  if (store) {
    const [, folder, target] = store;
    // the third group always takes part in a match
    const why = store[3]!;
    // as refusal() advises: a folder without a marker may be adopted, a missing one made on the new disk first
    const lost =
      why === 'marker missing'
        ? ` ; si l'ancien dossier est perdu, 'nightshift store adopt --target ${target}' marque celui-ci`
        : why === 'folder missing'
          ? ` ; si l'ancien dossier est perdu, créez celui-ci sur le nouveau disque, puis 'nightshift store adopt --target ${target}' le marque`
          : why === 'not a folder'
            ? " ; autre chose qu'un dossier (un fichier) occupe ce chemin : déplacez-le d'abord"
            : '';
    return (
      `La sauvegarde a été arrêtée : le dossier de sauvegarde ${folder} n'est pas, sur ce serveur, le stockage partagé de la cible ${target} ` +
      `(${NOT_THE_STORE_WHY[why]}). Montez-y le dossier partagé (chaque serveur de sauvegarde de la cible doit voir le même dossier de sauvegarde, ` +
      `au même chemin) ou, si le stockage a été déplacé, copiez-y le fichier .nightshift-store de l'ancien dossier${lost}, ${STOPPED_THEN_RETRY}`
    );
  }
  return reason;
}

/**
 * Why a dossier of a run that ended early was not attempted (`backup status`, the Web UI, `backup retry`), and the
 * report's and the mail's French for it (R-BK-7, R-BK-8; runs before session 40 kept the French ones).
 */
export const ENDED_CANCELLED = 'the batch was cancelled';
export const ENDED_EARLY = 'the batch ended early';
const ENDED_CANCELLED_FR = 'La sauvegarde a été annulée avant ce dossier.';
const ENDED_EARLY_FR = "La sauvegarde s'est arrêtée avant ce dossier.";

const NOT_DONE_PREFIX = 'Non traité. ';

export function notDoneErrorText(stopReason: string): string {
  return `${NOT_DONE_PREFIX}${stopReason}`;
}

/**
 * One account of a batch's dossiers (R-OP-1): `backup status` (text and --json `account`), the result of `backup run
 * --wait`, the Web UI's details and the report say the same numbers. Not backed up = in use + failed + not attempted:
 * what the run's `failed`, the report's « en erreur(s) » and the mail's list count (each is taken first next time, R-BK-4);
 * not attempted (not_done) are those a stopped batch never tried, said with the reason it stopped.
 */
export interface BatchAccount {
  total: number;
  ok: number;
  inUse: number;
  failed: number;
  notDone: number;
  notBackedUp: number;
  /** why the dossiers not attempted were not (the stop reason: a full destination, a missing backup key; a cancellation) */
  stopReason: string | null;
}

/** The account from the ledger's counts by status; `selected` when more were selected than have rows (a run still going). */
export function batchAccount(counts: Partial<Record<string, number>>, stopReason: string | null, selected = 0): BatchAccount {
  const ok = counts.ok ?? 0;
  const inUse = counts.in_use ?? 0;
  const failed = counts.failed ?? 0;
  const notDone = counts.not_done ?? 0;
  const total = Math.max(selected, ok + inUse + failed + notDone);
  return { total, ok, inUse, failed, notDone, notBackedUp: inUse + failed + notDone, stopReason: notDone ? stopReason : null };
}

/** A not-done item's error (notDoneErrorText) back to its reason. */
export function notDoneReason(error: string | null | undefined): string | null {
  if (!error) return null;
  return error.startsWith(NOT_DONE_PREFIX) ? error.slice(NOT_DONE_PREFIX.length) : error;
}

/** `0 / 3 dossier(s) backed up; 3 not backed up: 0 in use, 0 failed, 3 not attempted (the batch stopped before them: …)` */
export function batchAccountText(a: BatchAccount): string {
  const why = a.notDone ? ` (the batch stopped before them: ${a.stopReason ?? 'see failures'}; the next run takes them first)` : '';
  return `${a.ok} / ${a.total} dossier(s) backed up; ${a.notBackedUp} not backed up: ${a.inUse} in use, ${a.failed} failed, ${a.notDone} not attempted${why}`;
}

/** R-BK-7: before the two summary lines, the dossiers a stopped batch did not attempt (counted « en erreur(s) »), and why. */
export function reportNotDoneLine(notDone: number, total: number, reason: string | null): string {
  return `${notDone} / ${total} dossier(s) non traité(s), comptés en erreur : ${reportStopReason(reason ?? ENDED_EARLY)}`;
}

/**
 * The report is read in Windows Notepad (seed 003): CRLF line ends, so that every Notepad shows
 * one dossier per line, and UTF-8 without BOM (what Notepad writes and detects since Windows 10),
 * so that "réussi", "traité(s)" survive any code page. Every line, the last included, ends with CRLF.
 */
export const REPORT_EOL = '\r\n';
export const REPORT_ENCODING = 'utf8';

/** A dossier's line; one not attempted says why the batch stopped in French (reportStopReason), as the line after them does. */
export function reportLine(code: string, status: ItemStatus, error: string | null): string {
  if (status === 'ok') return `Dossier ${code} : Traitement réussi`;
  const said = status === 'not_done' && error?.startsWith(NOT_DONE_PREFIX) ? notDoneErrorText(reportStopReason(error.slice(NOT_DONE_PREFIX.length))) : error;
  return `Dossier ${code} : ${said ?? itemErrorText('')}`;
}

/** R-BK-7 summary: `{ok} / {total} dossier(s) traité(s)` then `{failed} / {total} dossier(s) en erreur(s)`. */
export function reportSummaryLines(ok: number, failed: number): [string, string] {
  const total = ok + failed;
  return [`${ok} / ${total} dossier(s) traité(s)`, `${failed} / ${total} dossier(s) en erreur(s)`];
}

export interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The local date and time of an instant in a time zone (the report is named in the worker's local time, like the seed). */
export function localDateTime(instant: Date, timeZone: string): LocalDateTime {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

export function compactTimestamp(t: LocalDateTime): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(t.year, 4)}${p(t.month)}${p(t.day)}-${p(t.hour)}${p(t.minute)}${p(t.second)}`;
}

/** R-BK-7: `svgauto-YYYYMMDD-HHMMSS.txt`, from the run's start; `svgauto-YYYYMMDD-HHMMSS-{run}.txt` when that name is another run's. */
export function reportFileName(t: LocalDateTime, runId?: number): string {
  return `svgauto-${compactTimestamp(t)}${runId === undefined ? '' : `-${runId}`}.txt`;
}
export const REPORT_FOLDER = 'log';

/** R-BK-8 */
export const FAILED_LIST_FILE_NAME = 'Svgauto-DossiersEnErreur.isa';
/**
 * R-BK-8: a run with a problem mails its report only to the report recipients of its settings; with none set, nobody
 * was told, and a status that said only "mail: none" read as if nothing needed telling (drill of 2026-12-05 night).
 * undefined when there is nothing to add (no problem, or recipients set).
 */
export function nobodyToldText(problems: number, mailState: string, recipients: readonly string[]): string | undefined {
  if (!problems || mailState !== 'none' || recipients.length) return undefined;
  return `none: no report recipients are set, so nobody was told (R-BK-8; ${SET_RECIPIENTS_HINT})`;
}

/** How report recipients are set (R-BK-8, R-BK-9): in the target's common settings, or a host's own environment. */
export const SET_RECIPIENTS_HINT = "'nightshift backup settings set report-recipients ops@example.com' or NIGHTSHIFT_BACKUP_REPORT_TO";

/** R-BK-8's subject; `target` (given when the worker serves several targets) follows it in brackets. */
export function mailSubject(appName: string, target?: string): string {
  return `${appName}: Rapport de la sauvegarde des dossiers modifiés${target === undefined ? '' : ` (${target})`}`;
}
export const MAIL_BODY =
  'Des erreurs sont survenues pendant la sauvegarde des dossiers modifiés. Veuillez trouver ci-joint le rapport de traitement ainsi que la liste des dossiers en erreur';

/** The run's final state from its ledger: every selected dossier attempted or not, and the failures. */
export function runState(endedEarly: boolean, failed: number): 'completed' | 'partial' | 'failed' {
  if (endedEarly) return 'failed';
  return failed > 0 ? 'partial' : 'completed';
}

// ---------------------------------------------------------------------------------------------
// Schedules (R-BK-1)
// ---------------------------------------------------------------------------------------------

const CRON_FIELDS: { name: string; min: number; max: number; names?: string[] }[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/** Checks a classic 5-field cron expression before it reaches the server, so that a bad one changes nothing. */
export function cronProblem(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5 || expr.length > 200) return 'expected 5 fields: minute hour day-of-month month day-of-week (e.g. "0 21 * * *")';
  for (const [i, field] of fields.entries()) {
    const spec = CRON_FIELDS[i]!;
    const value = (v: string): number | undefined => {
      if (/^\d{1,2}$/.test(v)) return Number(v);
      const n = spec.names?.indexOf(v.toUpperCase()) ?? -1;
      return n >= 0 ? n + (spec.min === 1 ? 1 : 0) : undefined;
    };
    for (const item of field.split(',')) {
      const m = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/(\d{1,2}))?$/.exec(item);
      if (!m) return `${spec.name}: "${item.slice(0, 20)}" is not a value, range or step`;
      if (m[4] !== undefined && Number(m[4]) < 1) return `${spec.name}: a step must be at least 1`;
      if (m[1] === '*') continue;
      const lo = value(m[2]!);
      const hi = m[3] !== undefined ? value(m[3]) : lo;
      if (lo === undefined || hi === undefined || lo < spec.min || hi > spec.max || lo > hi) {
        return `${spec.name}: "${item.slice(0, 20)}" is outside ${spec.min}-${spec.max}`;
      }
    }
  }
  // a day that never comes (30 February, 31 April): the server takes it and never runs it. With a day of week too,
  // cron runs on either, so only a day of month alone is checked.
  const [, , dom, month, dow] = fields as [string, string, string, string, string];
  if (dom !== '*' && dow === '*') {
    const days = cronFieldValues(dom, 1, 31) ?? [];
    const months = cronFieldValues(month, 1, 12, CRON_FIELDS[3]!.names) ?? [];
    if (!months.some((m) => days.some((d) => d <= DAYS_IN_MONTH[m - 1]!))) {
      return `day of month: "${dom.slice(0, 20)}" never comes in ${month === '*' ? 'any month' : `month "${month.slice(0, 20)}"`}: the schedule would never run`;
    }
  }
  return undefined;
}

/** The most days each month can have (February: 29, in a leap year). */
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The values a cron field names, for fields checked by cronProblem (numbers, names, ranges, steps). */
export function cronFieldValues(field: string, min: number, max: number, names?: string[]): number[] | undefined {
  // a name counts from the field's first value: JAN is 1, SUN is 0
  const value = (v: string) => (/^\d+$/.test(v) ? Number(v) : names && names.includes(v.toUpperCase()) ? names.indexOf(v.toUpperCase()) + min : -1);
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const m = /^(\*|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:\/(\d+))?$/.exec(item);
    if (!m) return undefined;
    const lo = m[1] === '*' ? min : value(m[2]!);
    const hi = m[1] === '*' ? max : m[3] !== undefined ? value(m[3]) : m[4] !== undefined ? max : lo;
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (lo < 0 || hi < lo || step < 1) return undefined;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}


export function isTimeZone(tz: string): boolean {
  if (!tz || tz.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Failure type of a refused second batch (R-BK-1). To be moved into domain/failures.ts by the lead. */
export const BACKUP_ALREADY_RUNNING = FailureType.BackupAlreadyRunning;

/**
 * Why a backup batch does not start beside a patch run, rollback or restore run (store/backup/running-patch-work.ts), and
 * where to follow it: the CLI's refusal and the claim's.
 */
export function batchBesideWorkText(work: { kind: string; id: string | number; workflowId: string }, target: string): string {
  const why =
    work.kind === 'restore run'
      ? `its dossiers would be archived while they are restored; nothing started. Follow it with 'nightshift backup restore --run ${work.id}'`
      : `its dossiers would be archived at mixed patch levels, R-PI-2; nothing started. Follow it with 'nightshift patch status'`;
  return `${work.kind} ${work.id} (${work.workflowId}) is running on ${target}: a backup batch starts once it has ended (${why})`;
}

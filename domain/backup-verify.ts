import { z } from 'zod';
import type { GenerationKind } from './generation';
import { dossierCodeSchema } from './dossier';
import { targetNameSchema } from './target';
import { REPORT_EOL } from './backup-batch';
import { fanOutTuningSchema } from './fan-out-tuning';

/**
 * Verification of kept generations (R-BK-13): its input, the deterministic sample, the report lines
 * (R-BK-7 style) and the mail texts (R-BK-8 style). Pure: no I/O.
 */

export const VERIFY_TRIGGERS = ['manual', 'schedule', 'batch'] as const;
export type VerifyTrigger = (typeof VERIFY_TRIGGERS)[number];

/** By default 5 % of the generations (and at least one per run) are restored into a scratch schema and compared. */
export const DEFAULT_SAMPLE_PERCENT = 5;

/** At most this many parts (`--subset N/T`, `--rotate T`): a part of a thousandth is already a small read. */
export const VERIFY_PARTS_MAX = 1000;

export const backupVerifyInputSchema = z
  .object({
    target: targetNameSchema,
    /** restore and compare every generation, not a sample */
    full: z.boolean().optional(),
    /** only the generations of these dossiers */
    codes: z.array(dossierCodeSchema).min(1).max(10_000).optional(),
    /** only the generations this backup batch run wrote ("after each batch, for what it wrote") */
    backupRunId: z.number().int().positive().optional(),
    samplePercent: z.number().min(0).max(100).optional(),
    /** the sample's seed (default: drawn at the claim, recorded in the run) */
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    /**
     * only one part of every kept generation (restic's `check --read-data-subset n/t`): `part` of `of`, or without
     * `part` the next one in turn after the target's last run in `of` parts (`--rotate`)
     */
    subset: z
      .object({ of: z.number().int().min(2).max(VERIFY_PARTS_MAX), part: z.number().int().min(1).optional() })
      .refine((s) => s.part === undefined || s.part <= s.of, { message: 'the part is one of 1 to the number of parts' })
      .optional(),
    trigger: z.enum(VERIFY_TRIGGERS).optional(),
    tuning: fanOutTuningSchema(),
  })
  .refine((i) => !(i.codes && i.backupRunId !== undefined), { message: 'give either codes or a backup run, not both' })
  .refine((i) => !(i.subset && (i.codes || i.backupRunId !== undefined)), { message: 'a part is one of every kept generation: give it without codes or a backup run' });

/**
 * A part of every kept generation: those whose id divided by `of` leaves `part` − 1 (ids are handed out in order, so
 * each part holds about 1/`of` of them, of every date and dossier). `rotating`: chosen as the next after the target's
 * last run in `of` parts, so that `of` runs in a row read every generation kept throughout.
 */
export interface VerifyPart {
  part: number;
  of: number;
  rotating: boolean;
}

export type VerifyScope = { kind: 'all'; part?: VerifyPart } | { kind: 'run'; runId: number } | { kind: 'codes'; codes: string[] };

/**
 * The part a rotating run reads: the one after `last`, the part of the target's last run in as many parts that was
 * not ended early (a part not read through is read again); the first when there is none.
 */
export const nextRotatingPart = (last: number | null, of: number): number => (last === null || last >= of ? 1 : last + 1);

/** What the CLI, the Web UI and the status say of a part. */
export const verifyPartText = (p: VerifyPart): string =>
  `part ${p.part} of ${p.of} of every kept generation${p.rotating ? ` (--rotate ${p.of}: each run reads the next part, all ${p.of} read every ${p.of} runs)` : ''}`;

/** The report's line for a part (before its summary lines, in the report's language). */
export const verifyPartReportLine = (p: VerifyPart): string =>
  `Vérification partielle : partie ${p.part} sur ${p.of} des sauvegardes conservées${p.rotating ? ` (rotation : chaque vérification lit la partie suivante)` : ''}`;

/**
 * 32-bit FNV-1a then MurmurHash3's finalizer: the same on every machine and every Node version (the sample is
 * redrawn identically from the seed), and well spread over neighbouring ids (FNV-1a alone clusters them).
 */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Whether a generation is restored into a scratch schema: all with full, the run's anchor, else `percent` % drawn from the seed. */
export function inSample(generationId: number, s: { full: boolean; samplePercent: number; seed: number; anchor: number | null }): boolean {
  if (s.full || generationId === s.anchor) return true;
  return (hash32(`${s.seed}:${generationId}`) / 2 ** 32) * 100 < s.samplePercent;
}

/** What the ledger holds per generation (migration 0014): ok and pruned are not problems. */
export const VERIFY_ITEM_STATUSES = ['ok', 'corrupt', 'missing', 'key', 'offsite', 'failed', 'pruned'] as const;
export type VerifyItemStatus = (typeof VERIFY_ITEM_STATUSES)[number];
export const isVerifyProblem = (s: VerifyItemStatus | string): boolean => s !== 'ok' && s !== 'pruned';

/**
 * What a problem says of the archive, for the next step: `key` (the worker lacks the key it was encrypted with, or
 * holds another under that id: the archive is not at fault), `storage` (the off-site storage refused or did not
 * answer while the copy was checked, which only happens once the local archive read back whole), `offsite-only` (the
 * file gone, its copy read back whole), `offsite-unchecked` (the file gone or damaged, its copy not checked: the storage
 * away or no store on the worker), else `archive`
 * (damaged, missing, its off-site copy gone or different, or unreadable: a new backup is the remedy).
 */
export type VerifyProblemCause = 'archive' | 'key' | 'storage' | 'offsite-only' | 'offsite-unchecked' | 'offsite-copy';

/** What a missing file's report line says when its off-site copy read back whole (activities/verify.ts) */
export const OFFSITE_ONLY_MARK = 'vérifiée : une restauration la lit';

/** What a missing file's report line says when its off-site copy could not be checked (the storage away, no store here) */
export const OFFSITE_UNCHECKED_MARK = 'non vérifiée : ';

/** offsite/failures.ts's words for a refusal (credentials, bucket) or an unreachable storage during checkObject ("checking KEY") */
const STORAGE_AWAY = /\boff-site storage (?:[a-z-]+ )+?while checking |\bNIGHTSHIFT_OFFSITE_S3_/;

export function verifyProblemCause(p: { status: string; error: string | null }): VerifyProblemCause {
  if (p.status === 'key') return 'key';
  if (p.status === 'failed' && STORAGE_AWAY.test(p.error ?? '')) return 'storage';
  if (p.status === 'missing' && (p.error ?? '').endsWith(OFFSITE_ONLY_MARK)) return 'offsite-only';
  // the file gone or damaged and its copy not checked: the copy may be whole; a new backup now could let retention prune
  // it (drill D); verify again once the storage answers (tester, 2026-12-08: a damaged older one's dossier was left out)
  if ((p.status === 'missing' || p.status === 'corrupt') && (p.error ?? '').includes(OFFSITE_UNCHECKED_MARK)) return 'offsite-unchecked';
  // the local archive read back whole, its copy gone or different: the copy is to make again, not the backup (drill R,
  // session 39: "back up these dossiers again" was advised, and the batch only copied the same generation again)
  if (p.status === 'offsite') return 'offsite-copy';
  return 'archive';
}

/**
 * The next step of older generations found corrupt, missing or not restorable, with no copy that read back, while the
 * dossier's newest generation is sound: those points in time are lost; nothing repairs them, and a new backup would only
 * add another. `backup list` shows which dates are still there (a restore `--at` such a date reads the one before);
 * retention prunes them in time. `codes` undefined: too many to name.
 */
export function olderLostStep(target: string, codes: string[] | undefined): { text: string; command: string } {
  const whose = codes ? codes.join(', ') : 'some dossiers (see the problems)';
  return {
    text:
      `older generations of ${whose} cannot be read (their newest is sound): those points in time are lost, nothing repairs them and a new backup would not bring them back; ` +
      "'nightshift backup list CODE' shows the dates still kept (a restore --at one of the lost dates reads the one before it); retention prunes them in time",
    command: `nightshift backup list ${codes?.length === 1 ? codes[0] : 'CODE'} --target ${target}`,
  };
}

/** The backup reason whose folder is a kind's (R-BK-9), for the command that takes that kind again. */
const REASON_OF_KIND: Record<GenerationKind, string> = { normal: 'manual', EchangePrest: 'echange-prestataire', Cloture: 'cloture' };

/** The backup of one dossier that writes a generation of that kind (`backup dossier`'s default --reason writes a normal one). */
export function backupDossierCommand(code: string, kind: GenerationKind, target?: string): string {
  const reason = kind === 'normal' ? '' : ` --reason ${REASON_OF_KIND[kind]}`;
  return `nightshift backup dossier ${code}${reason}${target === undefined ? '' : ` --target ${target}`}`;
}

/**
 * The next step of a dossier's newest EchangePrest or Cloture generation found corrupt, missing or not restorable (its
 * newest normal one sound): the batch does not take that event's backup again, and retention keeps the newest of a kind,
 * so nothing mends it by itself. A new one of that kind holds the dossier as it is now: that event's state is lost
 * unless the dossier has not changed since. `lost` undefined: too many to name.
 */
export function newestOfKindLostStep(target: string, lost: { code: string; kind: GenerationKind }[] | undefined): { text: string; command: string } {
  const one = lost?.length === 1 ? lost[0]! : undefined;
  const whose = lost ? lost.map((l) => `${l.code} (${l.kind})`).join(', ') : 'some dossiers (see the problems)';
  return {
    text:
      `the newest EchangePrest / Cloture archive of ${whose} cannot be read, and retention keeps it (the newest of its folder); the nightly batch does not take that kind again: ` +
      "a new backup of that kind ('nightshift backup dossier CODE --reason echange-prestataire|cloture') holds the dossier as it is now, which is that event's state only if nothing changed since; " +
      "'nightshift backup list CODE' shows the archives of that folder still kept",
    command: one ? backupDossierCommand(one.code, one.kind, target) : `nightshift backup list CODE --target ${target}`,
  };
}

/**
 * The next step of older generations whose file is gone or damaged and whose off-site copy read back whole (not the
 * dossier's newest archive): nothing to do. A new backup writes a new generation, it puts no older one's file back; the
 * copy is what a restore of that date reads (tester, 2026-12-08: a damaged one whose copy was whole was called lost,
 * and `restore --at` its date read it). `codes` undefined: too many to name.
 */
export function olderCopiesStep(target: string, codes: string[] | undefined): { text: string; command: string } {
  const whose = codes ? codes.join(', ') : 'some dossiers (see the problems)';
  return {
    text:
      `older generations of ${whose} lost their local file (gone or damaged), but their off-site copies read back whole: ` +
      "'nightshift backup restore CODE --at DATE' reads such a copy; nothing needs doing for them (a new backup would not put those files back)",
    command: `nightshift backup list ${codes?.length === 1 ? codes[0] : 'CODE'} --target ${target}`,
  };
}

/**
 * A generation as the run's problems name it (the CLI, the mail's details, the Web UI): its date in the operator's zone,
 * said (R-OP-1: `backup verify status` names the zone; the Web UI's details said a bare time), and its file's name.
 */
export const generationShownText = (date: string, zone: string, fileName: string): string => `sauvegarde du ${date} ${zone} (${fileName})`;

const STATUS_TEXT: Record<VerifyItemStatus, string> = {
  ok: 'Sauvegarde vérifiée',
  corrupt: 'Sauvegarde corrompue',
  missing: 'Fichier de sauvegarde absent',
  key: 'Clé de chiffrement absente ou incorrecte',
  offsite: 'Copie externe (S3) absente ou différente',
  failed: 'Vérification impossible',
  pruned: 'Sauvegarde supprimée par la rétention pendant la vérification',
};

/** One report line per generation: `Dossier {code} : sauvegarde du {date} ({file}) : {what}`. */
export function verifyReportLine(r: { code: string; date: string; file: string; status: VerifyItemStatus; restored: boolean; error: string | null }): string {
  // an ok line with a reason, said every time: a file gone whose off-site copy is whole (activities/verify.ts), or a
  // local name put back or put right (drill F, session 36: a B{code}.SVG put right read "copie externe seulement")
  const offsiteOnly = (r.error ?? '').includes(OFFSITE_ONLY_MARK) ? ' (copie externe seulement)' : '';
  const what =
    r.status === 'ok'
      ? `${STATUS_TEXT.ok}${r.restored ? ' (restaurée et comparée)' : ''}${r.error ? `${offsiteOnly} : ${r.error}` : ''}`
      : `${STATUS_TEXT[r.status]}. ${r.error ?? ''}`.trim();
  return `Dossier ${r.code} : sauvegarde du ${r.date} (${r.file}) : ${what}`;
}

/** R-BK-7 style summary: `{ok} / {total} sauvegarde(s) vérifiée(s)` then `{problems} / {total} sauvegarde(s) en erreur(s)`. */
/** A run that found no generation in its scope, in the CLI and the Web UI alike (R-OP-1): zeros alone read like a success. */
export const NOTHING_TO_VERIFY = "no kept generation in this scope: nothing was verified (none backed up yet, or all pruned: 'nightshift backup info' shows the store)";

export function verifySummaryLines(ok: number, problems: number, restored: number, o: { selected?: number; stopped?: string | null } = {}): string[] {
  const read = ok + problems;
  // a run stopped early counts against what its scope selected: "0 / 0" would hide the generations it never read
  const total = o.stopped ? Math.max(o.selected ?? read, read) : read;
  return [
    // why it stopped (the backup folder unmounted), as the batch's report says its stop reason
    ...(o.stopped ? [`Vérification interrompue : ${o.stopped}`, `${total - read} / ${total} sauvegarde(s) non vérifiée(s)`] : []),
    // a report of nothing says so in words, not only with zeros: only when the scope selected no backup at all
    // (none taken yet, or all pruned), never for a run that stopped or that selected some
    ...(!o.stopped && read === 0 && (o.selected ?? 0) === 0 ? ['aucune sauvegarde conservée à vérifier dans ce périmètre'] : []),
    `${ok} / ${total} sauvegarde(s) vérifiée(s)`,
    `${problems} / ${total} sauvegarde(s) en erreur(s)`,
    `${restored} sauvegarde(s) restaurée(s) dans un schéma temporaire et comparée(s)`,
  ];
}

/** `svgverif-YYYYMMDD-HHMMSS-{run}.txt` in the same log folder as the batch's `svgauto-…` reports (verify runs may overlap: the run number keeps them apart). */
export function verifyReportFileName(compact: string, runId: number): string {
  return `svgverif-${compact}-${runId}.txt`;
}

/**
 * A problem the run found as an earlier run left it (a generation already recorded corrupt, or its file already
 * recorded missing): still in the report and the run's problems, but no news, so no mail for it (R-BK-13: "mailed
 * like a failed batch", once; an old corrupt generation kept by a monthly slot would mail every night for months).
 */
export const TOLD_MARK = '(signalé déjà) ';
export const isToldProblem = (error: string | null): boolean => (error ?? '').startsWith(TOLD_MARK);

/** R-BK-8 style: a mail only when a generation has a problem. */
export const VERIFY_FAILED_LIST_FILE_NAME = 'Svgverif-DossiersEnErreur.isa';
/** The verification's mail subject; `target` (a worker serving several targets) follows it in brackets, as the batch's. */
export function verifyMailSubject(appName: string, target?: string): string {
  return `${appName}: Rapport de la vérification des sauvegardes${target === undefined ? '' : ` (${target})`}`;
}
export const VERIFY_MAIL_BODY =
  'Des erreurs ont été trouvées pendant la vérification des sauvegardes. Veuillez trouver ci-joint le rapport de vérification ainsi que la liste des dossiers en erreur.';

/** The mail's lead for a run that stopped before reading every generation (the batch's MAIL_BODY, for a verification). */
export const VERIFY_STOPPED_MAIL_BODY =
  "La vérification des sauvegardes s'est arrêtée avant d'avoir tout vérifié. Veuillez trouver ci-joint le rapport de vérification ainsi que la liste des dossiers en erreur";

/**
 * The mail's body: the seed-style lead, then the run's next steps, each with its command, as the CLI prints them
 * (a key the worker lacks or a storage away is no reason to back up again: the mail must not say so to all).
 */
export function verifyMailBody(steps: { text: string; command: string }[], stopped?: string | null): string {
  // a run stopped early says so and why (the backup folder unmounted), as the batch's mail says its stop reason
  const lines = stopped ? [`${VERIFY_STOPPED_MAIL_BODY}.`, '', stopped] : [VERIFY_MAIL_BODY];
  if (steps.length) lines.push('', 'Que faire (next steps) :', ...steps.flatMap((st) => [`- ${st.text}`, `  ${st.command}`]));
  return lines.join(REPORT_EOL);
}

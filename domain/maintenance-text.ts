import { formatDateTime, type WindowState, type WindowType } from './maintenance';
import { patchRunStatusCommand } from './patch';
import { cutoffText, failureReason, timeLeftText } from './maintenance-details';
import { oneLine } from './run-details';

/** Operator-facing texts of a maintenance window (CLI lines, the closing e-mail, R-MW-10). Pure. */

export interface WindowDescribed {
  type: WindowType;
  state: WindowState;
  startsAt: Date;
  endsAt: Date;
  workflowId: string;
  /** when it ended (completed, cancelled), if it did: said beside the planned times */
  finishedAt?: Date | null;
}

/** A window's state in words (in_progress → in progress), as the CLI's `list` and `status` and describeWindow say it; --json keeps the value. */
export const windowStateWords = (state: string): string => state.replace(/_/g, ' ');

export function describeWindow(w: WindowDescribed, timeZone: string): string {
  const s = formatDateTime(w.startsAt, timeZone);
  const e = formatDateTime(w.endsAt, timeZone);
  const f = w.finishedAt ? formatDateTime(w.finishedAt, timeZone) : undefined;
  const ended = f ? `, ended ${f.date === e.date ? f.time : `${f.date} ${f.time}`}` : '';
  return `${w.type} window ${windowStateWords(w.state)} from ${s.date} ${s.time} to ${e.date} ${e.time}${ended} (workflow ${w.workflowId})`;
}

export type MaintenanceMailKind = 'completed' | 'cancelled' | 'failed' | 'overrunning';

export interface MaintenanceMail {
  kind: MaintenanceMailKind;
  to: string[];
  type: WindowType;
  startsAt: string;
  endsAt: string;
  failure?: string;
  /**
   * A cancelled window whose payload ran to its end first (a payload is not cut mid-way): the payload's kind and its
   * run's final state, so that the mail does not say the work was interrupted when it was done.
   */
  payloadEnded?: { kind: string; state: string };
  /**
   * R-PI-11 on failure: a window whose patch run failed dossiers that were then rolled back to their restore point
   * (completed, or failed by its post-checks after): how many, which (the payload's failures, not the post-checks'),
   * and the command that patches them again once fixed (they are below the others).
   */
  rolledBack?: { failed: number; restored: number; retryCommand: string; dossiers?: { code: string; error: string }[] };
  /** Backup batches, patch runs and rollbacks started by hand while the window was in progress, with their state. */
  handRuns?: { kind: string; workflowId: string; state?: string; notDone?: number; notStarted?: number }[];
  /**
   * R-MW-9 the completion mail: the window's payload run as it ended (the window's payload kind, the run's workflow and
   * ledger id, its final state, its dossiers not done, those a patch run stopped by --max-failures, or by its failed
   * supervisor (`supervisorFailed`), did not start), said in one line.
   */
  payloadRun?: { kind: string; workflowId: string; runId?: string; state?: string; notDone?: number; notStarted?: number; supervisorFailed?: boolean };
  /** R-MW-10 the completion mail of a window the operator reopened after a failure: that failure. */
  reopenedAfter?: string;
  /** R-MW-9: work by hand ended by the window's end time, nobody having said `complete` */
  endedAtEnd?: boolean;
  /** A window cancelled at its start before closing anything (its patch payload could not be read): `failure` says why. */
  notStarted?: boolean;
  /** An occurrence of a recurring window refused when it fired (R-MW-2: another window of the target): its Schedule. */
  refusedOccurrence?: string;
  /**
   * A window failed by its payload's dossiers (a backup batch or a patch run that left some not done): which ones
   * (capped) and why, how many in all, and the command that lists every one.
   */
  failedDossiers?: { failed: number; dossiers: { code: string; error: string }[]; listCommand: string };
  /** The completion mail of a window whose payload was not started: less than its cutoff was left before the planned end. */
  payloadNotStarted?: { kind: string; remainingSeconds: number; cutoffSeconds: number };
  /** The planned end passed while these runs of the window still run (kind 'overrunning'): the payload, its rollback. */
  running?: { kind: string; workflowId: string }[];
  /** The planned end passed while the window's sessions were still being closed (kind 'overrunning'): its payload, not yet started. */
  closingSessions?: { payload: string };
  /** R-MW-7: `complete` said before the work began (sessions still being closed): access back, nobody closed by force. */
  completedEarly?: boolean;
}

/** The failed dossiers a mail names (the window carries at most its capped list; the rest is counted). */
const MAIL_DOSSIERS_MAX = 20;

const PAYLOAD_TEXT: Record<string, string> = {
  backup: 'sauvegarde',
  patch: 'intégration des correctifs',
  'backup+patch': 'sauvegarde puis intégration des correctifs',
};

/**
 * The failed dossiers one per line, `- CODE : reason`, then how many more and the command that lists every one (an
 * operator reads the mail at 7 a.m.: which ones, and why). The window carries the run in its retry command only.
 */
function failedDossiersText(dossiers: { code: string; error: string }[], failed: number, listing: string): string {
  if (!dossiers.length) return '';
  const shown = dossiers.slice(0, MAIL_DOSSIERS_MAX);
  const more = failed - shown.length;
  return `\n${shown.map((d) => `- ${d.code} : ${d.error}`).join('\n')}\n${more > 0 ? `(et ${more} autre(s) : ${listing})\n` : ''}`;
}

/** The command that lists every failed dossier of the patch run a retry command names. */
function patchListing(target: string, retryCommand: string): string {
  const run = /--run (\d+)$/.exec(retryCommand)?.[1];
  return run === undefined ? `nightshift patch status --target ${target}` : patchRunStatusCommand(target, Number(run));
}

/** R-PI-11 on failure: what became of the dossiers the patch failed (rolled back, or never touched). */
function rolledBackText(failed: number, restored: number): string {
  if (!restored) return "aucun n'avait été modifié. ";
  if (restored >= failed) return "ils ont été remis dans leur état d'avant le correctif (R-PI-11). ";
  return `${restored} remis dans leur état d'avant le correctif (R-PI-11), les autres n'avaient pas été modifiés. `;
}

/** R-PI-11 on failure: the dossiers the patch failed, what became of them, and the retry; `when` says when to run it. */
function rolledBackBlock(target: string, r: NonNullable<MaintenanceMail['rolledBack']>, when: string): string {
  return (
    `${r.failed} dossier(s) n'ont pas pu recevoir les correctifs : ` +
    rolledBackText(r.failed, r.restored) +
    failedDossiersText(r.dossiers ?? [], r.failed, patchListing(target, r.retryCommand)) +
    `${when}, dans une fenêtre de maintenance : ${r.retryCommand}\n`
  );
}

/** A payload run's final state, as the French mail says it. */
const RUN_STATE_TEXT: Record<string, string> = {
  completed: 'terminé sans erreur',
  partial: 'terminé avec des dossiers en erreur',
  failed: 'en échec',
};

const HAND_RUN_TEXT: Record<string, string> = { backup: 'sauvegarde', patch: 'intégration des correctifs', rollback: 'retour arrière des correctifs' };

/** The runs started by hand in the window (the window linked them, R-PI-2): what the operator reads next to the window's outcome. */
function handRunsText(runs: MaintenanceMail['handRuns']): string {
  if (!runs?.length) return '';
  const lines = runs.map((r) => `- ${HAND_RUN_TEXT[r.kind] ?? r.kind} ${r.workflowId} : ${r.state ? (RUN_STATE_TEXT[r.state] ?? r.state) : 'état inconnu'}${dossiersLeftText(r)}`);
  return `Travaux lancés à la main pendant la fenêtre :\n${lines.join('\n')}\n`;
}

/** R-MW-9: what the payload did, in one line: « Traitement : sauvegarde backup/main/… (n° 8) — terminé sans erreur ». */
function payloadRunText(run: NonNullable<MaintenanceMail['payloadRun']>): string {
  const state = run.state ? (RUN_STATE_TEXT[run.state] ?? `état ${run.state}`) : 'état inconnu';
  return `Traitement : ${PAYLOAD_TEXT[run.kind] ?? run.kind} ${run.workflowId}${run.runId ? ` (n° ${run.runId})` : ''} — ${state}${dossiersLeftText(run)}\n`;
}

/**
 * A run's dossiers left, as `maintenance status` counts them: those not done, then those a patch run did not start
 * (--max-failures stopped it, or its supervisor failed before any other dossier): « (4 dossier(s) non traité(s), 7 non commencé(s) … ) ».
 */
function dossiersLeftText(r: { notDone?: number; notStarted?: number; supervisorFailed?: boolean }): string {
  const why = r.supervisorFailed ? 'car le superviseur a échoué' : "car --max-failures a arrêté l'intégration";
  const counts = [r.notDone ? `${r.notDone} dossier(s) non traité(s)` : '', r.notStarted ? `${r.notStarted} non commencé(s) ${why}` : ''].filter(Boolean);
  return counts.length ? ` (${counts.join(', ')})` : '';
}

export function maintenanceMailText(target: string, mail: MaintenanceMail, appName: string, timeZone: string, now: Date): { subject: string; text: string } {
  const at = formatDateTime(now, timeZone);
  const s = formatDateTime(new Date(mail.startsAt), timeZone);
  const e = formatDateTime(new Date(mail.endsAt), timeZone);
  // with its article: « L'installation », not « La installation »
  const what = mail.type === 'database' ? 'La maintenance de la base de données' : "L'installation de la nouvelle version";
  const period = `Fenêtre prévue du ${s.date} à ${s.time} au ${e.date} à ${e.time} (cible ${target}).`;
  const status = `nightshift maintenance status --target ${target}`;
  switch (mail.kind) {
    case 'overrunning':
      return {
        subject: `[${appName}] Maintenance en dépassement (${target}) : service toujours fermé`,
        text:
          (mail.closingSessions
            ? `${what} dépasse sa fin prévue du ${e.date} à ${e.time} : la fermeture des sessions des utilisateurs est toujours en cours ; ` +
              `le traitement (${PAYLOAD_TEXT[mail.closingSessions.payload] ?? mail.closingSessions.payload}) n'a pas encore commencé.\n`
            : `${what} dépasse sa fin prévue du ${e.date} à ${e.time} : son traitement est toujours en cours.\n`) +
          (mail.running ?? []).map((r) => `En cours : ${PAYLOAD_TEXT[r.kind] ?? HAND_RUN_TEXT[r.kind] ?? r.kind} ${r.workflowId}\n`).join('') +
          `${appName} reste fermé : les connexions sont toujours refusées. Le traitement n'est pas interrompu ; l'accès revient à sa fin, après les vérifications, et un e-mail le dira.\n` +
          `Suivre : ${status}\n` +
          `Annoncer une nouvelle heure de fin aux utilisateurs : nightshift maintenance extend --target ${target} --by 30m\n` +
          `${period}\n`,
      };
    case 'completed':
      return {
        subject: `[${appName}] Maintenance terminée${mail.payloadNotStarted ? ' sans traitement' : ''} (${target})`,
        text:
          `${what} est terminée. ${appName} est à nouveau disponible depuis le ${at.date} à ${at.time}.\n` +
          (mail.payloadNotStarted
            ? `Traitement (${PAYLOAD_TEXT[mail.payloadNotStarted.kind] ?? mail.payloadNotStarted.kind}) non lancé : il restait ${timeLeftText(mail.payloadNotStarted.remainingSeconds)} avant la fin prévue, ` +
              `moins que la marge de fin de la fenêtre (--cutoff ${cutoffText(mail.payloadNotStarted.cutoffSeconds)}). Rien n'a été modifié ; planifiez une nouvelle fenêtre pour ce traitement.\n`
            : '') +
          (mail.completedEarly
            ? `Terminée avant le début des travaux (nightshift maintenance complete pendant la fermeture des sessions) : aucune session n'a été fermée de force, rien n'a été fait.\n`
            : '') +
          (mail.endedAtEnd ? `Terminée par l'heure de fin prévue : personne n'a indiqué la fin des travaux (nightshift maintenance complete) ; vérifiez qu'ils sont bien finis.\n` : '') +
          (mail.reopenedAfter ? `Rouverte après un échec : ${oneLine(failureReason(mail.reopenedAfter))}\n` : '') +
          (mail.payloadRun ? payloadRunText(mail.payloadRun) : '') +
          (mail.rolledBack ? rolledBackBlock(target, mail.rolledBack, 'Corrigez la cause, puis') : '') +
          handRunsText(mail.handRuns) +
          `${period}\n`,
      };
    case 'cancelled': {
      const p = mail.payloadEnded;
      // the window failed (R-MW-10), then was cancelled: its failure is kept (a window cancelled otherwise carries none)
      const afterFailure = mail.failure !== undefined && !mail.refusedOccurrence && !mail.notStarted;
      const how = mail.refusedOccurrence
        ? `${what} prévue par la récurrence ${mail.refusedOccurrence} n'a pas eu lieu : ${oneLine(failureReason(mail.failure ?? 'cause inconnue'))}. Le service n'a pas été interrompu ; ` +
          `les occurrences suivantes seront refusées de même tant que cette autre fenêtre existe (nightshift maintenance list, nightshift maintenance recur show).`
        : mail.notStarted
        ? `${what} n'a pas commencé : ${oneLine(failureReason(mail.failure ?? 'cause inconnue'))}. Le service n'a pas été interrompu ; corrigez, puis planifiez une nouvelle fenêtre.`
        : afterFailure
        ? // R-MW-12 after R-MW-10: as `maintenance status` and list say it, "cancelled after a failure", the failure named
          `${what} a été annulée après un échec : ${oneLine(failureReason(mail.failure ?? 'cause inconnue'))}.` +
          (p ? ` Le traitement (${PAYLOAD_TEXT[p.kind] ?? p.kind}) était allé à son terme (${RUN_STATE_TEXT[p.state] ?? `état ${p.state}`}).` : '') +
          ` L'accès est rendu sans que cet échec soit résolu : vérifiez ce qu'il touche (${status}).`
        : p
        ? `${what} a été annulée après son traitement : le traitement (${PAYLOAD_TEXT[p.kind] ?? p.kind}) est allé à son terme (${RUN_STATE_TEXT[p.state] ?? `état ${p.state}`}), les vérifications de fin n'ont pas été faites.`
        : `${what} a été interrompue.`;
      // a window that never cut access says nothing of it coming back: another window may hold the target closed
      const back = mail.refusedOccurrence || mail.notStarted ? '' : ` ${appName} est à nouveau disponible depuis le ${at.date} à ${at.time}.`;
      return {
        subject: `[${appName}] Maintenance annulée${afterFailure ? ' après un échec' : ''} (${target})`,
        text: `${how}${back}\n${handRunsText(mail.handRuns)}${period}\n`,
      };
    }
    case 'failed':
      return {
        subject: `[${appName}] ÉCHEC de la maintenance (${target}) : service toujours fermé`,
        text:
          `${what} a échoué le ${at.date} à ${at.time} : ${mail.failure ?? 'cause inconnue'}.\n` +
          (mail.failedDossiers?.dossiers.length
            ? `Dossier(s) en erreur (${mail.failedDossiers.failed}) :` +
              failedDossiersText(mail.failedDossiers.dossiers, mail.failedDossiers.failed, mail.failedDossiers.listCommand)
            : '') +
          // R-PI-11: the payload's failed dossiers were rolled back before the post-checks failed: named, not lost
          (mail.rolledBack ? `Avant les vérifications de fin, ${rolledBackBlock(target, mail.rolledBack, "Une fois l'accès rendu, corrigez leur cause, puis")}` : '') +
          `${appName} reste fermé. Corrigez puis rouvrez : nightshift maintenance reopen --target ${target}\n${handRunsText(mail.handRuns)}${period}\n`,
      };
  }
}
